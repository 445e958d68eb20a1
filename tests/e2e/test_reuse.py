"""End to end: the mixture-reuse experiment on a two-stage sequence (three groups, then one added)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from tests.records import assert_records_read_back
from tests.workflow.helpers import finished_workflow, snakemake

pytestmark = pytest.mark.slow
STRATEGIES = ["natural", "full", "full_reuse", "partial_reuse", "swarm_reuse"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_workflow(tmp_path_factory.mktemp("reuse"), "config/test/reuse.yaml")


def _json(path):
    return json.loads(path.read_text())


def test_every_strategy_has_a_target_run_and_a_row(finished):
    workdir, _ = finished
    report = workdir / "results" / "reuse" / "report"
    table = pd.read_csv(report / "reuse.csv").set_index("strategy")
    assert table.index.tolist() == STRATEGIES
    assert table["bpb"].map(math.isfinite).all() and (table["bpb"] > 0).all()
    # stage 0 (K = ceil(1.5 x 4) = 6) is shared; stage 1 adds github (m = 4): full 8, FullMixtureReuse
    # {existing, github} ceil(1.5 x 3) = 5, PartialMixtureReuse one more column 6, swarm reuse 8 - 6 = 2
    assert table["runs"].tolist() == [0, 6 + 8, 6 + 5, 6 + 6, 6 + 2]
    assert table.loc["full", "saved %"] == 0 and table.loc["full_reuse", "saved %"] > 0
    assert table.loc["full", "TV to full"] == 0
    stages = pd.read_csv(report / "stages.csv").set_index("stage")
    assert stages.loc[1, "update"] == "add github" and stages.loc[1, "runs full_reuse"] == 5
    assert (report / "reuse.png").stat().st_size > 10_000 and "\\toprule" in (
        report / "reuse.tex"
    ).read_text()


def test_full_reuse_keeps_the_first_stages_ratios(finished):
    workdir, _ = finished
    reuse = workdir / "results" / "reuse"
    first = _json(reuse / "stage0" / "shared" / "seed0" / "fit.json")
    plan = _json(reuse / "stage1" / "full_reuse" / "seed0" / "plan.json")
    fit = _json(reuse / "stage1" / "full_reuse" / "seed0" / "fit.json")
    assert plan["columns"] == ["existing", "github"] and fit["groups"][-1] == "github"
    p0, q = np.array(first["proportions"]), np.array(fit["proportions"])
    assert q[:3] / q[:3].sum() == pytest.approx(p0)  # Φ: the frozen ratios survive the update
    assert fit["extra_runs"]["runs"] == first["extra_runs"]["runs"] + fit["stage_runs"]["runs"]
    run = _json(reuse / "stage1" / "full_reuse" / "seed0" / "swarm" / "run0" / "run.json")
    assert run["final_mixture"] == dict(zip(plan["groups"], plan["mixtures"][0], strict=True))
    target = _json(reuse / "targets" / "full_reuse" / "seed0" / "run.json")
    assert target["final_mixture"] == pytest.approx(dict(zip(fit["groups"], fit["proportions"], strict=True)))
    assert set(target["test_task_bpb"]) == {"arxiv", "book", "stackexchange", "github"}
    assert target["extra_runs"]["runs"] == fit["extra_runs"]["runs"]


def test_every_record_of_the_experiment_reads_back_to_its_file(finished):
    workdir, _ = finished
    assert assert_records_read_back(workdir / "results") > 30  # proxies, targets, links' fits and plans


def test_a_rerun_has_nothing_to_do(finished):
    workdir, cfg = finished
    out = snakemake(workdir, cfg, "-n").stdout
    assert "Nothing to be done" in out
