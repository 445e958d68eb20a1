"""The run planner: a :class:`Project` -> every training and fit job, with its spec, inputs and arguments.
Torch-free; ``rules/common.smk`` only wires it into Snakemake. What a method needs comes from its registry
declaration (:mod:`pipeline_lib.config.registry`), where it is written comes from :mod:`.paths`, the
learning runs of each kind from :mod:`.learning`, the reuse experiment from :mod:`.reuse`."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from functools import cached_property

from pipeline_lib.config import Project, RunSpec, Setting, TrainConfig
from pipeline_lib.config.methods import MethodConfig, OlmixConfig, StaticConfig
from pipeline_lib.config.registry import (
    GRID,
    METHODS,
    ONEHOT,
    PROXIES,
    STATIC,
    SWARM,
    FitCall,
    build_method_config,
    fit_name,
    fit_step,
    swarm_step,
)
from pipeline_lib.config.types import ConfigError
from pipeline_lib.lmo.grids import grid_mixtures
from pipeline_lib.lmo.swarm import SwarmSettings
from pipeline_lib.plan import paths
from pipeline_lib.plan.jobs import DownstreamEval, TrainJob
from pipeline_lib.plan.learning import LearningRuns
from pipeline_lib.plan.reuse import ReusePlanning


@dataclass
class Planner(LearningRuns, ReusePlanning):
    """Specs, inputs and the jobs of a project (paths relative to the results directory)."""

    project: Project
    _cache: dict = field(default_factory=dict, repr=False)

    # -- what a view runs ---------------------------------------------------------------------------------
    @property
    def views(self) -> list[str]:
        """The views with final runs: the run settings, then the restricted views."""
        return list(dict.fromkeys([*self.project.run_settings, *self.project.restricted_settings]))

    @property
    def design_views(self) -> list[str]:
        """The settings whose swarms the design experiment analyses (``design.settings``)."""
        return list(self.project.design.settings) if self.project.design else []

    def learning_kinds(self, view: str) -> set[str]:
        """The kinds of learning runs the view's methods' fits read (a design setting: its swarm)."""
        kinds = {METHODS[m].learns_on for m in self.project.methods_of(view) if m in METHODS} - {None}
        return kinds | ({SWARM} if view in self.design_views else set())

    def fit_steps(self, view: str) -> list[str]:
        """The fit steps a view runs: its methods' own (Aioli + X: X's) and, with swarms, their draws."""
        names = [fit_name(m) for m in self.project.methods_of(view)]
        if SWARM in self.learning_kinds(view):
            names += [swarm_step(sampling) for sampling in self.swarm_samplings(view)]
        return [n for n in dict.fromkeys(names) if n]

    def method_config(self, view: str, method: str) -> MethodConfig:
        return self.project.settings[view].methods[method]

    @staticmethod
    def priors_file(view: str) -> str:
        return paths.priors_file(view)

    @staticmethod
    def proxy_run(view: str, method: str, seed: int | str) -> str:
        """The run.json of ``method``'s proxy run."""
        return paths.run_outputs(paths.pilot_dir(view, method, seed))["run"]

    def swarm_config(self, view: str, sampling: str | None = None) -> OlmixConfig:
        """A swarm's and the priors' settings: the config of the view's first swarm-fitted method drawing
        with ``sampling`` (None: any), else another Olmix config (a law fitted on pilots), else the defaults.
        Methods fitting one swarm (the same sampling) must agree on its draw and proxies."""
        configs = self.project.settings[view].methods
        users = [m for m, cfg in configs.items() if isinstance(cfg, OlmixConfig)]
        users.sort(key=lambda m: METHODS[m].learns_on != SWARM)
        for group in dict.fromkeys(configs[m].sampling for m in users):
            sharing = [m for m in users if METHODS[m].learns_on == SWARM and configs[m].sampling == group]
            differ = [m for m in sharing if configs[m].proxy_dict() != configs[sharing[0]].proxy_dict()]
            if differ:
                raise ConfigError(
                    f"{view}: {sharing[0]} and {differ[0]} fit one swarm but set its draw or proxies "
                    f"differently ({configs[sharing[0]].proxy_dict()} vs {configs[differ[0]].proxy_dict()}): "
                    f"give methods.{differ[0]} 'extends: {sharing[0]}' or the same values"
                )
        if sampling is not None:
            users = [m for m in users if configs[m].sampling == sampling]
            return configs[users[0]] if users else OlmixConfig(sampling=sampling)
        return configs[users[0]] if users else OlmixConfig()

    def swarm_samplings(self, view: str) -> list[str]:
        """The samplings of the view's swarms, one swarm each: its swarm-fitted methods' (``sampling``), and a
        design setting's own (its Olmix config's)."""
        configs, methods = self.project.settings[view].methods, self.project.methods_of(view)
        found = [configs[m].sampling for m in methods if m in METHODS and METHODS[m].learns_on == SWARM]
        design = [self.swarm_config(view).sampling] if view in self.design_views else []
        return list(dict.fromkeys(design + found))

    def sampling_of(self, view: str, method: str | None) -> str:
        """The sampling of the swarm ``method`` fits (None: the view's first swarm's)."""
        cfg = self.method_config(view, method) if method is not None else self.swarm_config(view)
        return cfg.sampling if isinstance(cfg, OlmixConfig) else self.swarm_config(view).sampling

    # -- run directories of a view ------------------------------------------------------------------------
    def final_runs(self, view: str) -> list[str]:
        p = self.project
        return [f"{paths.run_dir(view, m, s)}/run.json" for m in p.methods_of(view) for s in p.seeds]

    def learning_runs(self, kind: str, view: str, seed: int | str, method: str | None = None) -> list[str]:
        """The run.json files of one kind of learning run (GRID, ONEHOT, SWARM) of a view and seed; a swarm's:
        the one ``method`` fits (its sampling's; None: the view's first swarm)."""
        if kind == SWARM:
            sampling = self.sampling_of(view, method)
            names = [f"run{k}" for k in range(self.swarm_size(view, sampling))]
            return [f"{paths.pilot_dir(view, paths.swarm_kind(sampling), seed, n)}/run.json" for n in names]
        if kind == GRID:
            names = [f"mix{k}" for k in range(len(self.pilot_mixtures(view, int(seed))))]
        elif kind == ONEHOT:
            names = list(self.project.settings[view].groups)
        else:
            raise ValueError(f"unknown kind of learning run '{kind}'")
        return [f"{paths.pilot_dir(view, kind, seed, name)}/run.json" for name in names]

    def dynamic_children(self, view: str, seed: int | str) -> list[str]:
        n = len(self.pilot_mixtures(view, int(seed)))
        return [f"{paths.pilot_dir(view, paths.DYNAMIC, seed, f'child{k}')}/run.json" for k in range(n)]

    def reference_dir(self, view: str, method: str, seed: int | str) -> str | None:
        """A proxy's reference run: that method's final run, or (restricted) a shortened pilot of it."""
        proxy = METHODS[method].proxy
        if proxy is None or proxy.reference is None:
            return None
        if self.project.settings[view].restricted:
            return paths.pilot_dir(view, paths.REFERENCE, seed)
        return paths.run_dir(view, proxy.reference, seed)

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
        """Whether a pilot can be a final run: unrestricted, with full-length pilots."""
        return not self.project.settings[view].restricted and self.project.pilots.steps_fraction == 1.0

    def selects_pilot(self, view: str, method: str) -> bool:
        """Whether ``method``'s final run in ``view`` is its best pilot, selected rather than trained."""
        return METHODS.get(method) is not None and METHODS[method].pilot_is_run and self.pilots_are_runs(view)

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

    def bare_spec(self, view: str, method: str, seed: int) -> RunSpec:
        """``method``'s final-run spec without its parameters (a reference model, the sweep's parent)."""
        return dataclasses.replace(self.run_spec(view, method, seed), method_params={})

    def static_spec(self, s: Setting, seed: int, p: list[float], train: TrainConfig) -> RunSpec:
        """A learning run at a fixed mixture ``p`` (pilots, one-hot runs, dynamic children)."""
        params = StaticConfig(tuple(p)).to_dict()
        return RunSpec(s.key, s.groups, STATIC, params, int(seed), s.model, train)

    def proxy_spec(self, view: str, method: str, seed: int) -> RunSpec:
        """The proxy run of ``method``, whose config may change the schedule. Restricted, the proxy shares
        the learning budget with its reference run."""
        cfg, proxy = self.method_config(view, method), METHODS[method].proxy
        train = cfg.proxy_train(self.learning_train(view, proxy.runs))
        return dataclasses.replace(self.run_spec(view, method, seed), method=proxy.policy, train=train)

    def swarm_size(self, view: str, sampling: str | None = None) -> int:
        """K = ceil(c (m + 1)) proxies of a swarm (``sampling``'s; None: the view's first)."""
        s = self.project.settings[view]
        return SwarmSettings(factor=self.swarm_config(view, sampling).swarm_factor).size(len(s.groups))

    def proxy_train(self, view: str, sampling: str | None = None) -> TrainConfig:
        """A swarm proxy's schedule: ``proxy_steps_fraction`` of the final run's, validated only at its start
        and end (the fit reads the final scores; a validation pass between changes no number)."""
        cfg = self.swarm_config(view, sampling)
        train = self.learning_train(view, self.swarm_size(view, sampling), cfg.proxy_steps_fraction)
        return dataclasses.replace(train, eval_every=train.steps)

    def proxy_downstream(self, cfg: OlmixConfig) -> DownstreamEval | None:
        """What a swarm proxy scores of the downstream tasks: their val variants when ``cfg``'s objective
        fits them (tasks, both), none for the groups'."""
        return self.downstream_eval("val") if "downstream_bpb" in cfg.metrics else None

    def target_tokens(self, view: str) -> int:
        """R: the final run's training tokens."""
        s = self.project.settings[view]
        return s.train.steps * s.train.batch_size * s.model.context

    def proxy_tokens(self, view: str, sampling: str | None = None) -> int:
        train, s = self.proxy_train(view, sampling), self.project.settings[view]
        return train.steps * train.batch_size * s.model.context

    # -- the jobs -----------------------------------------------------------------------------------------
    @cached_property
    def train_jobs(self) -> dict[str, TrainJob]:
        """Every training job of the project's run views and seeds, by path."""
        jobs: list[TrainJob] = []
        for view in self.views:
            for seed in self.project.seeds:
                jobs += self._final_jobs(view, seed) + self.learning_jobs(view, seed)
        for seed in self.project.reuse.seeds if self.project.reuse else ():
            jobs += self.reuse_jobs(seed)
        for view in self.design_views:
            for seed in self.project.design.seeds:
                jobs += self._swarm_jobs(view, seed) + self.design_trained_jobs(view, seed)
        return {job.path: job for job in jobs}

    def train_work(self) -> dict[str, float]:
        """Each training job's work, by path, for the progress line's ETA: the FLOPs of the steps it trains
        (a dynamic child's from its parent's break) and of its validation passes (a third of a training
        token's, a forward only)."""
        out = {}
        for path, job in self.train_jobs.items():
            spec = job.spec
            start = (self.train_jobs[job.init_from].until or 0) if job.init_from else 0
            steps = max((job.until or spec.train.steps) - start, 0)
            evals = steps // spec.train.eval_every + 1
            val = evals * spec.train.val_sequences * len(job.data_groups) * spec.model.context
            out[path] = (steps * spec.tokens_per_step + val / 3) * spec.model.flops_per_token()
        return out

    def design_work(self) -> dict[str, float]:
        """Each design analysis's work, by its folder, for the progress line's ETA
        (:meth:`DesignConfig.analysis_work`)."""
        design = self.project.design
        return {
            paths.design_dir(view, seed): design.analysis_work(
                len(self.project.settings[view].groups), self.swarm_size(view)
            )
            for view in self.design_views
            for seed in design.seeds
        }

    def _final_jobs(self, view: str, seed: int) -> list[TrainJob]:
        """A view's final runs (a selected pilot is another step's), each reading its method's fit."""
        s, p = self.project.settings[view], self.project
        references = {m.proxy.reference for n, m in METHODS.items() if m.proxy and n in p.run_methods}
        return [
            TrainJob(
                paths.run_dir(view, method, seed),
                self.run_spec(view, method, seed),
                fit=paths.fit_file(view, fit, seed) if (fit := fit_name(method)) else None,
                save_state=method in references and not s.restricted,
                downstream=None if s.restricted else self.downstream_eval("test"),  # Table 2's runs only
            )
            for method in p.methods_of(view)
            if not self.selects_pilot(view, method)
        ]

    def downstream_eval(self, split: str) -> DownstreamEval | None:
        """The downstream task set a job scores on ``split`` (None without a ``tasks:`` block)."""
        tasks = self.project.tasks
        if tasks is None:
            return None
        key = ("downstream", split)
        if key not in self._cache:
            tok = self.project.data.tokenizer
            self._cache[key] = DownstreamEval(
                split, json.dumps(tasks.to_dict(), sort_keys=True), tok.eot_token if tok.append_eot else None,
                tuple(tasks.input_files(split)), tasks.name.replace("+", "-"),
            )  # fmt: skip
        return self._cache[key]

    def fit_inputs(self, view: str, name: str, seed: int | str) -> dict[str, list[str]]:
        """A fit step's named inputs, relative to the results directory."""
        return fit_step(name).inputs(self, view, int(seed))

    def fit_argv(self, view: str, name: str, seed: int | str, inputs, out: str) -> list[str]:
        """A fit step's arguments after ``python -m <module>`` (inputs and ``out`` as the job sees them)."""
        return fit_step(name).argv(FitCall(self, view, int(seed), inputs, out))

    def data_parallel_problems(self, ranks: int) -> list[str]:
        """Why some jobs cannot train over ``ranks`` data-parallel processes (``resources.gpus_per_run``): a
        batch that does not split evenly, or a proxy's own limits (its config says)."""
        problems: dict[str, list[str]] = {}
        for job in self.train_jobs.values():
            spec = job.spec
            whys = [f"train.batch_size {spec.train.batch_size} does not split over {ranks} GPUs"]
            whys = whys if spec.train.batch_size % ranks else []
            if spec.method in PROXIES:
                cfg = build_method_config(
                    spec.method, spec.method_params, f"method_params of '{spec.method}'"
                )
                whys += cfg.proxy_parallel_problems(ranks, len(spec.groups))
            for why in whys:
                problems.setdefault(why, []).append(job.path)
        return [f"{why} ({len(paths)} jobs, e.g. {paths[0]})" for why, paths in problems.items()]

    def job_regex(self) -> str:
        """A regex that matches every training job's path and none of the other steps' outputs (selected
        pilots included): the layout with the planned views, methods and groups, all escaped. Short, so
        matching stays cheap with thousands of jobs."""
        p, views = self.project, list(dict.fromkeys([*self.views, *self.design_views]))
        methods = [m for v in views for m in p.methods_of(v)]
        groups = [g for v in views for g in p.settings[v].groups]
        selected = [(v, m) for v in views for m in p.methods_of(v) if self.selects_pilot(v, m)]
        proxies = [m for m, e in METHODS.items() if e.proxy] + [paths.REFERENCE]
        swarms = [paths.swarm_kind(sampling) for v in views for sampling in self.swarm_samplings(v)]
        swarms = list(dict.fromkeys(swarms)) or [paths.SWARM]
        swarm = _alternatives(swarms) if len(swarms) == 1 else f"(?:{_alternatives(swarms)})"
        pilots = (
            rf"{paths.GRID}/seed\d+/mix\d+|{paths.DYNAMIC}/seed\d+/(?:parent|child\d+)"
            rf"|{paths.ONEHOT}/seed\d+/(?:{_alternatives(groups)})"
            rf"|(?:{_alternatives(proxies)})/seed\d+|{swarm}/seed\d+/run\d+"
        )
        body = (
            rf"(?:{_alternatives(views)})/(?:runs/(?:{_alternatives(methods)})/seed\d+|pilots/(?:{pilots}))"
        )
        if p.design and p.design.n_trained:
            body += rf"|design/(?:{_alternatives(self.design_views)})/seed\d+/trained/row\d+/seed\d+"
        if p.reuse:
            chains = [c for t in range(p.reuse.n_stages) for c in p.reuse.chains(t) if c != "natural"]
            body += (
                rf"|reuse/(?:stage\d+/(?:{_alternatives(chains)})/seed\d+/swarm/run\d+"
                rf"|targets/(?:{_alternatives(p.reuse.strategies)})/seed\d+)"
            )
        if not selected:
            return rf"(?:{body})"
        skip = "|".join(rf"{re.escape(v)}/runs/{re.escape(m)}/" for v, m in sorted(selected))
        return rf"(?!(?:{skip}))(?:{body})"

    # -- data -----------------------------------------------------------------------------------------------
    def one_batch_tokens(self, group: str) -> int:
        """Train tokens ``group`` needs for one batch of distinct sequences in every setting using it
        (batch_size x context + 1): the pack step fails when the group has fewer."""
        sizes = [
            s.train.batch_size * s.model.context + 1
            for s in self.project.settings.values()
            if group in s.groups
        ]
        return max(sizes, default=0)

    @cached_property
    def _eval_contexts(self) -> dict[str, int]:
        """group -> the longest model.context of the training jobs that read it (mixture or tasks)."""
        longest: dict[str, int] = {}
        for job in self.train_jobs.values():
            for group in job.data_groups:
                longest[group] = max(longest.get(group, 0), job.spec.model.context)
        return longest

    def eval_chunk_tokens(self, group: str) -> int:
        """Tokens one evaluation sequence (context + 1) needs in the runs reading ``group``: the pack step
        fails when its val or test split holds fewer (0: no run reads it)."""
        context = self._eval_contexts.get(group)
        return context + 1 if context else 0

    def pack_checks(self) -> dict[str, int]:
        """:meth:`eval_chunk_tokens` of every packed group (the workflow's ``PACK_CHECKS_ENV``)."""
        return {group: self.eval_chunk_tokens(group) for group in self.project.tokenizer_groups}

    def train_token_budget(self, group: str, margin: float | None) -> int | None:
        """Train tokens the pack step takes for ``group``: the longest run of any setting using it (steps x
        batch x context) times ``margin``; None (take everything) when no margin is set."""
        runs = [
            s.train.steps * s.train.batch_size * s.model.context
            for s in self.project.settings.values()
            if group in s.groups
        ]
        return round(max(runs) * margin) if margin is not None and runs else None


def _alternatives(values) -> str:
    """An escaped regex alternation of sorted distinct values (one that matches nothing when empty)."""
    return "|".join(re.escape(v) for v in sorted(set(values))) or "(?!)"
