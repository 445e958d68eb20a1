"""The run planner: the training jobs of the shipped configs and the pattern the training rule matches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pipeline_lib.config import load_project
from pipeline_lib.config.types import deep_merge
from pipeline_lib.plan import Planner

REPO = Path(__file__).resolve().parents[2]


def _demo(*overlays: str) -> dict:
    """config.yaml with the three-group setting too (config/demo-abse.yaml), then ``overlays``."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for overlay in ("config/demo-abse.yaml", *overlays):
        cfg = deep_merge(cfg, yaml.safe_load((REPO / overlay).read_text()))
    return cfg


def _plan(*overlays: str) -> Planner:
    return Planner(load_project(_demo(*overlays)))


@pytest.mark.parametrize("overlays", [(), ("config/sample-full.yaml",)])
def test_job_pattern_matches_every_training_job_and_no_other_output(overlays):
    plan = _plan(*overlays)
    pattern = re.compile(plan.job_regex())
    assert plan.train_jobs and all(pattern.fullmatch(job) for job in plan.train_jobs)
    # grid search's selected pilot is another rule's output; fits and tables are not training jobs
    for path in ("as/runs/grid_search/seed0", "as/fits/dml/seed0", "as/tables/perplexity", "data/arxiv"):
        assert not pattern.fullmatch(path), path
    assert pattern.fullmatch("as/restricted/runs/grid_search/seed0")  # restricted: trained on the pick
    assert len(plan.job_regex()) < 1000  # cheap to match against every requested file


def test_jobs_carry_their_inputs_and_flags():
    jobs = _plan().train_jobs
    assert jobs["as/runs/stratified/seed0"].save_state  # DoReMi's reference
    assert jobs["as/pilots/doremi/seed0"].args("R") == "--reference R/as/runs/stratified/seed0/state.pt"
    assert jobs["as/pilots/doremi/seed0"].inputs() == {"reference": "as/runs/stratified/seed0/run.json"}
    skillit = jobs[
        "abse/runs/skillit/seed0"
    ]  # a final run: it scores the demo's tasks with the run's tokenizer
    assert skillit.inputs() == {"fit": "abse/fits/skillit/seed0.json", "tokenizer": "data/tokenizer.json"}
    assert skillit.downstream_inputs() == [
        f"data/tasks/shipped/test/{f}" for f in ("tokens.npy", "items.npy", "tasks.json")
    ]
    parent = jobs["as/pilots/dynamic/seed0/parent"]
    assert parent.save_state and parent.until == 50 and parent.spec.method == "stratified"
    assert jobs["as/restricted/runs/aioli+doge/seed0"].fit == "as/restricted/fits/doge/seed0.json"
    # the same spec numbers the old spec builders made: pilots at grid points, shortened restricted runs
    assert jobs["as/pilots/grid/seed0/mix2"].spec.method_params["proportions"] == (0.3, 0.7)
    assert jobs["as/restricted/pilots/grid/seed0/mix0"].spec.train.steps == 6
    assert jobs["as/restricted/pilots/doge/seed0"].spec.train.steps == 50


def test_olmix_swarm_jobs():
    plan = _plan()
    for view, m in (("as", 2), ("abse", 3)):
        assert plan.swarm_size(view) == 3 * (m + 1)
        runs = plan.learning_runs("swarm", view, 0)
        assert len(runs) == 3 * (m + 1)
        job = plan.train_jobs[runs[-1].removesuffix("/run.json")]
        assert job.spec.method == "olmix_proxy" and job.spec.method_params == {"index": 3 * m + 2}
        # the demo's objective is the downstream tasks: each proxy scores their val variants too
        assert job.inputs() == {
            "fit": f"{view}/fits/olmix_swarm/seed0.json",
            "tokenizer": "data/tokenizer.json",
        }
        assert job.downstream is not None and job.downstream.split == "val"
        groups = plan.project.settings[view].groups
        assert f"--task-bpb {' '.join(groups)} --downstream " in job.args("R") and job.data_groups == groups
        # a smaller model (the nano preset) on half the final run's steps, the target's context
        assert job.spec.model.n_layer == 1 and job.spec.model.d_model == 64 and job.spec.model.context == 128
        assert job.spec.train.steps == 50
        assert plan.proxy_tokens(view) == 50 * 12 * 128 and plan.target_tokens(view) == 100 * 12 * 128
    assert plan.train_jobs["as/runs/olmix/seed0"].fit == "as/fits/olmix/seed0.json"
    assert plan.train_jobs["as/runs/olmix_pilots/seed0"].fit == "as/fits/olmix_pilots/seed0.json"


