"""Downstream tasks through the workflow: final runs score the shipped tasks' test variants, Olmix's proxies
their val variants, Olmix fits one law per task (``objective: tasks``), and the report tables them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline_lib.records import OlmixFit, RunRecord
from pipeline_lib.tasks.shipped import read_manifest
from tests.workflow.helpers import REPO, snakemake, two_seed_pair_config

pytestmark = pytest.mark.slow
CAP = 24
"""The first 24 requests of each task (tasks.max_requests): every task still scored, each job ~1 s sooner."""


def test_olmix_fitted_on_downstream_tasks_end_to_end(tmp_path):
    cfg = two_seed_pair_config(
        tmp_path,
        ["stratified", "olmix"],
        tasks={"set": "shipped", "max_requests": CAP},
        **{"methods.olmix.objective": "tasks"},
    )
    snakemake(tmp_path, cfg)
    results = tmp_path / "results"
    shipped = read_manifest(REPO / "data" / "tasks")["tasks"]
    names = sorted(shipped)  # run.json and fit files keep their keys sorted

    final = RunRecord.read(results / "pair/runs/stratified/seed0/run.json").downstream_result("test")
    assert list(final.tasks) == names and final.task_set == "shipped" and final.wall_time_s > 0
    for name, task in final.tasks.items():
        assert task.n_requests == min(CAP, shipped[name]["splits"]["test"]["requests"]) and 0 < task.bpb < 20
        assert (task.accuracy is not None) == (shipped[name].get("acc_norm") is not None)
    assert sum(t.n_truncated for t in final.tasks.values()) > 0  # context 32: long prompts are cut
    proxy = RunRecord.read(results / "pair/pilots/swarm/seed0/run0/run.json")
    assert list(proxy.downstream) == ["val"] and list(proxy.metric("downstream_bpb")) == names

    fit = OlmixFit.read(results / "pair/fits/olmix/seed0.json")
    assert fit.metric == "downstream_bpb"
    assert [t for t in fit.fit["correlations"] if t != "average"] == names
    metrics = pd.read_csv(results / "pair/fits/olmix/seed0/metrics.csv")
    assert [c for c in metrics.columns if c not in ("run", "name", "index")] == names
    assert set(json.loads((results / "pair/fits/olmix/seed0/correlations.json").read_text())) == {
        *names,
        "average",
    }

    report = results / "report"
    table = pd.read_csv(report / "table2_task_bpb.csv").set_index("method")
    assert (
        table.loc["olmix", "pairs"] == 2 and table.loc["olmix", "delta_lo"] < table.loc["olmix", "delta_hi"]
    )
    numbers = pd.read_csv(report / "table2.csv").set_index("method")  # Table 2's own task-BPB column
    assert numbers.loc["olmix", "task_bpb_pairs"] == 2
    assert numbers.loc["olmix", "task_bpb_delta_lo"] < numbers.loc["olmix", "task_bpb_delta_hi"]
    assert "task BPB" in (report / "table2.md").read_text()
    families = pd.read_csv(report / "task_families.csv")
    assert set(families["family"]) == {"qa", "code", "math", "all"}
