"""The mixture-reuse experiment's part of the planner: each stage's links (a chain per strategy), their new
proxies, and each strategy's target run on the last stage's mixture."""

from __future__ import annotations

import dataclasses

from pipeline_lib.config import RunSpec
from pipeline_lib.config.registry import SWARM_PROXY
from pipeline_lib.config.reuse import ReuseConfig
from pipeline_lib.lmo.swarm import swarm_size
from pipeline_lib.olmix.reuse import plan_stage
from pipeline_lib.plan import paths
from pipeline_lib.plan.jobs import TrainJob


class ReusePlanning:
    """Mixed into :class:`~pipeline_lib.plan.planner.Planner`: the reuse experiment's paths, counts, jobs."""

    @property
    def reuse(self) -> ReuseConfig:
        if self.project.reuse is None:
            raise ValueError("the configuration has no reuse: block")
        return self.project.reuse

    def reuse_dir(self, stage: int | str, strategy: str, seed: int | str) -> str:
        """A stage's directory for a strategy and seed (stage 0: shared by every strategy but natural)."""
        return paths.reuse_dir(stage, ReuseConfig.chain(int(stage), strategy), seed)

    def reuse_counts(self, strategy: str) -> list[tuple[int, int]]:
        """(new runs, runs in the fit) per stage: the plans' counts, which need only the domain names (a
        swarm-reuse stage fits its new runs and every run of the previous stage, mapped)."""
        key = ("reuse", strategy)
        if key in self._cache:
            return self._cache[key]
        r, factor = self.reuse, self.swarm_config(self.reuse.stage_key(0)).swarm_factor
        if strategy == "natural":
            counts = [(0, 0)] * r.n_stages
        else:
            first = swarm_size(len(r.stages[0]), factor, r.pow2)
            counts = [(first, first)]
        for t, update in enumerate(r.updates if strategy != "natural" else (), start=1):
            previous = dict.fromkeys(r.stages[t - 1], 1 / len(r.stages[t - 1]))
            kept = [d for d in r.stages[t] if d in previous]
            partial = r.given_partial(t, strategy)
            if partial is None:  # chosen at run time: the count is all a plan's size depends on
                partial = tuple(kept[: r.partial_count])
            plan = plan_stage(strategy, previous, update, partial, counts[-1][1], factor, r.pow2)
            counts.append((plan.runs, plan.runs + plan.mapped_runs))
        self._cache[key] = counts
        return counts

    def reuse_plan_counts(self, stage: int | str, chain: str) -> tuple[int, int]:
        """A link's (new runs, runs of the previous link its swarm reuse maps)."""
        t = int(stage)
        if chain == "natural":
            return 0, 0
        counts = self.reuse_counts("full" if t == 0 else chain)
        return counts[t][0], counts[t - 1][1] if t else 0

    def reuse_runs(self, stage: int | str, chain: str, seed: int | str) -> list[str]:
        """The run.json files of a link's new proxies."""
        new = self.reuse_plan_counts(stage, chain)[0]
        return [f"{self.reuse_dir(stage, chain, seed)}/swarm/run{k}/run.json" for k in range(new)]

    def reuse_previous(self, stage: int | str, chain: str, seed: int | str) -> str | None:
        """The previous link's fit.json (none at stage 0)."""
        t = int(stage)
        return f"{self.reuse_dir(t - 1, chain, seed)}/fit.json" if t else None

    def reuse_jobs(self, seed: int) -> list[TrainJob]:
        """Every stage's new proxies (once per chain) and the target run of each strategy."""
        r, jobs = self.reuse, []
        for t in range(r.n_stages):
            key = r.stage_key(t)
            s, cfg = self.project.settings[key], self.swarm_config(key)
            model, train = s.model.with_preset(cfg.proxy_model), self.proxy_train(key)
            downstream = self.proxy_downstream(cfg)
            for chain in r.chains(t):
                base, new = self.reuse_dir(t, chain, seed), self.reuse_plan_counts(t, chain)[0]
                jobs += [
                    TrainJob(
                        f"{base}/swarm/run{k}",
                        RunSpec(s.key, s.groups, SWARM_PROXY, {"index": k}, int(seed), model, train),
                        fit=f"{base}/plan.json",
                        tasks=cfg.tasks or s.groups,
                        downstream=downstream,
                    )
                    for k in range(new)
                ]
        s = self.project.settings[r.stage_key(r.final)]
        (method, cfg), train = next(iter(s.methods.items())), dataclasses.replace(s.train, test_eval=True)
        for strategy in r.strategies:
            spec = RunSpec(s.key, s.groups, method, cfg.to_dict(), int(seed), s.model, train)
            fit = f"{self.reuse_dir(r.final, strategy, seed)}/fit.json"
            jobs.append(
                TrainJob(
                    paths.reuse_target(strategy, seed),
                    spec,
                    fit=fit,
                    tasks=cfg.tasks,
                    task_split="test",
                    downstream=self.downstream_eval("test"),  # the `tasks:` set, as Table 2's runs
                )
            )
        return jobs