def test_olmix_tasks_may_be_groups_the_setting_does_not_mix():
    cfg = _demo()
    cfg["methods"]["olmix"]["tasks"] = ["arxiv", "stackexchange", "wikipedia"]
    cfg["settings"] = {"as": cfg["settings"]["as"]}  # no setting mixes wikipedia
    cfg["run"]["settings"] = ["as"]
    plan = Planner(load_project(cfg))
    job = plan.train_jobs["as/pilots/swarm/seed0/run0"]
    assert job.tasks == ("arxiv", "stackexchange", "wikipedia") and "wikipedia" in job.data_groups
    assert "wikipedia" in plan.project.tokenizer_groups  # packed, though no setting mixes it here


def test_one_batch_tokens_is_the_largest_batch_of_the_settings_using_the_group():
    plan = _plan()
    assert plan.one_batch_tokens("arxiv") == 12 * 128 + 1  # the default: batch 12, context 128
    assert plan.one_batch_tokens("klingon") == 0


def test_eval_chunk_tokens_is_the_longest_context_of_the_runs_reading_the_group():
    """One evaluation sequence (model.context + 1) of the longest context of any run reading the group, its
    mixture's or its tasks' (a task group no setting mixes included); the pack step checks val and test."""
    cfg = _demo()
    cfg["methods"]["olmix"]["tasks"] = ["arxiv", "stackexchange", "wikipedia"]
    cfg["settings"] = {"as": cfg["settings"]["as"]}
    cfg["run"]["settings"] = ["as"]
    plan = Planner(load_project(cfg))
    assert plan.eval_chunk_tokens("arxiv") == 128 + 1 and plan.eval_chunk_tokens("wikipedia") == 128 + 1
    assert plan.eval_chunk_tokens("klingon") == 0
    assert plan.pack_checks() == {g: 129 for g in plan.project.tokenizer_groups}


def test_swarm_proxies_validate_only_at_start_and_end():
    """A proxy is read once, at its end: its schedule has no validation pass between."""
    plan = _plan()
    proxies = [job.spec.train for path, job in plan.train_jobs.items() if "/pilots/swarm/" in path]
    final = plan.project.settings["as"].train
    assert proxies and all(t.eval_every == t.steps < final.steps for t in proxies)
    assert final.eval_every < final.steps  # final runs keep their curves


def test_data_parallel_problems_name_what_cannot_split():
    plan = _plan()
    assert plan.data_parallel_problems(2) == [] and plan.data_parallel_problems(3) == []
    assert plan.data_parallel_problems(5)[0].startswith("train.batch_size 12 does not split over 5 GPUs")
    (doge,) = plan.data_parallel_problems(4)  # abse: 4 // 3 = 1 row per group, 3 rows for 4 ranks
    assert doge.startswith("methods.doge.val_batch_size") and "abse/pilots/doge/seed0" in doge
    cfg = _demo()
    cfg["methods"]["doremi"]["reference_microbatch"] = True
    (quirk,) = Planner(load_project(cfg)).data_parallel_problems(2)
    assert quirk.startswith("methods.doremi.reference_microbatch runs single-process only, not over 2 GPUs")
    assert "(2 jobs, e.g. as/pilots/doremi/seed0)" in quirk


def test_regmix_own_sampling_is_a_swarm_of_its_own():
    cfg = _demo()
    shared = Planner(load_project(cfg))
    cfg["methods"]["regmix"] = {"extends": "olmix", "sampling": "regmix"}
    plan = Planner(load_project(cfg))
    for view, m in (("as", 2), ("abse", 3)):
        own = plan.learning_runs("swarm", view, 0, "regmix")
        olmix = plan.learning_runs("swarm", view, 0, "olmix")
        assert len(own) == 3 * (m + 1) and own[0] == f"{view}/pilots/swarm_regmix/seed0/run0/run.json"
        assert olmix == shared.learning_runs("swarm", view, 0, "olmix")  # Olmix's swarm is unchanged
        assert plan.fit_inputs(view, "regmix", 0)["runs"] == own
        assert shared.fit_inputs(view, "regmix", 0)["runs"] == olmix  # sampling olmix: Olmix's proxies
        job = plan.train_jobs[own[-1].removesuffix("/run.json")]
        tokenizer = {"tokenizer": "data/tokenizer.json"}  # the demo's Olmix (so RegMix) fits the tasks
        assert job.inputs() == {"fit": f"{view}/fits/regmix_swarm/seed0.json", **tokenizer}
        assert plan.fit_steps(view)[-2:] == ["olmix_swarm", "regmix_swarm"]
        argv = plan.fit_argv(view, "regmix_swarm", 0, plan.fit_inputs(view, "regmix_swarm", 0), "out.json")
        assert '"sampling": "regmix"' in argv[argv.index("--config") + 1]
    assert len(plan.train_jobs) == len(shared.train_jobs) + 9 + 12  # RegMix's own proxies, counted as its
    pattern = re.compile(plan.job_regex())
    assert all(pattern.fullmatch(job) for job in plan.train_jobs)


