"""The mixture-reuse experiment: its config, the planner's jobs and counts, and each link's plan and fit
(on synthetic proxy runs drawn from a known log-linear law, no training)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline_lib.config import ConfigError, load_project
from pipeline_lib.config.reuse import ReuseConfig, Update
from pipeline_lib.lmo import FitSettings, SwarmSettings
from pipeline_lib.olmix.__main__ import main as olmix_main
from pipeline_lib.olmix.propose import SolveSettings, Targets
from pipeline_lib.olmix.reuse import VIRTUAL, choose_partial, map_runs, plan_stage
from pipeline_lib.olmix.sequence import fit_step, plan_step
from pipeline_lib.olmix.swarmio import Priors, Swarm
from pipeline_lib.plan import Planner
from pipeline_lib.records import ReuseFit
from tests.records import write_run

REPO = Path(__file__).resolve().parents[2]


def _project(**reuse):
    cfg = yaml.safe_load((REPO / "config" / "olmix-reuse.yaml").read_text())
    cfg["reuse"] |= reuse
    return load_project(cfg)


def test_the_shipped_sequence_has_its_stages_views_and_one_task_set():
    project = _project()
    r = project.reuse
    assert r.stages == (
        ("arxiv", "book", "stackexchange", "wikipedia"),
        ("arxiv", "book", "stackexchange", "wikipedia", "github", "manpages"),
        ("arxiv", "book", "stackexchange", "wikipedia_long", "github", "manpages"),
        ("arxiv", "book", "stackexchange", "wikipedia_long", "github"),
        ("arxiv", "book_bible", "book_austen", "stackexchange", "wikipedia_long", "github"),
    )
    tasks = {project.settings[r.stage_key(t)].methods["olmix"].tasks for t in range(r.n_stages)}
    assert tasks == {("arxiv", "book", "stackexchange", "wikipedia", "github", "manpages")}
    assert {"wikipedia_long", "book_bible", "book_austen"} <= set(project.tokenizer_groups)
    assert project.run_settings == () and r.seeds == (0, 1, 2)


def test_bad_sequences_are_named():
    with pytest.raises(ConfigError, match=r"reuse.updates\[1\] \(remove zzz\): .*unknown domain"):
        _project(updates=[{"kind": "add", "domains": ["github"]}, {"kind": "remove", "domains": ["zzz"]}])
    with pytest.raises(ConfigError, match=r"reuse.partial.1: \['github'\] are not unaffected"):
        _project(partial={1: ["github"]})
    with pytest.raises(ConfigError, match=r"reuse\.strategies: unknown"):
        _project(strategies=["full", "magic"])
    with pytest.raises(ConfigError, match="fewer than two domains"):
        ReuseConfig.from_dict({"start": ["a", "b"], "updates": [{"kind": "remove", "domains": ["a"]}]})


def test_runs_per_stage_and_strategy():
    """K = 3(m + 1) per full stage; 3(|D_comp| + 2) with reuse (0 at the removal); swarm reuse tops up."""
    plan = Planner(_project())
    new = {s: [n for n, _ in plan.reuse_counts(s)] for s in plan.reuse.strategies}
    assert new == {
        "natural": [0, 0, 0, 0, 0],
        "full": [15, 21, 21, 18, 21],
        "full_reuse": [15, 12, 9, 0, 12],
        "partial_reuse": [15, 15, 12, 0, 15],
        "swarm_reuse": [15, 6, 0, 0, 0],
    }
    assert [pool for _, pool in plan.reuse_counts("swarm_reuse")] == [15, 21, 21, 21, 21]
    jobs = plan.train_jobs
    proxies = [j for j in jobs if "/swarm/run" in j]
    assert len(proxies) == 3 * (15 + 81 + 33 + 42 + 6)  # stage 0's swarm is shared
    assert len([j for j in jobs if j.startswith("reuse/targets/")]) == 3 * 5


def test_reuse_jobs_carry_their_plan_tasks_and_test_split():
    plan = Planner(_project())
    proxy = plan.train_jobs["reuse/stage2/full_reuse/seed1/swarm/run3"]
    assert proxy.fit == "reuse/stage2/full_reuse/seed1/plan.json"
    assert proxy.spec.groups == plan.reuse.stages[2] and proxy.spec.model.n_layer == 1  # nano
    assert "--task-bpb arxiv book stackexchange wikipedia github manpages" in proxy.args("R")
    assert "--task-split" not in proxy.args("R")
    target = plan.train_jobs["reuse/targets/partial_reuse/seed0"]
    assert target.fit == "reuse/stage4/partial_reuse/seed0/fit.json" and target.spec.train.test_eval
    assert "--task-split test" in target.args("R") and target.downstream.split == "test"
    assert plan.reuse_dir(0, "full_reuse", 2) == "reuse/stage0/shared/seed2"
    assert plan.reuse_previous(1, "swarm_reuse", 0) == "reuse/stage0/shared/seed0/fit.json"
    regex = re.compile(plan.job_regex())
    assert all(regex.fullmatch(j) for j in plan.train_jobs)
    assert not regex.fullmatch("reuse/stage1/full/seed0/plan.json")
    assert not regex.fullmatch("reuse/stage1/natural/seed0/swarm/run0")


def test_swarm_reuse_maps_old_runs():
    P = np.array([[0.2, 0.3, 0.5], [0.0, 0.0, 1.0]])
    added, keep = map_runs(P, ("a", "b", "c"), Update("add", ("d",)))
    assert added.tolist() == [[0.2, 0.3, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0]] and keep.all()
    revised, keep = map_runs(P, ("a", "b", "c"), Update("revise", ("a",), ("a2",)))
    assert revised == pytest.approx(np.array([[0.0, 0.375, 0.625], [0.0, 0.0, 1.0]]))  # a2 gets 0
    removed, keep = map_runs(P, ("a", "b", "c"), Update("remove", ("c",)))
    assert removed == pytest.approx(np.array([[0.4, 0.6]])) and keep.tolist() == [True, False]


def test_partial_reuse_picks_the_domain_most_coupled_to_the_new_ones():
    law = {"tasks": ["a", "b", "code"], "domains": ["a", "b"], "t": [[-2.0, 0.1], [0.1, -2.0], [-0.1, -1.5]]}
    chosen, score = choose_partial(law, Update("add", ("code",)), 1)
    assert chosen == ("b",) and score == pytest.approx({"a": 0.1, "b": 1.5})
    # a revised view's task is its parent's (task_of); a removal recomputes nothing
    chosen, _ = choose_partial(law, Update("revise", ("a",), ("a_long",)), 1, {"a_long": "a"})
    assert chosen == ("b",)  # the only unaffected domain
    assert choose_partial(law, Update("remove", ("a",)), 1) == ((), {})


def test_a_frozen_domain_takes_the_virtual_columns_interactions():
    plan = plan_stage("full_reuse", {"a": 0.5, "b": 0.5}, Update("add", ("c",)))
    assert plan.columns == (VIRTUAL, "c")
    assert plan.domain_t(np.array([[1.0, 2.0]])).tolist() == [[1.0, 1.0, 2.0]]


def _law(law_t: dict, q: dict) -> dict[str, float]:
    """Each task's BPB under a known log-linear law at mixture ``q``."""
    return {t: 1.0 + float(np.exp(sum(c.get(d, 0.0) * w for d, w in q.items()))) for t, c in law_t.items()}


