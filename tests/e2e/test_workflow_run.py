"""End to end: the whole chain on the shipped corpus with a tiny config, then a no-op rerun."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from tests.workflow.helpers import snakemake, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e")
    cfg = write_config("config/test/tiny.yaml", workdir)
    snakemake(workdir, cfg)
    return workdir, cfg


def test_every_group_of_every_setting_has_a_finite_perplexity(finished):
    workdir, _ = finished
    results = workdir / "results"
    expected = {"pair": ["arxiv", "stackexchange"], "triple": ["arxiv", "book", "stackexchange"]}
    for setting, groups in expected.items():
        table = pd.read_csv(results / setting / "tables" / "perplexity.csv").set_index("method")
        assert list(table.index) == ["stratified", "static"]
        for group in groups:
            assert table[group].map(math.isfinite).all() and (table[group] > 1).all()
        assert (results / setting / "tables" / "perplexity.md").read_text().startswith(f"# {setting}")
    overview = pd.read_csv(results / "report" / "perplexity.csv").set_index("method")
    assert list(overview.columns) == ["pair", "triple"] and overview.notna().all().all()


def test_run_outputs_are_complete(finished):
    workdir, _ = finished
    run_dir = workdir / "results" / "triple" / "runs" / "static" / "seed0"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["steps"] == 8 and run["tokens"] == 8 * 4 * 32
    assert run["final_mixture"] == {"arxiv": 0.2, "book": 0.3, "stackexchange": 0.5}
    assert set(run["test_ppl"]) == {"arxiv", "book", "stackexchange"}
    curve = pd.read_csv(run_dir / "curve.csv")
    assert sorted(curve["step"].unique()) == [0, 4, 8] and set(curve["group"]) == set(run["groups"])
    meta = json.loads((workdir / "results" / "data" / "arxiv" / "meta.json").read_text())
    assert all(meta["splits"][s]["documents"] > 0 for s in ("train", "val", "test"))


def test_second_run_has_nothing_to_do(finished):
    workdir, cfg = finished
    out = snakemake(workdir, cfg, "-n").stdout
    assert "Nothing to be done" in out
