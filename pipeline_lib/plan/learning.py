"""The learning runs of a (view, seed), one function per kind: the runs the methods' fits read (grid pilots,
one-hot runs, proxies with their references, the swarm) and the fidelity study's dynamic-law sweep. Which
kinds a view needs follows from its methods' registry declarations."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pipeline_lib.config import RunSpec
from pipeline_lib.config.registry import (
    GRID,
    METHODS,
    ONEHOT,
    STRATIFIED,
    SWARM,
    SWARM_PROXY,
    SWARM_STEP,
)
from pipeline_lib.lmo.grids import one_hot_mixtures
from pipeline_lib.plan import paths
from pipeline_lib.plan.jobs import TrainJob

if TYPE_CHECKING:
    from pipeline_lib.plan.planner import Planner


def learning_jobs(plan: Planner, view: str, seed: int) -> list[TrainJob]:
    """Every learning run of a view and seed, in a fixed order (grid, sweep, one-hot, proxies, swarm)."""
    kinds = plan.learning_kinds(view)
    fidelity = plan.project.law_fidelity and not plan.project.settings[view].restricted
    jobs = grid_jobs(plan, view, seed) if GRID in kinds or fidelity else []
    jobs += dynamic_jobs(plan, view, seed) if fidelity else []
    jobs += onehot_jobs(plan, view, seed) if ONEHOT in kinds else []
    jobs += proxy_jobs(plan, view, seed)
    return jobs + (swarm_jobs(plan, view, seed) if SWARM in kinds else [])


def grid_jobs(plan: Planner, view: str, seed: int) -> list[TrainJob]:
    """Static pilots at the view's grid mixtures (full-length pilots report their test loss: one may be a
    final run)."""
    s, mixtures = plan.project.settings[view], plan.pilot_mixtures(view, seed)
    fraction, report = plan.project.pilots.steps_fraction, plan.pilots_are_runs(view)
    train = plan.learning_train(view, len(mixtures), fraction, report)
    return [
        TrainJob(paths.pilot_dir(view, paths.GRID, seed, f"mix{k}"), plan.static_spec(s, seed, q, train))
        for k, q in enumerate(mixtures)
    ]


def dynamic_jobs(plan: Planner, view: str, seed: int) -> list[TrainJob]:
    """The dynamic-law sweep: a uniform parent stopped at the break, a child per grid mixture after it."""
    s = plan.project.settings[view]
    brk, stop = plan.dynamic_steps(view)
    parent = paths.pilot_dir(view, paths.DYNAMIC, seed, "parent")
    jobs = [TrainJob(parent, plan.bare_spec(view, STRATIFIED, seed), until=brk, save_state=True)]
    child_train = dataclasses.replace(s.train, test_eval=False)
    return jobs + [
        TrainJob(
            paths.pilot_dir(view, paths.DYNAMIC, seed, f"child{k}"),
            plan.static_spec(s, seed, q, child_train),
            init_from=parent,
            until=stop,
        )
        for k, q in enumerate(plan.pilot_mixtures(view, seed))
    ]


def onehot_jobs(plan: Planner, view: str, seed: int) -> list[TrainJob]:
    """A run on each group alone (Skill-It's skills graph)."""
    s = plan.project.settings[view]
    train = plan.learning_train(view, len(s.groups), plan.project.pilots.steps_fraction)
    return [
        TrainJob(paths.pilot_dir(view, paths.ONEHOT, seed, g), plan.static_spec(s, seed, q.tolist(), train))
        for g, q in zip(s.groups, one_hot_mixtures(len(s.groups)), strict=True)
    ]


def proxy_jobs(plan: Planner, view: str, seed: int) -> list[TrainJob]:
    """Each method's proxy run (reading its reference model, if any); restricted, the references too."""
    s, methods = plan.project.settings[view], plan.project.methods_of(view)
    owners = [(name, m.proxy) for name, m in METHODS.items() if m.proxy is not None and name in methods]
    jobs = [
        TrainJob(
            paths.pilot_dir(view, name, seed),
            plan.proxy_spec(view, name, seed),
            reference=plan.reference_dir(view, name, seed),
        )
        for name, _ in owners
    ]
    if s.restricted:  # a shortened reference run, sharing the proxy's learning budget
        for proxy in dict.fromkeys(p for _, p in owners if p.reference):
            train = plan.learning_train(view, proxy.runs)
            spec = dataclasses.replace(plan.bare_spec(view, proxy.reference, seed), train=train)
            jobs.append(TrainJob(paths.pilot_dir(view, paths.REFERENCE, seed), spec, save_state=True))
    return jobs


def swarm_jobs(plan: Planner, view: str, seed: int) -> list[TrainJob]:
    """The proxy swarm: smaller models, one per swarm mixture, scored in bits per byte on the tasks."""
    s, cfg = plan.project.settings[view], plan.swarm_config(view)
    model, train = s.model.with_preset(cfg.proxy_model), plan.proxy_train(view)
    return [
        TrainJob(
            paths.pilot_dir(view, paths.SWARM, seed, f"run{k}"),
            RunSpec(s.key, s.groups, SWARM_PROXY, {"index": k}, int(seed), model, train),
            fit=paths.fit_file(view, SWARM_STEP, seed),
            tasks=cfg.tasks or s.groups,
        )
        for k in range(plan.swarm_size(view))
    ]