def test_design_trained_mixtures_are_proxies_at_the_swarms_scale():
    plan = Planner(load_project(yaml.safe_load((REPO / "config/olmix-design.yaml").read_text())))
    d = plan.project.design
    assert d.n_trained == 2 + 3 * 4 and d.train_k(7, 64) == 24  # 3(m + 1) on the grid (8, 24, 40)
    proxy = plan.train_jobs["m7/pilots/swarm/seed0/run0"]
    tokenizer = {"tokenizer": "data/tokenizer.json"}  # the downstream tasks' byte counts
    for k in (0, d.n_trained - 1):
        for t in (1, 2):
            job = plan.train_jobs[f"design/m7/seed0/trained/row{k}/seed{t}"]
            assert job.spec.method == "olmix_proxy" and job.spec.method_params == {"index": k}
            assert job.spec.seed == t and job.inputs() == {"fit": "design/m7/seed0/trained.json", **tokenizer}
            assert job.spec.model == proxy.spec.model and job.spec.train == proxy.spec.train
            assert job.tasks == proxy.tasks
    trained = [p for p in plan.train_jobs if "/trained/" in p]
    assert len(trained) == 4 * 2 * 14
    pattern = re.compile(plan.job_regex())
    assert all(pattern.fullmatch(p) for p in plan.train_jobs)
    assert not pattern.fullmatch("design/m7/seed0/trained.json") and not pattern.fullmatch("design/m7/seed0")


@pytest.mark.parametrize("objective", ["tasks", "groups"])
def test_design_proxies_score_the_objective(objective):
    """The shipped objective (tasks): the design's swarm and its trained mixtures score the tasks' val
    variants; groups: neither scores a task."""
    cfg = yaml.safe_load((REPO / "config/olmix-design.yaml").read_text())
    assert cfg["methods"]["olmix"]["objective"] == "tasks" and cfg["tasks"]["set"] == "shipped"
    cfg["methods"]["olmix"]["objective"] = objective
    jobs = Planner(load_project(cfg)).train_jobs
    proxy, trained = jobs["m7/pilots/swarm/seed0/run0"], jobs["design/m7/seed0/trained/row3/seed2"]
    if objective == "groups":
        assert trained.downstream is None is proxy.downstream and "--downstream" not in trained.args("R")
        return
    assert trained.downstream is not None and trained.downstream == proxy.downstream
    assert trained.downstream.split == "val" and "--downstream" in trained.args("R")


def test_a_design_analysis_work_is_its_cells_times_m():
    """The shipped design: 30 subsets x 3 K each (K_max = 8 (m + 1)) x m. Its analyses took 152 s (m = 2)
    and 550 s (m = 7): 3.6x; the work's ratio is 3.5x (the sum of the K grids' would be 2.7x)."""
    plan = Planner(load_project(yaml.safe_load((REPO / "config/olmix-design.yaml").read_text())))
    work = plan.design_work()
    assert set(work) == {f"design/m{m}/seed0" for m in (2, 3, 5, 7)}
    assert plan.project.design.k_grid(2, 24) == (3, 9, 15) and plan.project.design.k_grid(7, 64) == (
        8,
        24,
        40,
    )
    assert work["design/m2/seed0"] == 30 * 3 * 2 and work["design/m7/seed0"] == 30 * 3 * 7
    assert _plan().design_work() == {}  # no design configured


def test_a_training_jobs_work_is_the_flops_of_its_steps_and_its_validation():
    """The progress line's ETA spreads training time over this: 100 steps of 12 x 128 tokens and 6 validation
    passes of 64 sequences over 2 groups (a third each); a dynamic child trains from its parent's break."""
    plan = _plan()
    work, jobs = plan.train_work(), plan.train_jobs
    model = jobs["as/runs/stratified/seed0"].spec.model
    per_token = model.context * model.flops_per_token()
    assert work["as/runs/stratified/seed0"] == pytest.approx((100 * 12 + 6 * 64 * 2 / 3) * per_token)
    assert work["as/restricted/pilots/grid/seed0/mix0"] == pytest.approx((6 * 12 + 64 * 2 / 3) * per_token)
    child, parent = jobs["as/pilots/dynamic/seed0/child0"], jobs["as/pilots/dynamic/seed0/parent"]
    steps = child.until - parent.until
    expected = (steps * 12 + (steps // 20 + 1) * 64 * 2 / 3) * per_token
    assert 0 < steps < 50 and work["as/pilots/dynamic/seed0/child0"] == pytest.approx(expected)
    assert set(work) == set(jobs) and all(w > 0 for w in work.values())