def _downstream(bpb: dict[str, float], split: str = "val") -> dict:
    """run.json's ``downstream`` block: one split's scores of tasks with these BPBs."""
    tasks = {
        t: {"family": "qa", "bpb": v, "accuracy": None, "n_requests": 4, "n_truncated": 0, "n_split": 0}
        for t, v in bpb.items()
    }
    return {split: {"task_set": "shipped", "tasks": tasks, "wall_time_s": 1.0}}


def _fake_runs(tmp: Path, plan_file: dict, stage: int, tasks, law_t: dict, downstream_t=None) -> list[str]:
    """run.json files of a link's proxies: metrics from a known law over the stage's domains (and, with
    ``downstream_t``, downstream val scores from another)."""
    paths = []
    for k, q in enumerate(plan_file["mixtures"]):
        q = dict(zip(plan_file["groups"], q, strict=True))
        bpb = _law({t: law_t[t] for t in tasks}, q)
        path = tmp / f"stage{stage}" / "swarm" / f"run{k}" / "run.json"
        run = {"groups": list(q), "mixture": list(q.values()), "task_bpb": bpb, "tokens_trained": 100}
        run |= {"downstream": _downstream(_law(downstream_t, q))} if downstream_t else {}
        paths.append(write_run(path, **run, test_loss=None, flops=10.0, tokens=100))
    return paths


