"""The run planner: a :class:`Project` -> every training job, its spec, inputs and flags, and the paths the
workflow's other steps read and write. Torch-free; ``rules/common.smk`` only wires it into Snakemake.

Results live under one directory per view (``<setting>`` or ``<setting>/restricted``)::

    runs/<method>/seed<n>/                 final runs (run.json, curve.csv, mixture.csv[, state.pt])
    pilots/grid/seed<n>/mix<k>/            static pilots at grid mixtures (grid search, DML, fidelity)
    pilots/dynamic/seed<n>/{parent,child<k>}/   the dynamic-law sweep (a parent, children resumed from it)
    pilots/onehot/seed<n>/<group>/         Skill-It's graph runs
    pilots/{doremi,doge}/seed<n>/          the proxies
    pilots/reference/seed<n>/              DoReMi's reference in a restricted view
    pilots/swarm/seed<n>/run<k>/           Olmix's proxy swarm
    olmix/priors.json                      Olmix's priors: tokens per group, the natural distribution
    fits/<name>/seed<n>.json               what an offline step fitted (Olmix: and fits/olmix*/seed<n>/)

The mixture-reuse experiment (``reuse:``) lives under ``reuse/``::

    stage<t>/priors.json                   the stage's domains: tokens and natural distribution
    stage<t>/<chain>/seed<n>/plan.json     the stage's plan and swarm (chain: a strategy; stage 0: shared)
    stage<t>/<chain>/seed<n>/swarm/run<k>/ its new proxies
    stage<t>/<chain>/seed<n>/fit.json      the stage's mixture (and fit/: the law, ratios.csv, metrics.csv)
    targets/<strategy>/seed<n>/            the target run on the last stage's mixture
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import cached_property

from pipeline_lib.config import Project, RunSpec, Setting, TrainConfig, method_entry
from pipeline_lib.config.methods import (
    OFFLINE,
    PROXY_METHODS,
    OlmixConfig,
    StaticConfig,
    build_method_config,
)
from pipeline_lib.config.reuse import ReuseConfig
from pipeline_lib.lmo.grids import grid_mixtures, one_hot_mixtures
from pipeline_lib.lmo.swarm import SwarmSettings, swarm_size
from pipeline_lib.olmix.reuse import plan_stage


@dataclass(frozen=True)
class TrainJob:
    """One training job: where it writes, what it trains, what it reads."""

    path: str
    """Its directory under the results directory (the ``{job}`` wildcard)."""
    spec: RunSpec
    """What it trains."""
    fit: str | None = None
    """The fit file its policy reads (relative to the results directory)."""
    reference: str | None = None
    """DoReMi's proxy: the reference run's directory (its run.json is an input, its state.pt is read)."""
    init_from: str | None = None
    """A dynamic child: the parent's directory (run.json an input, state.pt the starting state)."""
    until: int | None = None
    """Stop at this step (the dynamic parent's break) instead of the schedule's end."""
    save_state: bool = False
    """Write state.pt before run.json (a reference model or a dynamic parent)."""
    tasks: tuple[str, ...] = ()
    """Groups whose whole validation split it scores in bits per byte (Olmix's swarm proxies)."""
    task_split: str = "val"
    """The split ``tasks`` are scored on: val (proxies, what fits read) or test (the reuse targets)."""

    @property
    def data_groups(self) -> tuple[str, ...]:
        """The packed groups it reads: its mixture's and its tasks'."""
        return tuple(dict.fromkeys((*self.spec.groups, *self.tasks)))

    def inputs(self) -> dict[str, str]:
        """Named inputs besides the packed data, relative to the results directory."""
        named = {"fit": self.fit, "reference": self.reference, "init_from": self.init_from}
        return {k: v if k == "fit" else f"{v}/run.json" for k, v in named.items() if v}

    def args(self, results: str) -> str:
        """Command-line flags of ``pipeline_lib.train.run`` beyond spec and directories."""
        out = [f"--fit {results}/{self.fit}"] if self.fit else []
        out += [f"--reference {results}/{self.reference}/state.pt"] if self.reference else []
        out += [f"--init-state {results}/{self.init_from}/state.pt"] if self.init_from else []
        out += [f"--until {self.until}"] if self.until is not None else []
        out += [f"--task-bpb {' '.join(self.tasks)}"] if self.tasks else []
        out += [f"--task-split {self.task_split}"] if self.tasks and self.task_split != "val" else []
        return " ".join(out + (["--save-state"] if self.save_state else []))


