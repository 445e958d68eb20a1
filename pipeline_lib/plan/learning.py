"""The learning runs of a (view, seed), one function per kind: the runs the methods' fits read (grid pilots,
one-hot runs, proxies with their references, the swarm) and the fidelity study's dynamic-law sweep. Which
kinds a view needs follows from its methods' registry declarations."""

from __future__ import annotations

import dataclasses

from pipeline_lib.config import RunSpec
from pipeline_lib.config.registry import (
    GRID,
    METHODS,
    ONEHOT,
    STRATIFIED,
    SWARM,
    SWARM_PROXY,
    swarm_step,
)
from pipeline_lib.lmo.grids import one_hot_mixtures
from pipeline_lib.plan import paths
from pipeline_lib.plan.jobs import TrainJob


class LearningRuns:
    """Mixed into :class:`~pipeline_lib.plan.planner.Planner`: the learning runs of each kind."""

    def learning_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """Every learning run of a view and seed, in a fixed order (grid, sweep, one-hot, proxies, swarm)."""
        kinds = self.learning_kinds(view)
        fidelity = self.project.law_fidelity and not self.project.settings[view].restricted
        jobs = self._grid_jobs(view, seed) if GRID in kinds or fidelity else []
        jobs += self._dynamic_jobs(view, seed) if fidelity else []
        jobs += self._onehot_jobs(view, seed) if ONEHOT in kinds else []
        jobs += self._proxy_jobs(view, seed)
        return jobs + (self._swarm_jobs(view, seed) if SWARM in kinds else [])

    def _grid_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """Static pilots at the view's grid mixtures (full-length pilots report their test loss: one may be a
        final run)."""
        s, mixtures = self.project.settings[view], self.pilot_mixtures(view, seed)
        fraction, report = self.project.pilots.steps_fraction, self.pilots_are_runs(view)
        train = self.learning_train(view, len(mixtures), fraction, report)
        downstream = self.downstream_eval("test") if report else None  # a pilot may be a final run
        return [
            TrainJob(
                paths.pilot_dir(view, paths.GRID, seed, f"mix{k}"),
                self.static_spec(s, seed, q, train),
                downstream=downstream,
            )
            for k, q in enumerate(mixtures)
        ]

    def _dynamic_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """The dynamic-law sweep: a uniform parent stopped at the break, a child per grid mixture after it."""
        s = self.project.settings[view]
        brk, stop = self.dynamic_steps(view)
        parent = paths.pilot_dir(view, paths.DYNAMIC, seed, "parent")
        jobs = [TrainJob(parent, self.bare_spec(view, STRATIFIED, seed), until=brk, save_state=True)]
        child_train = dataclasses.replace(s.train, test_eval=False)
        return jobs + [
            TrainJob(
                paths.pilot_dir(view, paths.DYNAMIC, seed, f"child{k}"),
                self.static_spec(s, seed, q, child_train),
                init_from=parent,
                until=stop,
            )
            for k, q in enumerate(self.pilot_mixtures(view, seed))
        ]

    def _onehot_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """A run on each group alone (Skill-It's skills graph)."""
        s = self.project.settings[view]
        train = self.learning_train(view, len(s.groups), self.project.pilots.steps_fraction)
        return [
            TrainJob(
                paths.pilot_dir(view, paths.ONEHOT, seed, g), self.static_spec(s, seed, q.tolist(), train)
            )
            for g, q in zip(s.groups, one_hot_mixtures(len(s.groups)), strict=True)
        ]

    def _proxy_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """Each method's proxy run (reading its reference model, if any); restricted, the references too."""
        s, methods = self.project.settings[view], self.project.methods_of(view)
        owners = [(name, m.proxy) for name, m in METHODS.items() if m.proxy is not None and name in methods]
        jobs = [
            TrainJob(
                paths.pilot_dir(view, name, seed),
                self.proxy_spec(view, name, seed),
                reference=self.reference_dir(view, name, seed),
            )
            for name, _ in owners
        ]
        if s.restricted:  # a shortened reference run, sharing the proxy's learning budget
            for proxy in dict.fromkeys(p for _, p in owners if p.reference):
                train = self.learning_train(view, proxy.runs)
                spec = dataclasses.replace(self.bare_spec(view, proxy.reference, seed), train=train)
                jobs.append(TrainJob(paths.pilot_dir(view, paths.REFERENCE, seed), spec, save_state=True))
        return jobs

    def _swarm_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """The proxy swarms, one per sampling the view's methods draw with: smaller models, one per swarm
        mixture, scored in bits per byte on the tasks."""
        samplings = self.swarm_samplings(view)
        return [job for sampling in samplings for job in self._one_swarm(view, seed, sampling)]

    def _one_swarm(self, view: str, seed: int, sampling: str) -> list[TrainJob]:
        s, cfg = self.project.settings[view], self.swarm_config(view, sampling)
        model, train = s.model.with_preset(cfg.proxy_model), self.proxy_train(view, sampling)
        downstream = self.proxy_downstream(cfg)
        return [
            TrainJob(
                paths.pilot_dir(view, paths.swarm_kind(sampling), seed, f"run{k}"),
                RunSpec(s.key, s.groups, SWARM_PROXY, {"index": k}, int(seed), model, train),
                fit=paths.fit_file(view, swarm_step(sampling), seed),
                tasks=cfg.tasks or s.groups,
                downstream=downstream,
            )
            for k in range(self.swarm_size(view, sampling))
        ]

    def design_trained_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """The design swarm's trained mixtures (its trained.json: natural, its best run, the proposals), each
        a proxy at the swarm's scale (model, schedule, tasks) with each of ``design.train_seeds``."""
        design, s, cfg = self.project.design, self.project.settings[view], self.swarm_config(view)
        model, train = s.model.with_preset(cfg.proxy_model), self.proxy_train(view)
        where = paths.design_dir(view, seed)
        return [
            TrainJob(
                f"{where}/{paths.design_trained_run(k, t)}",
                RunSpec(s.key, s.groups, SWARM_PROXY, {"index": k}, int(t), model, train),
                fit=f"{where}/trained.json",
                tasks=cfg.tasks or s.groups,
                downstream=self.proxy_downstream(cfg),
            )
            for k in range(design.n_trained)
            for t in design.train_seeds
        ]