def test_a_two_stage_link_plans_fits_and_expands(tmp_path):
    """Stage 0's shared swarm and fit, then FullMixtureReuse adds a domain: its swarm is over {virtual, new},
    the expanded mixture keeps the frozen ratios, and the cost accumulates."""
    reuse = ReuseConfig.from_dict({"start": ["a", "b"], "updates": [{"kind": "add", "domains": ["c"]}]})
    tokens = {"a": 4e6, "b": 2e6, "c": 2e6}
    priors = Priors.from_tokens(tokens)
    law_t = {"ta": {"a": -2.0, "b": 0.5, "c": 0.2}, "tc": {"a": 0.5, "b": 0.3, "c": -2.0}}
    swarm, fit, solve = SwarmSettings(), FitSettings(n_random=2), SolveSettings(target_tokens=10**6)
    first = plan_step(reuse, 0, "shared", 0, priors, None, (9, 0), swarm, 10**5)
    assert len(first["mixtures"]) == 9 and first["columns"] == ["a", "b"]
    runs = _fake_runs(tmp_path, first, 0, ("ta", "tc"), law_t)
    fit0 = fit_step(reuse, 0, "shared", priors, first, None, None, runs, fit, solve, tmp_path / "fit0")
    assert fit0.extra_runs.to_dict() == {"runs": 9, "tokens": 900, "flops": 90.0} and fit0.groups == (
        "a",
        "b",
    )
    ReuseFit.from_dict(fit0.to_dict() | {"seed": 0}).write(tmp_path / "fit0.json")
    fit0 = ReuseFit.read(tmp_path / "fit0.json")  # as the next link reads it
    second = plan_step(reuse, 1, "full_reuse", 0, priors, fit0, (9, 9), swarm, 10**5)
    assert second["columns"] == [VIRTUAL, "c"] and len(second["mixtures"]) == 9
    for r, q in zip(second["column_mixtures"], second["mixtures"], strict=True):
        assert q[0] / q[1] == pytest.approx(fit0.proportions[0] / fit0.proportions[1])
        assert q[2] == pytest.approx(r[1])
    runs = _fake_runs(tmp_path, second, 1, ("ta", "tc"), law_t)
    fit1 = fit_step(reuse, 1, "full_reuse", priors, second, fit0, None, runs, fit, solve, tmp_path / "fit1")
    q = np.array(fit1.proportions)
    assert q.sum() == pytest.approx(1) and q[0] / q[1] == pytest.approx(
        fit0.proportions[0] / fit0.proportions[1]
    )
    assert fit1.extra_runs.runs == 18 and fit1.stage_runs.runs == 9 and fit1.extra_runs.flops == 180.0
    assert np.array(fit1.domain_law["t"]).shape == (2, 3) and fit1.seed is None
    natural = fit_step(reuse, 1, "natural", priors, None, None, None, [], fit, solve, tmp_path / "n")
    assert natural.proportions == pytest.approx([0.5, 0.25, 0.25]) and natural.extra_runs.runs == 0
    assert (
        natural.to_dict()["extra_runs"]
        == natural.to_dict()["stage_runs"]
        == {"runs": 0, "tokens": 0, "flops": 0.0}
    )


