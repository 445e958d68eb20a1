"""The method registry: one declaration per method, and nothing about a method anywhere else.

A :class:`Method` states everything the workflow needs to plan, run and table it: its typed config, its
policy (imported only in the training job), the learning runs it needs for a (view, seed), the offline step
that fits them (:class:`FitStep`), and the roles the reports give it. The planner (:mod:`pipeline_lib.plan`)
and the generic rules iterate :data:`METHODS`; no method's name is spelled in ``plan/`` or ``rules/``.

Adding a method = its module (policy, fit step), its config class, and one entry here.
Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline_lib.config.methods import (
    AioliConfig,
    AioliPlusConfig,
    DogeConfig,
    DoremiConfig,
    MethodConfig,
    NoParams,
    OlmixConfig,
    SkillItConfig,
    StaticConfig,
    SwarmMemberConfig,
    build_config,
)
from pipeline_lib.config.types import AIOLI_PLUS, ConfigError
from pipeline_lib.config.units import SAMPLER_NAMES

GRID, ONEHOT, PROXY, SWARM = "grid", "onehot", "proxy", "swarm"
"""The kinds of learning runs a method's fit reads (:mod:`pipeline_lib.plan.learning` plans each once)."""


class Planner(Protocol):
    """What a fit step asks of the planner (:class:`pipeline_lib.plan.Planner`)."""

    def learning_runs(
        self, kind: str, view: str, seed: int | str, method: str | None = None
    ) -> list[str]: ...
    def reference_dir(self, view: str, method: str, seed: int | str) -> str | None: ...
    def priors_file(self, view: str) -> str: ...
    def proxy_run(self, view: str, method: str, seed: int | str) -> str: ...
    def method_config(self, view: str, method: str) -> MethodConfig: ...
    def swarm_config(self, view: str, sampling: str | None = None) -> OlmixConfig: ...
    def target_tokens(self, view: str) -> int: ...
    def proxy_tokens(self, view: str, sampling: str | None = None) -> int: ...


@dataclass(frozen=True)
class FitCall:
    """One fit job: where it runs and what it reads and writes (paths as the job sees them)."""

    plan: Planner
    view: str
    seed: int
    inputs: Mapping[str, list[str]]
    """Named input files (``runs``, ``priors``, ``proxy``, ``reference``)."""
    out: str
    """The fit file (``fits/<name>/seed<n>.json``); a step with tables writes them in ``out`` minus .json."""

    def one(self, name: str) -> str:
        (path,) = self.inputs[name]
        return path


@dataclass(frozen=True)
class FitStep:
    """An offline step: ``python -m <module> <argv>`` turns learning runs into a fit file."""

    module: str
    argv: Callable[[FitCall], list[str]]
    """The command-line arguments (every value a separate item; the rule quotes them)."""
    inputs: Callable[[Planner, str, int], dict[str, list[str]]]
    """Named inputs for a (view, seed), relative to the results directory."""
    tables: bool = False
    """Also writes a directory of tables and figures beside the fit file (``fits/<name>/seed<n>/``)."""


@dataclass(frozen=True)
class Proxy:
    """A method's own proxy run (``pilots/<method>/seed<n>/``), trained by ``policy`` at uniform sampling."""

    policy: str
    """Its policy, a key of :data:`PROXIES`."""
    runs: int = 1
    """Learning runs the restricted budget is shared over (DoReMi: proxy and reference)."""
    reference: str | None = None
    """The method whose final run is the proxy's reference model (restricted: a pilot of that method)."""


@dataclass(frozen=True)
class Method:
    """How a method is configured, planned, fitted, run and reported."""

    policy: str
    """The final run's policy, ``module:Class`` (imported in the training job only)."""
    config: type[MethodConfig]
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Fields a variant fixes on top of the user's settings (the Aioli ablations)."""
    learns_on: str | None = None
    """The learning runs its fit reads: GRID, ONEHOT, PROXY or SWARM (None: learns nothing offline)."""
    fit: FitStep | None = None
    """The step that writes ``fits/<name>/seed<n>.json``, which its final run reads."""
    proxy: Proxy | None = None
    """Its proxy run (``learns_on`` PROXY)."""
    baseline: bool = False
    """A baseline X of the restricted setting (X alone, and Aioli + X)."""
    pilot_is_run: bool = False
    """Its best full-length pilot is its final run (unrestricted): selected, not retrained."""
    traces_A: str | None = None
    """Where its own A^t is read for the dynamic law's parameter similarity: its final ``run`` or ``fit``."""
    static_law: bool = False
    """Its fit is the static law the fidelity study scores."""
    law_table: str | None = None
    """Its column in the per-setting law table (tables/olmix): ``own`` (makes the table) or ``peer``."""


