"""The GPU study (bench/gpu_study.py): quick mode end to end on CPU, as a GPU machine would run it (Snakemake
and datasets made unimportable), and its statistics and plan without training."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy.stats import t as student_t

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import gpu_study

BLOCKED = "import sys; sys.modules.update(snakemake=None, datasets=None); import runpy; "


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[dict, str, str]:
    out = tmp_path_factory.mktemp("study") / "study.json"
    argv = ["bench/gpu_study.py", "--quick", "--out", str(out)]
    code = BLOCKED + f"sys.argv = {argv!r}; runpy.run_path('bench/gpu_study.py', run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), out.with_suffix(".md").read_text(), proc.stdout


def t_interval(diffs: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval of paired differences, computed here from scratch."""
    d = np.asarray(diffs)
    half = student_t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half


@pytest.mark.slow
def test_quick_study_trains_every_run_and_compares_each_method(quick):
    summary, _, _ = quick
    assert summary["ok"] and summary["quick"] and summary["device"] == "cpu"
    plan = summary["design"]
    assert plan["methods"] == ["stratified", "aioli", "grid_search"] and plan["seeds"] == 2
    for method in plan["methods"]:
        runs = summary["runs"][method]
        assert sorted(runs) == ["0", "1"]
        for seed, run in runs.items():
            assert run["status"] == "ok" and run["seed"] == int(seed) and run["method"] == method
            assert run["avg_test_ppl"] > 1 and run["tokens"] == plan["tokens_per_run"]
    pilots = summary["pilots"]["runs"]
    assert [p["final_mixture"]["arxiv"] for p in pilots] == pytest.approx(plan["grid"])
    for method in ("aioli", "grid_search"):
        comp = summary["comparisons"][method]
        assert comp["baseline"] == "stratified" and comp["n"] == 2 and comp["seeds"] == [0, 1]
        assert comp["paired_sd_pct"] >= 0 and comp["ppl"]["half_width"] > 0
    t = summary["timing"]
    assert t["runs_ok"] == len(pilots) + 6 and t["runs_skipped"] == t["runs_failed"] == 0


@pytest.mark.slow
def test_intervals_are_recomputed_from_the_per_seed_runs(quick):
    summary, _, _ = quick
    runs = summary["runs"]
    for method in ("aioli", "grid_search"):
        comp = summary["comparisons"][method]
        pairs = [(runs[method][str(s)], runs["stratified"][str(s)]) for s in comp["seeds"]]
        d_ppl = [m["avg_test_ppl"] - b["avg_test_ppl"] for m, b in pairs]
        d_pct = [100 * (m["avg_test_ppl"] - b["avg_test_ppl"]) / b["avg_test_ppl"] for m, b in pairs]
        d_loss = [
            np.mean(list(m["test_loss"].values())) - np.mean(list(b["test_loss"].values())) for m, b in pairs
        ]
        for key, diffs in (("ppl", d_ppl), ("pct", d_pct), ("mean_test_loss", d_loss)):
            mean, lo, hi = t_interval(diffs)
            got = comp[key]
            assert (got["mean"], got["lo"], got["hi"]) == pytest.approx((mean, lo, hi), rel=1e-9, abs=1e-12)
        assert comp["diff_ppl"] == pytest.approx(d_ppl, rel=1e-12)
        assert comp["paired_sd_pct"] == pytest.approx(np.std(d_pct, ddof=1), rel=1e-9)


@pytest.mark.slow
def test_grid_search_trains_on_the_best_pilot_of_its_own_seed(quick):
    summary, _, _ = quick
    pilots = summary["pilots"]["runs"]
    assert {p["seed"] for p in pilots} == {gpu_study.PILOT_SEED}  # never a final run's seed
    best = min(pilots, key=lambda p: np.mean(list(p["val_loss"].values())))
    fit = summary["pilots"]["fits"]["grid_search"]
    assert fit["proportions"] == pytest.approx(list(best["final_mixture"].values()))
    for run in summary["runs"]["grid_search"].values():
        assert list(run["final_mixture"].values()) == pytest.approx(fit["proportions"])


@pytest.mark.slow
def test_the_table_is_written_and_printed(quick):
    summary, markdown, stdout = quick
    assert markdown.strip() in stdout
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| method | seeds |") and len(rows) == 1 + len(summary["design"]["methods"])
    label = summary["comparisons"]["aioli"]["pct"]["label"]
    assert any(r.startswith("| aioli | 2 |") and label in r for r in rows)


def fake_runs(ppl: dict[str, list[float | None]]) -> dict[str, dict[int, dict]]:
    """Runs by method and seed with these perplexities; None: a run that did not finish."""
    out: dict[str, dict[int, dict]] = {}
    for method, values in ppl.items():
        out[method] = {
            s: {"status": "ok", "avg_test_ppl": v, "mean_test_loss": math.log(v)}
            if v is not None
            else {"status": "skipped"}
            for s, v in enumerate(values)
        }
    return out


