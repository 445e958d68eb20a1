"""End to end: the whole chain on the shipped corpus with a tiny config, then a no-op rerun."""

from __future__ import annotations

import json
import math

import numpy as np
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
        assert list(table.index) == [
            "stratified", "static", "grid_search", "dml", "aioli", "skillit", "doremi", "doge"
        ]  # fmt: skip
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


def test_offline_methods_and_fidelity(finished):
    workdir, _ = finished
    results = workdir / "results"
    for setting, n_pilots in (("pair", 9), ("triple", 4)):
        table = pd.read_csv(results / setting / "tables" / "perplexity.csv").set_index("method")
        assert (
            table.loc["grid_search", "extra_runs"] == n_pilots and table.loc["dml", "extra_runs"] == n_pilots
        )
        assert table.loc["stratified", "extra_runs"] == 0
        dml = json.loads((results / setting / "fits" / "dml" / "seed0.json").read_text())
        assert sum(dml["proportions"]) == pytest.approx(1.0) and len(dml["runs"]) == n_pilots
        run = json.loads((results / setting / "runs" / "dml" / "seed0" / "run.json").read_text())
        assert list(run["final_mixture"].values()) == pytest.approx(dml["proportions"])
        gs = json.loads((results / setting / "fits" / "grid_search" / "seed0.json").read_text())
        chosen = min(gs["candidates"], key=lambda c: c["avg_val_loss"])
        assert gs["proportions"] == chosen["mixture"]
        fidelity = json.loads((results / setting / "fits" / "fidelity" / "seed0.json").read_text())
        assert fidelity["dynamic"]["break_step"] == 4 and fidelity["dynamic"]["child_steps"] == 2
        assert math.isfinite(fidelity["static"]["fit"]["r2_mean"])
    report = pd.read_csv(results / "report" / "fidelity.csv").set_index("setting")
    assert list(report.index) == ["pair", "triple"]


def test_aioli_trace(finished):
    workdir, _ = finished
    for setting, m in (("pair", 2), ("triple", 3)):
        run = json.loads(
            (workdir / "results" / setting / "runs" / "aioli" / "seed0" / "run.json").read_text()
        )
        rounds = run["method_summary"]["rounds"]
        assert [r["step"] for r in rounds] == [0, 4]  # one round per 4 steps, LearnParams m steps each
        assert (
            run["method_summary"]["lp_steps"] == 2 * m
            and run["steps"] == 8
            and run["extra_runs"]["runs"] == 0
        )
        for r in rounds:
            assert np.asarray(r["A"]).shape == (m, m) and sum(r["p"]) == pytest.approx(1.0)
        mixture = pd.read_csv(workdir / "results" / setting / "runs" / "aioli" / "seed0" / "mixture.csv")
        assert mixture["step"].tolist() == [0, m, 4 + m]  # uniform, then p after each LearnParams


def test_online_baselines(finished):
    workdir, _ = finished
    for setting, m in (("pair", 2), ("triple", 3)):
        results = workdir / "results" / setting
        table = pd.read_csv(results / "tables" / "perplexity.csv").set_index("method")
        assert table.loc[["skillit", "doremi", "doge"], "extra_runs"].tolist() == [m, 2, 1]
        graph = json.loads((results / "fits" / "skillit" / "seed0.json").read_text())
        assert np.asarray(graph["graph"]).shape == (m, m) and len(graph["runs"]) == m
        skillit = json.loads((results / "runs" / "skillit" / "seed0" / "run.json").read_text())
        assert [t["step"] for t in skillit["method_summary"]["trace"]] == [0, 4]  # update every 4 steps
        assert (results / "runs" / "stratified" / "seed0" / "state.pt").exists()  # DoReMi's reference
        for method in ("doremi", "doge"):
            fit = json.loads((results / "fits" / method / "seed0.json").read_text())
            assert sum(fit["proportions"]) == pytest.approx(1.0) and len(fit["trace"]) == 8
            proxy = json.loads((results / "pilots" / method / "seed0" / "run.json").read_text())
            assert proxy["method"] == f"{method}_proxy" and proxy["steps"] == 8
            run = json.loads((results / "runs" / method / "seed0" / "run.json").read_text())
            assert list(run["final_mixture"].values()) == pytest.approx(fit["proportions"])


def test_second_run_has_nothing_to_do(finished):
    workdir, cfg = finished
    out = snakemake(workdir, cfg, "-n").stdout
    assert "Nothing to be done" in out