# -- fit steps ----------------------------------------------------------------------------------------------
def _runs(
    kind: str, tables: str | None = None, method: str | None = None
) -> Callable[[Planner, str, int], dict[str, list[str]]]:
    """A fit's inputs: the learning runs of ``kind`` (a swarm: ``method``'s, by its sampling)[, priors]."""

    def inputs(plan: Planner, view: str, seed: int) -> dict[str, list[str]]:
        out = {"runs": plan.learning_runs(kind, view, seed, method)}
        return out | ({"priors": [plan.priors_file(view)]} if tables else {})

    return inputs


def _proxy_inputs(plan: Planner, view: str, seed: int, method: str) -> dict[str, list[str]]:
    out = {"proxy": [plan.proxy_run(view, method, seed)]}
    reference = plan.reference_dir(view, method, seed)
    return out | ({"reference": [f"{reference}/run.json"]} if reference else {})


def _proxy_step(method: str) -> FitStep:
    def argv(c: FitCall) -> list[str]:
        ref = ["--reference", c.one("reference")] if "reference" in c.inputs else []
        return ["--method", method, "--proxy", c.one("proxy"), *ref, "--out", c.out]

    return FitStep(
        "pipeline_lib.methods.proxy", argv, lambda plan, view, seed: _proxy_inputs(plan, view, seed, method)
    )


def _law_step(method: str, metric: str | None, kind: str) -> FitStep:
    """Olmix's fit and proposal on learning runs' ``metric`` (None: the metrics of the config's
    ``objective``: group BPB, downstream-task BPB or both): the law, its solve, tables and figures."""

    def argv(c: FitCall) -> list[str]:
        config = c.plan.method_config(c.view, method)
        cfg = json.dumps(config.to_dict(), sort_keys=True)
        metrics = [metric] if metric is not None else list(config.metrics)
        return [
            "fit-runs",
            "--runs",
            *c.inputs["runs"],
            "--metric",
            *metrics,
            "--priors",
            c.one("priors"),
            "--target-tokens",
            str(c.plan.target_tokens(c.view)),
            "--config",
            cfg,
            "--seed",
            str(c.seed),
            "--method",
            method,
            "--fit-out",
            c.out,
            "--out",
            c.out.removesuffix(".json"),
        ]

    return FitStep("pipeline_lib.olmix", argv, _runs(kind, tables="priors", method=method), tables=True)


def _swarm_draw(plan: Planner, view: str, seed: int) -> dict[str, list[str]]:
    return {"priors": [plan.priors_file(view)]}


SWARM_STEP = "olmix_swarm"
"""The fit-like step that draws a view's (Olmix-sampled) proxy swarm (``fits/olmix_swarm/seed<n>.json``)."""


def swarm_step(sampling: str) -> str:
    """The step drawing the swarm of a sampling: ``olmix_swarm``, ``regmix_swarm``."""
    return f"{sampling}_swarm"


def _swarm_step(sampling: str) -> FitStep:
    def argv(c: FitCall) -> list[str]:
        cfg = c.plan.swarm_config(c.view, sampling)
        return [
            "swarm",
            "--priors",
            c.one("priors"),
            "--proxy-tokens",
            str(c.plan.proxy_tokens(c.view, sampling)),
            "--seed",
            str(c.seed),
            "--config",
            json.dumps(cfg.swarm_dict(), sort_keys=True),
            "--out",
            c.out,
        ]

    return FitStep("pipeline_lib.olmix", argv, _swarm_draw)


STEPS: dict[str, FitStep] = {swarm_step(s): _swarm_step(s) for s in SAMPLER_NAMES}
"""Fit steps that no final run reads directly (the swarm draws); :func:`fit_step` finds methods' own."""

# -- the methods --------------------------------------------------------------------------------------------
STRATIFIED, STATIC = "stratified", "static"
"""The uniform mixture (learning runs' parents, DoReMi's reference) and a fixed one (pilots, one-hot runs)."""
SWARM_PROXY = "olmix_proxy"
"""The policy of a swarm's proxies."""