def test_a_link_fits_the_metrics_of_its_objective(tmp_path):
    """methods.olmix.objective reaches the reuse: the groups' BPB favour a, the downstream tasks' favour b,
    and each fit proposes (and keeps the law of) what it was given, the command as the step in process; both
    metrics are the groups' columns, then the tasks'; task families shape the law's rows."""
    reuse = ReuseConfig.from_dict({"start": ["a", "b"], "updates": [{"kind": "add", "domains": ["c"]}]})
    priors = Priors.from_tokens({"a": 4e6, "b": 4e6, "c": 2e6})
    groups_t = {"ta": {"a": -2.0, "b": 0.5}, "tb": {"a": -1.0, "b": 0.2}}
    tasks_t = {"d1": {"a": 0.5, "b": -2.0}, "d2": {"a": 0.2, "b": -1.5}}
    fit, solve = FitSettings(n_random=2), SolveSettings(kl_weight=0.01, target_tokens=10**6)
    plan = plan_step(reuse, 0, "shared", 0, priors, None, (9, 0), SwarmSettings(), 10**5)
    runs = _fake_runs(tmp_path, plan, 0, ("ta", "tb"), groups_t, tasks_t)

    def link(name: str, **how):
        return fit_step(
            reuse, 0, "shared", priors, plan, None, None, runs, fit, solve, tmp_path / name, **how
        )

    # the step's command reads the objective from methods.olmix: here the tasks
    priors.write(tmp_path / "priors.json")
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    config = {"objective": "tasks", "n_random": 2, "kl_weight": 0.01}
    experiment = {"start": ["a", "b"], "updates": [{"kind": "add", "domains": ["c"]}]}
    olmix_main([
        "reuse-fit", "--experiment", json.dumps(experiment), "--strategy", "shared", "--stage", "0",
        "--priors", str(tmp_path / "priors.json"), "--config", json.dumps(config), "--plan",
        str(tmp_path / "plan.json"), "--target-tokens", str(10**6), "--out", str(tmp_path / "tasks.json"),
        "--runs", *runs,
    ])  # fmt: skip
    groups, tasks = link("groups"), ReuseFit.read(tmp_path / "tasks.json")
    assert groups.mixture["a"] > 0.6 and tasks.mixture["b"] > 0.6
    assert groups.domain_law["tasks"] == ["ta", "tb"] and tasks.domain_law["tasks"] == ["d1", "d2"]
    same = link("tasks", metrics=["downstream_bpb"])  # the command fits as the step does
    assert same.domain_law["tasks"] == ["d1", "d2"] and tasks.mixture == pytest.approx(same.mixture)
    both = ["task_bpb", "downstream_bpb"]
    assert link("both", metrics=both).domain_law["tasks"] == ["ta", "tb", "d1", "d2"]  # groups', then tasks'
    family = link("family", metrics=both, targets=Targets(families={"qa": ["d1", "d2"], "g": ["ta"]}))
    assert family.domain_law["tasks"] == ["qa", "g"] and np.array(family.domain_law["t"]).shape == (2, 2)


def _proxies(cfg: dict) -> list:
    """The reuse proxies' training jobs of a config."""
    return [job for path, job in Planner(load_project(cfg)).train_jobs.items() if "/swarm/run" in path]


def test_reuse_proxies_score_the_objective_and_the_reuse_runs_the_papers_units():
    """objective: tasks gives every reuse proxy the task set's val variants (groups: none); a regressor,
    proposer or sampling the reuse cannot run is a config error naming it."""
    cfg = yaml.safe_load((REPO / "config" / "olmix-reuse.yaml").read_text())
    assert cfg["methods"]["olmix"]["objective"] == "tasks"  # the shipped experiment: the paper's
    jobs = _proxies(cfg)
    assert jobs and all(job.downstream is not None and job.downstream.split == "val" for job in jobs)
    assert "--downstream" in jobs[0].args("R")
    cfg["methods"]["olmix"] |= {"objective": "groups"}
    assert all(job.downstream is None for job in _proxies(cfg))
    units = {"regressor": "lightgbm", "proposer": "search"}  # exact needs log_linear: a check of its own
    for change, key in (
        (units, "regressor"),
        ({"proposer": "search"}, "proposer"),
        ({"sampling": "regmix"}, "sampling"),
    ):
        bad = cfg | {"methods": {"olmix": cfg["methods"]["olmix"] | change}}
        with pytest.raises(
            ConfigError, match=rf"methods.olmix.{key}: the mixture reuse .* got '{change[key]}'"
        ):
            load_project(bad)