def test_compare_pairs_only_seeds_both_finished():
    runs = fake_runs(
        {"stratified": [100.0, 200.0, 100.0, None, 50.0], "aioli": [101.0, 202.0, 103.0, 90.0, None]}
    )
    comp = gpu_study.compare(runs, "aioli")
    assert comp["seeds"] == [0, 1, 2] and comp["n"] == 3
    assert comp["diff_ppl"] == [1.0, 2.0, 3.0] and comp["diff_pct"] == pytest.approx([1.0, 1.0, 3.0])
    half = student_t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # diffs 1, 2, 3: mean 2, sd 1
    assert comp["ppl"]["mean"] == pytest.approx(2.0) and comp["ppl"]["half_width"] == pytest.approx(half)
    assert comp["ppl"]["verdict"] == "not resolved"  # 2 - 2.48 < 0
    assert comp["paired_sd_pct"] == pytest.approx(np.std([1, 1, 3], ddof=1))
    assert comp["mean_test_loss"]["mean"] == pytest.approx(np.mean(np.log([101 / 100, 202 / 200, 103 / 100])))
    better = gpu_study.compare(fake_runs({"stratified": [100.0] * 3, "aioli": [98.0, 98.1, 97.9]}), "aioli")
    assert better["pct"]["verdict"] == "better" and better["pct"]["hi"] < 0


def test_seeds_for_one_percent_follow_the_paired_sd():
    big = gpu_study.compare(
        fake_runs({"stratified": [100.0] * 4, "aioli": [97.6, 102.4, 100.0, 100.0]}), "aioli"
    )
    small = gpu_study.compare(
        fake_runs({"stratified": [100.0] * 4, "aioli": [99.5, 100.5, 100.0, 100.0]}), "aioli"
    )
    assert big["seeds_for_1pct"] > small["seeds_for_1pct"] >= 2
    n, sd = big["seeds_for_1pct"], big["paired_sd_pct"]
    assert (
        student_t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        <= 1.0
        < student_t.ppf(0.975, n - 2) * sd / math.sqrt(n - 1)
    )


def test_one_finished_pair_has_no_interval():
    comp = gpu_study.compare(fake_runs({"stratified": [100.0, None], "aioli": [99.0, 98.0]}), "aioli")
    assert comp["n"] == 1 and comp["ppl"]["half_width"] is None and comp["seeds_for_1pct"] is None


def test_the_full_plan_is_the_documented_design():
    from pipeline_lib.config import TrainConfig
    from pipeline_lib.config.methods import AioliConfig
    from pipeline_lib.lmo.grids import grid_mixtures

    args = argparse.Namespace(quick=False, device="cuda", seeds=None, workers=None, budget_s=None,
                              offline=["grid_search"])  # fmt: skip
    plan = gpu_study.design(args)
    assert plan["tokens_per_run"] == 240 * 32 * 128 and plan["seeds"] == 48 and plan["workers"] == 8
    assert (
        plan["runs_planned"] == 9 + 3 * 48 and plan["budget_s"] <= 330
    )  # leaves the last runs time in 6 min
    assert plan["grid"] == pytest.approx(grid_mixtures(2, None, 0)[:, 0].tolist())
    train = TrainConfig(**plan["train"])
    assert AioliConfig(**plan["aioli"]).setting_problems(2, train) == []
    assert train.val_sequences >= 171  # the whole validation split of both groups (103 and 171 chunks)
    assert train.precision == "bf16" and plan["train"]["device"] == "cuda"


def test_a_run_past_the_budget_is_skipped_and_seeds_stay_whole(tmp_path):
    args = argparse.Namespace(
        quick=True, device="cpu", seeds=3, workers=None, budget_s=None, offline=["grid_search"]
    )
    plan = gpu_study.design(args)
    tasks = gpu_study.final_tasks(plan, tmp_path, {"grid_search": {"fit": "fit.json"}})
    assert [(t["seed"], t["method"]) for t in tasks[:3]] == [
        (0, "stratified"),
        (0, "aioli"),
        (0, "grid_search"),
    ]
    assert [t["seed"] for t in tasks] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert all(t["fit"] == ("fit.json" if t["method"] == "grid_search" else None) for t in tasks)
    late = {**tasks[0], "deadline": time.time() - 1}
    result = gpu_study.run_job(late)
    assert result["status"] == "skipped" and not (tmp_path / "runs").exists()
    without_fit = gpu_study.final_tasks(plan, tmp_path, {})
    assert {t["method"] for t in without_fit} == {"stratified", "aioli"}  # a failed fit leaves its method out