_M = "pipeline_lib.methods."
METHODS: dict[str, Method] = {
    STRATIFIED: Method(_M + "static:Stratified", NoParams),
    STATIC: Method(_M + "static:Static", StaticConfig),
    "grid_search": Method(
        _M + "grid_search:GridSearch",
        NoParams,
        learns_on=GRID,
        baseline=True,
        pilot_is_run=True,
        fit=FitStep(
            _M + "grid_search", lambda c: ["fit", "--pilots", *c.inputs["runs"], "--out", c.out], _runs(GRID)
        ),
    ),
    "dml": Method(
        _M + "dml:Dml",
        NoParams,
        learns_on=GRID,
        baseline=True,
        static_law=True,
        law_table="peer",
        fit=FitStep(
            _M + "dml",
            lambda c: ["--pilots", *c.inputs["runs"], "--seed", str(c.seed), "--out", c.out],
            _runs(GRID),
        ),
    ),
    "aioli": Method(_M + "aioli:Aioli", AioliConfig, traces_A="run"),
    "aioli_static": Method(_M + "aioli:Aioli", AioliConfig, {"update_steps": None}),
    "aioli_diagonal": Method(_M + "aioli:Aioli", AioliConfig, {"diagonal": True}),
    "skillit": Method(
        _M + "skillit:SkillIt",
        SkillItConfig,
        learns_on=ONEHOT,
        baseline=True,
        traces_A="run",
        fit=FitStep(_M + "skillit", lambda c: ["--runs", *c.inputs["runs"], "--out", c.out], _runs(ONEHOT)),
    ),
    "doremi": Method(
        _M + "doremi:Doremi",
        DoremiConfig,
        learns_on=PROXY,
        baseline=True,
        traces_A="fit",
        fit=_proxy_step("doremi"),
        proxy=Proxy("doremi_proxy", runs=2, reference=STRATIFIED),
    ),
    "doge": Method(
        _M + "doge:Doge",
        DogeConfig,
        learns_on=PROXY,
        baseline=True,
        traces_A="fit",
        fit=_proxy_step("doge"),
        proxy=Proxy("doge_proxy"),
    ),
    "olmix": Method(
        _M + "olmix:Olmix",
        OlmixConfig,
        learns_on=SWARM,
        law_table="own",
        fit=_law_step("olmix", None, SWARM),
    ),
    "regmix": Method(
        _M + "olmix:RegMix",
        OlmixConfig,
        {"regressor": "lightgbm", "proposer": "topk"},
        learns_on=SWARM,
        fit=_law_step("regmix", None, SWARM),
    ),
    "olmix_pilots": Method(
        _M + "olmix:OlmixPilots",
        OlmixConfig,
        learns_on=GRID,
        law_table="own",
        fit=_law_step("olmix_pilots", "val_loss", GRID),
    ),
}
"""Every method a config may run; the key is also its run directory's name."""

PROXIES: dict[str, Method] = {
    "doremi_proxy": Method(_M + "doremi:DoremiProxy", DoremiConfig),
    "doge_proxy": Method(_M + "doge:DogeProxy", DogeConfig),
    SWARM_PROXY: Method(_M + "olmix:SwarmProxy", SwarmMemberConfig),
}
"""The policies of learning runs that are no method of their own (pilots/<method>/, pilots/swarm/)."""


def fit_step(name: str) -> FitStep:
    """A fit step by name: a method's own, or one of :data:`STEPS`."""
    method = METHODS.get(name)
    return method.fit if method is not None and method.fit is not None else STEPS[name]


def baselines() -> tuple[str, ...]:
    """The restricted setting's default baselines X."""
    return tuple(name for name, m in METHODS.items() if m.baseline)


def method_entry(name: str) -> Method:
    """The declaration of a method, a proxy or ``aioli+<X>`` (which reads X's fit)."""
    if name.startswith(AIOLI_PLUS):
        prior = method_entry(name.removeprefix(AIOLI_PLUS))
        return Method(_M + "aioli:AioliPlus", AioliPlusConfig, fit=prior.fit)
    entry = METHODS.get(name) or PROXIES.get(name)
    if entry is None:
        raise ConfigError(f"unknown method '{name}'; available: {sorted(METHODS)}")
    return entry


def fit_name(method: str) -> str | None:
    """The fit file a method's final run reads (``aioli+<X>``: X's), if any."""
    base = method.removeprefix(AIOLI_PLUS)
    return base if method_entry(base).fit is not None else None


def build_method_config(
    name: str, params: Mapping[str, Any], where: str, origins: Mapping[str, str] | None = None
) -> MethodConfig:
    """``name``'s config from user settings (``extends`` already resolved) and the variant's overrides;
    a :class:`ConfigError` names each bad field's path (``origins[field]`` or ``where``, then the field)."""
    entry = method_entry(name)
    return build_config(entry.config, {**params, **entry.overrides}, where, origins)