def test_swarm_files_may_name_a_task_as_a_domain(tmp_path):
    """A task named as a domain (a group's own validation split) keeps both columns apart."""
    swarm = Swarm(
        ("r0", "r1"), ("a", "b"), np.array([[0.3, 0.7], [0.6, 0.4]]), ("a", "b"), np.array([[1, 2], [3, 4.0]])
    )
    swarm.write(tmp_path / "ratios.csv", tmp_path / "metrics.csv")
    back = Swarm.read(tmp_path / "ratios.csv", tmp_path / "metrics.csv")
    assert back.P.tolist() == swarm.P.tolist() and back.Y.tolist() == swarm.Y.tolist()


@pytest.mark.parametrize("strategies", [["natural", "full_reuse"], ["full", "swarm_reuse"]])
def test_the_report_takes_any_subset_of_strategies(tmp_path, strategies):
    """Without full recomputation (or natural) the columns that compare with it stay blank."""
    from pipeline_lib.olmix.reuse_report import write_reuse_report

    fits, targets = [], []
    for s in strategies:
        for seed in (0, 1):
            link = tmp_path / "stage0" / ("natural" if s == "natural" else "shared") / f"seed{seed}"
            link.mkdir(parents=True, exist_ok=True)
            cost = {"runs": 0 if s == "natural" else 4, "tokens": 10, "flops": 0.0 if s == "natural" else 8.0}
            fit = {"method": "olmix", "stage": 0, "strategy": s, "seed": seed, "groups": ["a", "b"]}
            fit |= {"proportions": [0.4, 0.6], "natural": [0.5, 0.5], "stage_runs": cost, "extra_runs": cost}
            (link / "fit.json").write_text(json.dumps(fit | {"update": "start"}))
            fits.append(str(link / "fit.json"))
            run = tmp_path / "targets" / s / f"seed{seed}" / "run.json"
            bpb = {"a": 1.0 + 0.01 * seed + 0.02 * strategies.index(s), "b": 2.0}
            record = {"seed": seed, "test_task_bpb": bpb, "avg_test_ppl": 10.0, "extra_runs": cost}
            targets.append(write_run(run, mixture=[0.4, 0.6], **record))
    write_reuse_report(sorted(set(fits)), targets, tmp_path / "report" / "reuse")
    table = (tmp_path / "report" / "reuse.md").read_text()
    assert all(f"| {s} |" in table for s in strategies)
    assert (tmp_path / "report" / "reuse.png").stat().st_size > 10_000
    assert "test-task BPB" not in table  # no tasks: block, no column


def test_the_reuse_targets_score_the_task_set_and_the_table_shows_it(tmp_path):
    from pipeline_lib.olmix.reuse_report import strategy_rows, target_frame

    paths = []
    for s, seed, task_bpb in (("natural", 0, 3.0), ("natural", 1, 3.2), ("full", 0, 2.9), ("full", 1, 3.0)):
        downstream = _downstream({"t": task_bpb}, "test")
        record = {"seed": seed, "test_task_bpb": {"a": 1.0, "b": 2.0}, "avg_test_ppl": 10.0}
        record["extra_runs"] = {"runs": 4, "tokens": 10, "flops": 8.0}
        paths.append(write_run(tmp_path / s / f"seed{seed}" / "run.json", downstream=downstream, **record))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # full gains nothing on the groups: its kept % is NaN, not 0/0
        rows = strategy_rows(target_frame(paths), ["natural", "full"])
    assert rows.loc["natural", "task bpb"] == pytest.approx(3.1) and rows.loc[
        "full", "task bpb"
    ] == pytest.approx(2.95)
    assert rows.loc["full", "task gain %"] == pytest.approx((100 * 0.1 / 3.0 + 100 * 0.2 / 3.2) / 2)
    assert rows.loc["full", "task kept %"] == pytest.approx(100) and np.isnan(rows.loc["full", "kept %"])
    assert rows.loc["full", "gain %"] == 0
    cfg = yaml.safe_load((REPO / "config" / "olmix-reuse.yaml").read_text()) | {"tasks": {"set": "shipped"}}
    plan = Planner(load_project(cfg))
    targets = [job for path, job in plan.train_jobs.items() if "/targets/" in path]
    assert targets and all(job.downstream is not None and job.downstream.split == "test" for job in targets)