@dataclass
class Planner:
    """Specs, paths and the training jobs of a project (paths relative to the results directory)."""

    project: Project
    _cache: dict = field(default_factory=dict, repr=False)

    # -- paths --------------------------------------------------------------------------------------------
    @staticmethod
    def run_dir(view: str, method: str, seed: int | str) -> str:
        return f"{view}/runs/{method}/seed{seed}"

    @staticmethod
    def fit_file(view: str, name: str, seed: int | str) -> str:
        return f"{view}/fits/{name}/seed{seed}.json"

    @staticmethod
    def pilot_dir(view: str, kind: str, seed: int | str, name: str = "") -> str:
        return f"{view}/pilots/{kind}/seed{seed}" + (f"/{name}" if name else "")

    def reference_dir(self, view: str, seed: int | str) -> str:
        """DoReMi's reference: the stratified final run, or (restricted) a shortened stratified pilot."""
        if self.project.settings[view].restricted:
            return self.pilot_dir(view, "reference", seed)
        return self.run_dir(view, "stratified", seed)

    def pilot_runs(self, view: str, seed: int | str) -> list[str]:
        n = len(self.pilot_mixtures(view, int(seed)))
        return [f"{self.pilot_dir(view, 'grid', seed, f'mix{k}')}/run.json" for k in range(n)]

    def dynamic_children(self, view: str, seed: int | str) -> list[str]:
        n = len(self.pilot_mixtures(view, int(seed)))
        return [f"{self.pilot_dir(view, 'dynamic', seed, f'child{k}')}/run.json" for k in range(n)]

    def onehot_runs(self, view: str, seed: int | str) -> list[str]:
        groups = self.project.settings[view].groups
        return [f"{self.pilot_dir(view, 'onehot', seed, g)}/run.json" for g in groups]

    def swarm_runs(self, view: str, seed: int | str) -> list[str]:
        return [
            f"{self.pilot_dir(view, 'swarm', seed, f'run{k}')}/run.json" for k in range(self.swarm_size(view))
        ]

    @staticmethod
    def priors_file(view: str) -> str:
        return f"{view}/olmix/priors.json"

    def final_runs(self, view: str) -> list[str]:
        p = self.project
        return [f"{self.run_dir(view, m, s)}/run.json" for m in p.methods_of(view) for s in p.seeds]

    # -- schedules and specs ------------------------------------------------------------------------------
    def learning_train(
        self, view: str, n_runs: int, unrestricted_fraction: float = 1.0, test_eval: bool = False
    ) -> TrainConfig:
        """The schedule of one of a method's ``n_runs`` learning runs (pilots, one-hot runs, proxies): a
        fraction of the final run (``unrestricted_fraction``; restricted: ``learn_fraction / n_runs``), with
        the warm-up shortened in proportion; no test pass unless ``test_eval`` (a run a table reports)."""
        s = self.project.settings[view]
        fraction = s.learn_fraction / n_runs if s.restricted else unrestricted_fraction
        steps = max(1, round(s.train.steps * fraction))
        warmup = min(steps, round(s.train.warmup_steps * steps / s.train.steps))
        return dataclasses.replace(s.train, steps=steps, warmup_steps=warmup, test_eval=test_eval)

    def pilots_are_runs(self, view: str) -> bool:
        """Whether grid search's best pilot is its final run: unrestricted, with full-length pilots."""
        return not self.project.settings[view].restricted and self.project.pilots.steps_fraction == 1.0

    def pilot_mixtures(self, view: str, seed: int) -> list[list[float]]:
        """The view's pilot grid for a seed (m = 2: p_1 in 0.1..0.9; m >= 3: a seeded Dirichlet cover)."""
        key = ("mixtures", view, seed)
        if key not in self._cache:
            m = len(self.project.settings[view].groups)
            n = None if m == 2 else self.project.pilots.size(m)
            self._cache[key] = [[float(v) for v in row] for row in grid_mixtures(m, n, seed)]
        return self._cache[key]

    def dynamic_steps(self, view: str) -> tuple[int, int]:
        """(break step of the parent, stop step of each child) on the final run's schedule."""
        steps = self.project.settings[view].train.steps
        brk = max(1, round(steps * self.project.pilots.break_fraction))
        return brk, min(steps, brk + self.project.pilots.child_steps)

    def run_spec(self, view: str, method: str, seed: int) -> RunSpec:
        """A final run: the view's schedule and the method's typed config."""
        s = self.project.settings[view]
        cfg = s.methods.get(method)
        params = cfg.to_dict() if cfg is not None else {}
        return RunSpec(s.key, s.groups, method, params, int(seed), s.model, s.train)

    def static_spec(self, s: Setting, seed: int, p: list[float], train: TrainConfig) -> RunSpec:
        """A learning run at a fixed mixture ``p`` (pilots, one-hot runs, dynamic children)."""
        params = StaticConfig(tuple(p)).to_dict()
        return RunSpec(s.key, s.groups, "static", params, int(seed), s.model, train)

    def proxy_spec(self, view: str, method: str, seed: int) -> RunSpec:
        """The proxy run of ``method`` (doremi, doge), whose config may change the schedule. Restricted, the
        proxy shares the learning budget with DoReMi's reference run."""
        cfg = self.project.settings[view].methods[method]
        train = cfg.proxy_train(self.learning_train(view, 2 if method == "doremi" else 1))
        spec = self.run_spec(view, method, seed)
        return dataclasses.replace(spec, method=f"{method}_proxy", train=train)

    def swarm_size(self, view: str) -> int:
        """K = ceil(c (m + 1)) proxies of Olmix's swarm."""
        s = self.project.settings[view]
        return SwarmSettings(factor=self.olmix_config(view).swarm_factor).size(len(s.groups))

    def olmix_config(self, view: str) -> OlmixConfig:
        s = self.project.settings[view]
        return s.methods.get("olmix") or s.methods.get("olmix_pilots") or OlmixConfig()

    def proxy_train(self, view: str) -> TrainConfig:
        """A swarm proxy's schedule: ``proxy_steps_fraction`` of the final run's, validated only at its start
        and end (the fit reads the final scores; a validation pass between changes no number)."""
        train = self.learning_train(view, self.swarm_size(view), self.olmix_config(view).proxy_steps_fraction)
        return dataclasses.replace(train, eval_every=train.steps)

    def target_tokens(self, view: str) -> int:
        """R: the final run's training tokens."""
        s = self.project.settings[view]
        return s.train.steps * s.train.batch_size * s.model.context

    def proxy_tokens(self, view: str) -> int:
        train, s = self.proxy_train(view), self.project.settings[view]
        return train.steps * train.batch_size * s.model.context

    # -- the training jobs --------------------------------------------------------------------------------
    @cached_property
    def train_jobs(self) -> dict[str, TrainJob]:
        """Every training job of the project's run views and seeds, by path."""
        jobs: list[TrainJob] = []
        p = self.project
        for view in dict.fromkeys([*p.run_settings, *p.restricted_settings]):
            for seed in p.seeds:
                jobs += self._final_jobs(view, seed) + self._pilot_jobs(view, seed)
                jobs += self._online_jobs(view, seed) + self._swarm_jobs(view, seed)
        for seed in p.reuse.seeds if p.reuse else ():
            jobs += self._reuse_jobs(seed)
        return {job.path: job for job in jobs}

    def data_parallel_problems(self, ranks: int) -> list[str]:
        """Why some jobs cannot train over ``ranks`` data-parallel processes (``resources.gpus_per_run``): a
        batch that does not split evenly, or DoReMi's single-process reference quirk."""
        problems: dict[str, list[str]] = {}
        for job in self.train_jobs.values():
            train, params = job.spec.train, job.spec.method_params
            if train.batch_size % ranks:
                why = f"train.batch_size {train.batch_size} does not split over {ranks} GPUs"
                problems.setdefault(why, []).append(job.path)
            if job.spec.method == "doremi_proxy" and params.get("reference_microbatch"):
                why = f"methods.doremi.reference_microbatch runs single-process only, not over {ranks} GPUs"
                problems.setdefault(why, []).append(job.path)
            if job.spec.method == "doge_proxy" and self._doge_val_rows(job.spec) < ranks:
                why = f"methods.doge.val_batch_size gives fewer validation rows than {ranks} GPUs"
                problems.setdefault(why, []).append(job.path)
        return [f"{why} ({len(paths)} jobs, e.g. {paths[0]})" for why, paths in problems.items()]

    @staticmethod
    def _doge_val_rows(spec: RunSpec) -> int:
        """Rows of a DoGE proxy's validation batch: each rank needs one."""
        cfg = build_method_config(spec.method, spec.method_params, f"method_params of '{spec.method}'")
        return cfg.val_rows(len(spec.groups))

    def _final_jobs(self, view: str, seed: int) -> list[TrainJob]:
        s, jobs = self.project.settings[view], []
        for method in self.project.methods_of(view):
            if method == "grid_search" and self.pilots_are_runs(view):
                continue  # its best full-length pilot is its run (rule select_grid_search)
            fit = method_entry(method).fit
            save = method == "stratified" and not s.restricted and "doremi" in self.project.run_methods
            jobs.append(
                TrainJob(
                    self.run_dir(view, method, seed),
                    self.run_spec(view, method, seed),
                    fit=self.fit_file(view, fit, seed) if fit else None,
                    save_state=save,
                )
            )
        return jobs

    def _pilot_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """The grid pilots (offline methods, fidelity) and the dynamic-law sweep (fidelity)."""
        p, s = self.project, self.project.settings[view]
        mixtures = self.pilot_mixtures(view, seed)
        fidelity = p.law_fidelity and not s.restricted
        jobs = []
        if fidelity or set(OFFLINE) & set(p.methods_of(view)):
            train = self.learning_train(
                view, len(mixtures), p.pilots.steps_fraction, self.pilots_are_runs(view)
            )
            jobs += [
                TrainJob(self.pilot_dir(view, "grid", seed, f"mix{k}"), self.static_spec(s, seed, q, train))
                for k, q in enumerate(mixtures)
            ]
        if fidelity:
            brk, stop = self.dynamic_steps(view)
            parent = self.pilot_dir(view, "dynamic", seed, "parent")
            stratified = dataclasses.replace(self.run_spec(view, "stratified", seed), method_params={})
            jobs.append(TrainJob(parent, stratified, until=brk, save_state=True))
            child_train = dataclasses.replace(s.train, test_eval=False)
            jobs += [
                TrainJob(
                    self.pilot_dir(view, "dynamic", seed, f"child{k}"),
                    self.static_spec(s, seed, q, child_train),
                    init_from=parent,
                    until=stop,
                )
                for k, q in enumerate(mixtures)
            ]
        return jobs

    def _online_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """Skill-It's one-hot runs, the DoReMi/DoGE proxies and DoReMi's restricted reference."""
        s, methods, jobs = self.project.settings[view], self.project.methods_of(view), []
        if "skillit" in methods:
            train = self.learning_train(view, len(s.groups), self.project.pilots.steps_fraction)
            jobs += [
                TrainJob(
                    self.pilot_dir(view, "onehot", seed, g), self.static_spec(s, seed, q.tolist(), train)
                )
                for g, q in zip(s.groups, one_hot_mixtures(len(s.groups)), strict=True)
            ]
        for method in (m for m in PROXY_METHODS if m in methods):
            reference = self.reference_dir(view, seed) if method == "doremi" else None
            jobs.append(
                TrainJob(
                    self.pilot_dir(view, method, seed),
                    self.proxy_spec(view, method, seed),
                    reference=reference,
                )
            )
        if "doremi" in methods and s.restricted:
            spec = dataclasses.replace(
                self.run_spec(view, "stratified", seed), method_params={}, train=self.learning_train(view, 2)
            )
            jobs.append(TrainJob(self.reference_dir(view, seed), spec, save_state=True))
        return jobs

    def _swarm_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """Olmix's proxies: smaller models, one per swarm mixture, scored in bits per byte."""
        s = self.project.settings[view]
        if "olmix" not in self.project.methods_of(view):
            return []
        model = s.model.with_preset(self.olmix_config(view).proxy_model)
        train = self.proxy_train(view)
        return [
            TrainJob(
                self.pilot_dir(view, "swarm", seed, f"run{k}"),
                RunSpec(s.key, s.groups, "olmix_proxy", {"index": k}, int(seed), model, train),
                fit=self.fit_file(view, "olmix_swarm", seed),
                tasks=self.olmix_config(view).tasks or s.groups,
            )
            for k in range(self.swarm_size(view))
        ]

    # -- the mixture-reuse experiment ---------------------------------------------------------------------
    @property
    def reuse(self) -> ReuseConfig:
        if self.project.reuse is None:
            raise ValueError("the configuration has no reuse: block")
        return self.project.reuse

    def reuse_dir(self, stage: int | str, strategy: str, seed: int | str) -> str:
        """A stage's directory for a strategy and seed (stage 0: shared by every strategy but natural)."""
        return f"reuse/stage{stage}/{ReuseConfig.chain(int(stage), strategy)}/seed{seed}"

    @staticmethod
    def reuse_priors(stage: int | str) -> str:
        return f"reuse/stage{stage}/priors.json"

    @staticmethod
    def reuse_target(strategy: str, seed: int | str) -> str:
        return f"reuse/targets/{strategy}/seed{seed}"

    def reuse_counts(self, strategy: str) -> list[tuple[int, int]]:
        """(new runs, runs in the fit) per stage: the plans' counts, which need only the domain names (a
        swarm-reuse stage fits its new runs and every run of the previous stage, mapped)."""
        key = ("reuse", strategy)
        if key in self._cache:
            return self._cache[key]
        r, factor = self.reuse, self.olmix_config(self.reuse.stage_key(0)).swarm_factor
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

    def _reuse_jobs(self, seed: int) -> list[TrainJob]:
        """Every stage's new proxies (once per chain) and the target run of each strategy."""
        r, jobs = self.reuse, []
        for t in range(r.n_stages):
            key = r.stage_key(t)
            s, cfg = self.project.settings[key], self.olmix_config(key)
            model, train = s.model.with_preset(cfg.proxy_model), self.proxy_train(key)
            for chain in r.chains(t):
                base = self.reuse_dir(t, chain, seed)
                jobs += [
                    TrainJob(
                        f"{base}/swarm/run{k}",
                        RunSpec(s.key, s.groups, "olmix_proxy", {"index": k}, int(seed), model, train),
                        fit=f"{base}/plan.json",
                        tasks=cfg.tasks or s.groups,
                    )
                    for k in range(
                        self.reuse_counts(chain if t else "full")[t][0] if chain != "natural" else 0
                    )
                ]
        s = self.project.settings[r.stage_key(r.final)]
        cfg = self.olmix_config(s.key)
        train = dataclasses.replace(s.train, test_eval=True)
        for strategy in r.strategies:
            spec = RunSpec(s.key, s.groups, "olmix", cfg.to_dict(), int(seed), s.model, train)
            fit = f"{self.reuse_dir(r.final, strategy, seed)}/fit.json"
            jobs.append(
                TrainJob(self.reuse_target(strategy, seed), spec, fit=fit, tasks=cfg.tasks, task_split="test")
            )
        return jobs

    def job_regex(self) -> str:
        """A regex that matches every training job's path and none of the other steps' outputs (grid search's
        selected pilots included): the layout with the planned views, methods and groups, all escaped. Short,
        so matching stays cheap with thousands of jobs."""
        p = self.project

        def alternatives(values) -> str:
            return "|".join(re.escape(v) for v in sorted(set(values))) or "(?!)"

        views = [*p.run_settings, *p.restricted_settings]
        methods = [m for v in views for m in p.methods_of(v)]
        groups = [g for v in views for g in p.settings[v].groups]
        selected = [v for v in views if "grid_search" in p.methods_of(v) and self.pilots_are_runs(v)]
        pilots = (
            rf"grid/seed\d+/mix\d+|dynamic/seed\d+/(?:parent|child\d+)|onehot/seed\d+/(?:{alternatives(groups)})"
            rf"|(?:doremi|doge|reference)/seed\d+|swarm/seed\d+/run\d+"
        )
        body = rf"(?:{alternatives(views)})/(?:runs/(?:{alternatives(methods)})/seed\d+|pilots/(?:{pilots}))"
        if p.reuse:
            chains = [c for t in range(p.reuse.n_stages) for c in p.reuse.chains(t) if c != "natural"]
            body += (
                rf"|reuse/(?:stage\d+/(?:{alternatives(chains)})/seed\d+/swarm/run\d+"
                rf"|targets/(?:{alternatives(p.reuse.strategies)})/seed\d+)"
            )
        return (rf"(?!(?:{alternatives(selected)})/runs/grid_search/)" if selected else "") + rf"(?:{body})"

    def one_batch_tokens(self, group: str) -> int:
        """Train tokens ``group`` needs for one batch of distinct sequences in every setting using it
        (batch_size x context + 1): the pack step fails when the group has fewer."""
        sizes = [
            s.train.batch_size * s.model.context + 1
            for s in self.project.settings.values()
            if group in s.groups
        ]
        return max(sizes, default=0)

    def train_token_budget(self, group: str, margin: float | None) -> int | None:
        """Train tokens the pack step takes for ``group``: the longest run of any setting using it (steps x
        batch x context) times ``margin``; None (take everything) when no margin is set."""
        runs = [
            s.train.steps * s.train.batch_size * s.model.context
            for s in self.project.settings.values()
            if group in s.groups
        ]
        return round(max(runs) * margin) if margin is not None and runs else None
