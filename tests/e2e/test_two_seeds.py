"""Two seeds through the workflow: Table 2 with paired intervals, and the claims table they resolve."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import yaml

from pipeline_lib import progress
from pipeline_lib.records import MixtureTrace, RunRecord
from tests.workflow.helpers import job_counts, snakemake, step_forks, two_seed_pair_config

pytestmark = pytest.mark.slow


def test_two_seed_workflow_reports_intervals_and_claims(tmp_path, monkeypatch):
    cfg = two_seed_pair_config(
        tmp_path,
        ["stratified", "aioli"],
    )
    monkeypatch.setenv(progress.EVERY_ENV, "1")  # a progress line every second
    before = step_forks()
    log = snakemake(tmp_path, cfg).stderr
    _check_progress_lines(log)
    work = progress.read_work(tmp_path)  # what the ETA prices the training jobs by, recorded at the start
    assert work is not None and work.rules["design_swarm"] == {}  # no design here
    train = work.rules["train"]
    assert (
        len(train) == job_counts(log)["train"]
        and train["pair/runs/aioli/seed1"] == train["pair/runs/stratified/seed0"] > 0
    )
    if before is not None:  # every training job forked from the tests' shared step server, none started one
        forked = step_forks()[len(before) :]
        assert forked.count("pipeline_lib.train.run") == job_counts(log)["train"] > 0
        assert not (tmp_path / "results" / "logs" / "launcher.log").exists()
    report = tmp_path / "results" / "report"
    table2 = pd.read_csv(report / "table2.csv").set_index("method")
    aioli = table2.loc["aioli"]
    assert aioli["pairs"] == 2 and aioli["delta_lo"] < aioli["delta"] < aioli["delta_hi"]
    assert aioli["delta_label"].count("[") == 1 and aioli["verdict"] in ("better", "worse", "not resolved")
    claims = pd.read_csv(report / "claims.csv").set_index("claim")
    first = claims.loc["Aioli beats stratified in every setting"]
    assert first["verdict"] in ("holds", "contradicted", "not resolved at this scale")
    assert claims.loc["Aioli + X beats X", "verdict"] == "not run"
    assert claims.loc["No other method beats stratified in every setting", "verdict"] == "not run"
    assert "Verdicts from paired 95% t-intervals over 2 seed(s)" in (report / "claims.md").read_text()
    _check_the_answer(tmp_path / "results")


def _check_the_answer(results):
    """The headline names aioli (the only other method) with its mixture, atop Table 2; each seed's exported
    mixture is its run's time-average of p^t, Table 2's mixture their mean."""
    head = pd.read_csv(results / "report" / "headline.csv").set_index("setting")
    assert list(head.index) == ["pair"] and head.loc["pair", "method"] == "aioli"
    assert (
        head.loc["pair", "name"] == "ArXiv/StackExchange"
        and head.loc["pair", "mixture_shown"] == "time-average"
    )
    exported = [json.loads((results / f"pair/mixtures/aioli/seed{s}.json").read_text()) for s in (0, 1)]
    for seed, mixture in enumerate(exported):
        run = RunRecord.read(results / f"pair/runs/aioli/seed{seed}/run.json")
        assert mixture == MixtureTrace.of_run(run).time_average(0, run.steps)
        assert yaml.safe_load((results / f"pair/mixtures/aioli/seed{seed}.yaml").read_text()) == mixture
    mean = sum(m["arxiv"] for m in exported) / 2
    assert head.loc["pair", "p_arxiv"] == pytest.approx(mean, abs=1e-6)  # the CSV keeps 6 digits
    md = (results / "report" / "table2.md").read_text()
    assert md.startswith("# The answer") and f"arxiv {mean:.3f}, stackexchange {1 - mean:.3f}" in md


def _check_progress_lines(log: str) -> None:
    """The workflow's onstart reporter printed progress lines with the run's job total and an ETA."""
    lines = re.findall(r"^progress: (\d+)/(\d+) jobs \(\d+%\), \S+ elapsed, ETA .*$", log, flags=re.M)
    assert lines, log[-3000:]
    total = job_counts(log)["total"]
    assert all(int(m) == total and 0 <= int(n) <= total for n, m in lines)
    assert [int(n) for n, _ in lines] == sorted(int(n) for n, _ in lines)  # done only grows
