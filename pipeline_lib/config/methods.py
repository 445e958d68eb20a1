"""Typed method settings (torch-free: the Snakefile loads it).

Every method has one frozen config class (the registry, :mod:`pipeline_lib.config.registry`, names it);
Each numeric field declares its range where it is declared (``ranged``), checked for every config in one place
(:class:`MethodConfig`); cross-field rules are code (``problems``, ``setting_problems``). ``load_project``
builds every method block, so an unknown parameter, a wrong type, an out-of-range value or a cross-field
conflict stops the dry run with the field's path (``methods.aioli.eta: must be > 0, got 0``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_lib.config.errors import FieldErrors
from pipeline_lib.config.ranges import range_problems, ranged
from pipeline_lib.config.types import Checked, ConfigError, MethodConfig, TrainConfig
from pipeline_lib.config.units import (
    SAMPLER_NAMES,
    AutoscaleSettings,
    BimixSettings,
    GPSettings,
    LightGBMSettings,
    RegMixSamplingSettings,
    SimulationSettings,
    TopKSettings,
    pairing_problem,
)


@dataclass(frozen=True)
class NoParams(MethodConfig):
    """Stratified, grid search and DML take no parameters."""


@dataclass(frozen=True)
class StaticConfig(MethodConfig):
    """A fixed mixture: ``settings.<s>.static`` for the ``static`` method, a grid point for a pilot."""

    proportions: tuple[float, ...] | None = ranged(None, ge=0)
    """The mixture, in the setting's group order (None: the setting has no ``static`` proportions)."""


@dataclass(frozen=True)
class AioliConfig(MethodConfig):
    """Aioli (``methods.aioli``); the paper's symbols in the field docs."""

    lp_rounds: int = ranged(4, ge=1)
    """k: random orders of the groups per LearnParams."""
    lp_steps: int = ranged(4, ge=1)
    """s: training steps on each smoothed one-hot mixture."""
    update_steps: int | None = ranged(250, ge=1)
    """U: round length in steps, LearnParams included; None: one round for the whole run (aioli_static)."""
    eta: float = ranged(0.2, gt=0)
    """Exponentiated-gradient step size (0 would never move the mixture; a negative one moves it against
    the groups that help)."""
    one_hot_factor: float = ranged(0.625, gt=0, le=1)
    """epsilon_1: weight of the hot group in the LearnParams mixtures; must exceed 1/m."""
    ema: float | None = ranged(None, ge=0, lt=1)
    """gamma: A-bar = (1 - gamma) A + gamma A-bar_prev from uniform (1 would never update A-bar); None:
    cumulative EG on A."""
    normalize: bool = True
    """Shift A to be non-negative, then scale its entries to sum to 1."""
    diagonal: bool = False
    """Aioli-diagonal: keep only A_ii = beta_ii / epsilon_1."""
    prior_steps: int = ranged(0, ge=0)
    """Train this many steps on a prior first (``prior``, or X's policy for Aioli + X), then from uniform."""
    prior: tuple[float, ...] | None = ranged(None, ge=0)
    """The prior mixture of the first ``prior_steps`` steps (plain Aioli), in the setting's group order."""
    lp_after_warmup: bool = False
    """Hold the first LearnParams until ``train.warmup_steps`` have passed: loss drops inside the warm-up
    grow with the learning rate, so A would rank groups by when LearnParams visited them."""

    def lp_steps_per_round(self, m: int) -> int:
        return self.lp_rounds * self.lp_steps * m

    def group_problems(self, m: int) -> list[str]:
        """Conflicts with the number of groups alone (checked again when the policy is built)."""
        if self.one_hot_factor <= 1.0 / m + 1e-9:
            return [
                f"one_hot_factor = {self.one_hot_factor} is not above 1/m = {1 / m:.3f} for {m} groups: "
                "LearnParams mixtures would not single out a group, so A cannot be estimated"
            ]
        return []

    def setting_problems(self, m: int, train: TrainConfig) -> list[str]:
        out = self.group_problems(m) + _mixture_problems("prior", self.prior, m)
        round_len = self.update_steps or train.steps - self.prior_steps
        if self.lp_steps_per_round(m) >= round_len:
            out.append(
                f"LearnParams takes lp_rounds x lp_steps x m = {self.lp_steps_per_round(m)} steps, not fewer "
                f"than a round ({round_len} steps): no step would train on the learned mixture"
            )
        return out


def _mixture_problems(name: str, p: tuple[float, ...] | None, m: int) -> list[str]:
    """A given mixture has one weight per group and sums to 1 (its entries' sign is their field's range)."""
    if p is None:
        return []
    if len(p) != m:
        return [f"{name} has {len(p)} weights for {m} groups; give one per group, in the setting's order"]
    if not math.isclose(sum(p), 1.0, abs_tol=1e-6):
        return [f"{name} sums to {sum(p):.6g}; a mixture sums to 1"]
    return []


@dataclass(frozen=True)
class SkillItConfig(MethodConfig):
    """Skill-It (``methods.skillit``)."""

    eta: float = ranged(0.2, gt=0)
    """EG step size (paper 0.2)."""
    window: int = ranged(3, ge=1)
    """Validation loss vectors summed per update (paper 3)."""
    update_steps: int | None = ranged(None, ge=1)
    """Re-mix every N steps; a positive multiple of ``train.eval_every`` (paper 500 of 5000); required."""
    cumulative: bool = False
    """False (paper and reference): each update starts from uniform; true: multiply onto the previous p."""

    def setting_problems(self, m: int, train: TrainConfig) -> list[str]:
        return self.schedule_problems(train.eval_every)

    def schedule_problems(self, eval_every: int) -> list[str]:
        """Skill-It re-mixes after an evaluation: ``update_steps`` must be a multiple of ``eval_every``."""
        update = self.update_steps
        if update is None or update % eval_every:
            return [
                f"update_steps ({update}) must be a positive multiple of train.eval_every "
                f"({eval_every}); the paper updates every 2 evaluations (500 steps with evals every 250)"
            ]
        return []


@dataclass(frozen=True)
class DoremiConfig(MethodConfig):
    """DoReMi (``methods.doremi``): the proxy's settings; the final run trains on its averaged weights."""

    mu: float = ranged(0.01, gt=0)
    """Log-weight step size (paper 0.01)."""
    smoothing: float = ranged(1e-3, ge=0, le=1)
    """Mix of uniform into the weights (paper 1e-3; 1: always uniform)."""
    reference_microbatch: bool = False
    """True: the reference code's proxy (2x steps at half batch, first micro-batch of each pair discarded)."""

    def setting_problems(self, m: int, train: TrainConfig) -> list[str]:
        if self.reference_microbatch and train.batch_size % 2:
            return [
                f"reference_microbatch halves the batch: train.batch_size ({train.batch_size}) must be even, "
                "or set reference_microbatch: false"
            ]
        return []

    def proxy_parallel_problems(self, ranks: int, m: int) -> list[str]:
        if self.reference_microbatch:
            return [f"methods.doremi.reference_microbatch runs single-process only, not over {ranks} GPUs"]
        return []

    def proxy_train(self, train: TrainConfig) -> TrainConfig:
        if not self.reference_microbatch:
            return train
        return dataclasses.replace(train, steps=2 * train.steps, batch_size=train.batch_size // 2)


@dataclass(frozen=True)
class DogeConfig(MethodConfig):
    """DoGE (``methods.doge``): the proxy's settings; the final run trains on its averaged weights."""

    mu: float = ranged(0.01, gt=0)
    """log w += score / mu (paper 0.01 for m = 2, 3; 0.1 for m = 7)."""
    val_batch_size: int = ranged(2, ge=1)
    """Validation sequences per step (paper 2 or 4)."""
    score_max: float = ranged(5.0, gt=0)
    """Scores are clipped to [0, score_max * lr] (paper 5)."""
    reference_val_sampling: bool = False
    """True: the reference code's validation batch, drawn with replacement from the pooled split."""

    def val_rows(self, m: int) -> int:
        """Rows of a proxy step's validation batch over m groups: ``val_batch_size``, or without the
        reference's sampling the same number from every group, at least one each."""
        return self.val_batch_size if self.reference_val_sampling else max(1, self.val_batch_size // m) * m

    def proxy_parallel_problems(self, ranks: int, m: int) -> list[str]:
        if self.val_rows(m) < ranks:
            return [f"methods.doge.val_batch_size gives fewer validation rows than {ranks} GPUs"]
        return []


@dataclass(frozen=True)
class OlmixConfig(MethodConfig):
    """Olmix (``methods.olmix``; ``olmix_pilots`` uses the fit and solve fields on DML's pilots)."""

    swarm_factor: float = ranged(3.0, gt=0)
    """c: the swarm has K = ceil(c (m + 1)) proxy runs."""
    min_strength: float = ranged(0.1, gt=0)
    """Smallest Dirichlet concentration of the swarm (around the natural distribution)."""
    max_strength: float = ranged(5.0, gt=0)
    """Largest concentration (not below ``min_strength``); 15 log-spaced values are tried per draw."""
    minimum_weight: float = ranged(0.002, ge=0, lt=1)
    """Swarm weights below this are zeroed."""
    swarm_repetitions: float = ranged(4.0, gt=0)
    """Epochs of a domain a proxy may take (the swarm's bound at proxy scale)."""
    proxy_model: str = "nano"
    """The proxies' model preset (smaller than the target); the target's context and vocabulary."""
    proxy_steps_fraction: float = ranged(1.0, gt=0, le=1)
    """A proxy's steps as a fraction of the final run's."""
    kl_weight: float = ranged(0.05, ge=0)
    """lambda: the pull toward the natural distribution (paper 0.05; 0: none)."""
    repetitions: float = ranged(4.0, gt=0)
    """k: epochs of a domain the final run may take, p_j <= k N_j / R (paper 4)."""
    huber_delta: float = ranged(0.02, gt=0)
    """Huber threshold of each task law's fit."""
    ridge: float = ranged(0.0, ge=0)
    """Ridge on the spread of each task's t, relative to the task's own spread (0: olmix's objective; a
    domain absent from the swarm gets the mean coefficient without it)."""
    n_random: int = ranged(10, ge=1)
    """Random starts per log-c start (10 x n_random starts per task; Olmix 30)."""
    tasks: tuple[str, ...] | None = None
    """Groups whose validation splits are the tasks each proxy is scored on, in bits per byte; a task need
    not be mixed (an extra evaluation set). None: the setting's groups."""
    natural: dict[str, float] | None = ranged(None, ge=0)
    """group -> weight (a positive sum): the natural distribution when the packed train tokens do not give
    it (a ``train_token_margin`` truncates them); None: the packed tokens' proportions."""
    regressor: str = "log_linear"
    """The law fitted per task (pipeline_lib.olmix.fit.REGRESSORS): linear, log_linear (paper), lightgbm, gp,
    bimix, autoscale or search; log_linear's settings are huber_delta, ridge and n_random."""
    proposer: str = "exact"
    """How the mix is chosen (PROPOSERS): exact (paper; needs log_linear, uses kl_weight), simulation,
    search or topk (RegMix's)."""
    lightgbm: LightGBMSettings = field(default_factory=LightGBMSettings)
    """regressor lightgbm's settings (RegMix's)."""
    gp: GPSettings = field(default_factory=GPSettings)
    """regressor gp's settings."""
    bimix: BimixSettings = field(default_factory=BimixSettings)
    """regressor bimix's settings."""
    autoscale: AutoscaleSettings = field(default_factory=AutoscaleSettings)
    """regressor autoscale's settings."""
    simulation: SimulationSettings = field(default_factory=SimulationSettings)
    """proposer simulation's settings."""
    topk: TopKSettings = field(default_factory=TopKSettings)
    """proposer topk's settings (RegMix's search)."""
    task_families: dict[str, list[str]] | None = None
    """family -> tasks: each family's mean metric is one task of the fit, and only families are fitted
    (olmix's aggregate_task_families); None: every task."""
    drop_metrics: tuple[str, ...] = ()
    """Tasks (or families) left out of the fit and the objective (olmix's drop_metrics)."""
    objective: str = "groups"
    """What the laws are fitted on and the proposal minimises: ``groups`` (each task group's validation BPB,
    ``tasks`` above), ``tasks`` (the downstream tasks of the top-level ``tasks:`` block, val variants, one
    law per task) or ``both`` (every column of both). The swarm's proxies score what it needs."""
    obj_weights: dict[str, float] | None = ranged(None, ge=0)
    """task -> weight (a positive sum) in the proposal's objective, an unnamed task 1, normalised to sum 1
    (olmix's obj_weights; olmix hands them to the exact solve unnormalised, which weakens lambda by their
    sum)."""
    sampling: str = "olmix"
    """How its swarm is drawn (SAMPLER_NAMES): ``olmix`` (the draw above: min/max_strength, minimum_weight,
    swarm_repetitions) or ``regmix`` (RegMix's, ``regmix_sampling``). Swarm-fitted methods with the same
    sampling share one swarm (pilots/swarm/); another sampling is a swarm of its own (pilots/swarm_<name>/),
    whose proxies count in that method's runs and FLOPs."""
    regmix_sampling: RegMixSamplingSettings = field(default_factory=RegMixSamplingSettings)
    """sampling regmix's settings (RegMix's defaults)."""

    def to_dict(self) -> dict[str, Any]:
        """The fields, less the keys added with the regressor and proposer units at their defaults: a step's
        ``--config`` and its hash do not grow with options it does not use."""
        out = dataclasses.asdict(self)
        defaults = OlmixConfig()
        late = _UNIT_KEYS + _TARGET_KEYS
        return {k: v for k, v in out.items() if k not in late or getattr(self, k) != getattr(defaults, k)}

    def swarm_dict(self) -> dict[str, Any]:
        """The fields the swarm draw reads, its ``--config``: changing the fit, the proposal or the proxies'
        schedule redraws no swarm (and so retrains no proxy that the draw would make stale). Olmix's sampling
        gives the keys it always gave; RegMix's adds ``sampling`` and its settings."""
        if self.sampling == "olmix":
            return {k: getattr(self, k) for k in _SWARM_KEYS}
        return {
            "swarm_factor": self.swarm_factor,
            "sampling": self.sampling,
            "regmix_sampling": self.regmix_sampling.to_dict(),
        }

    @property
    def metrics(self) -> tuple[str, ...]:
        """The run.json metrics its laws fit (:data:`OBJECTIVES` of its objective): the groups' validation
        BPB, the downstream tasks' (their swarm proxies then score the tasks' val variants) or both."""
        return OBJECTIVES[self.objective]

    def proxy_dict(self) -> dict[str, Any]:
        """What the swarm's runs are: the draw's fields, the proxies' model, schedule and what they score
        (methods fitting one swarm must agree on them)."""
        return self.swarm_dict() | {
            "proxy_model": self.proxy_model,
            "proxy_steps_fraction": self.proxy_steps_fraction,
            "objective": self.objective,
        }

    def problems(self) -> list[tuple[str, str]]:
        from pipeline_lib.model.config import PRESETS

        out = []
        low, high, model = self.min_strength, self.max_strength, self.proxy_model
        if low > high:
            out.append(("min_strength", f"must not exceed max_strength ({high}), got {low}"))
        for name in ("natural", "obj_weights"):
            weights = getattr(self, name)
            ranged_out = weights is None or min(weights.values(), default=0) < 0  # a negative: its range
            if not ranged_out and not sum(weights.values()) > 0:
                out.append((name, f"weights must have a positive sum, got {weights}"))
        if self.tasks is not None and not self.tasks:
            out.append(("tasks", "must name at least one group, or be null (the setting's groups)"))
        if model not in PRESETS:
            out.append(("proxy_model", f"'{model}' is not a model preset; choose from {sorted(PRESETS)}"))
        if (why := pairing_problem(self.regressor, self.proposer)) is not None:
            out.append(("regressor" if why.startswith("regressor") else "proposer", why))
        if self.sampling not in SAMPLER_NAMES:
            out.append(("sampling", f"must be one of {', '.join(SAMPLER_NAMES)}, got '{self.sampling}'"))
        if self.objective not in OBJECTIVES:
            out.append(("objective", f"must be one of {', '.join(OBJECTIVES)}, got '{self.objective}'"))
        families = self.task_families
        if families is not None and (not families or not all(families.values())):
            out.append(("task_families", "must map each family to a non-empty list of tasks"))
        return out


_SWARM_KEYS = ("swarm_factor", "min_strength", "max_strength", "minimum_weight", "swarm_repetitions")
_UNIT_KEYS = ("regressor", "proposer", "lightgbm", "gp", "bimix", "autoscale", "simulation", "topk")
_TARGET_KEYS = ("task_families", "drop_metrics", "obj_weights", "objective", "sampling", "regmix_sampling")
"""OlmixConfig's keys added with the regressor and proposer units (left out of to_dict at their defaults)."""
OBJECTIVES = {"groups": ("task_bpb",), "tasks": ("downstream_bpb",), "both": ("task_bpb", "downstream_bpb")}
"""``methods.olmix.objective`` -> the run.json metrics (``RunRecord.metric``) the laws are fitted on."""


@dataclass(frozen=True)
class SwarmMemberConfig(MethodConfig):
    """A proxy of Olmix's swarm: which row of the swarm file it trains on."""

    index: int = ranged(0, ge=0)
    """The row of the swarm's mixtures."""


@dataclass(frozen=True)
class AioliPlusConfig(MethodConfig):
    """Aioli + X (restricted setting): X's policy for ``aioli.prior_steps`` steps, then Aioli."""

    aioli: AioliConfig
    """Aioli's settings, ``prior_steps`` set from ``restricted.prior_fraction``."""
    prior_method: str
    """X, the baseline whose policy trains the prefix."""
    prior: dict[str, Any] = field(default_factory=dict)
    """X's settings, as :meth:`MethodConfig.to_dict` wrote them."""

    def setting_problems(self, m: int, train: TrainConfig) -> list[str]:
        return self.aioli.setting_problems(m, train)

    def problems(self) -> list[tuple[str, str]]:
        if self.prior_method.startswith("aioli"):
            return [
                ("prior_method", f"aioli+{self.prior_method}: '{self.prior_method}' is not a baseline method")
            ]
        return []


def build_config(
    cls: type[MethodConfig], params: Mapping[str, Any], where: str, origins: Mapping[str, str] | None = None
) -> MethodConfig:
    """A method's typed config ``cls`` from its settings. A :class:`ConfigError` names each bad field by its
    path: the block that set it (``origins``, parameter -> block path; default ``where``), then the field,
    e.g. ``methods.aioli.eta: must be > 0, got 0``. A nested section (Aioli + X's ``aioli``, Olmix's
    ``gp``) is built from its mapping and checked as its own block."""
    values = dict(params)
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        nested = hints.get(key)
        if _is_section(nested) and isinstance(value, Mapping):
            values[key] = build_config(nested, value, f"{where}.{key}")
    problems = parameter_problems(cls, values, where, origins, ranges=False)
    if problems:
        raise ConfigError(*problems)
    values = {k: tuple(v) if isinstance(v, list) and _takes_tuple(hints[k]) else v for k, v in values.items()}
    try:
        return cls(**values)
    except FieldErrors as err:  # the declared ranges, then the cross-field rules
        raise ConfigError(*(f"{_path(f, where, origins)}: {message}" for f, message in err.fields)) from None


def parameter_problems(
    cls: type[MethodConfig],
    values: Mapping[str, Any],
    where: str,
    origins: Mapping[str, str] | None = None,
    ranges: bool = True,
) -> list[str]:
    """Each parameter on its own, named by its path: unknown names, then wrong types and (``ranges``) values
    outside their field's declared range; no cross-field rule, so a block is checked without the blocks it
    merges with."""
    known = sorted(f.name for f in dataclasses.fields(cls))
    unknown: dict[str, list[str]] = {}
    for key in sorted(set(values) - set(known)):
        unknown.setdefault(_path("", where, origins, key), []).append(key)
    if unknown:
        return [f"{block}: unknown parameter(s) {keys}; known: {known}" for block, keys in unknown.items()]
    hints = typing.get_type_hints(cls)
    sections = {k: v for k, v in values.items() if _is_section(hints[k]) and isinstance(v, Mapping)}
    typed = {k: v for k, v in values.items() if _fits(tuple(v) if isinstance(v, list) else v, hints[k])}
    out = [
        f"{_path(k, where, origins)}: must be {_type_name(hints[k])}, got {v!r}"
        for k, v in values.items()
        if k not in typed and k not in sections
    ]
    for key, section in sections.items():  # a nested section (Olmix's gp): its own fields, by path
        out += parameter_problems(hints[key], section, _path(key, where, origins), ranges=ranges)
    if not ranges:
        return out
    return out + [f"{_path(f, where, origins)}: {msg}" for f, msg in range_problems(cls, typed)]


def _path(field_name: str, where: str, origins: Mapping[str, str] | None, key: str | None = None) -> str:
    """``<block>.<field>``: the block that set the parameter (``origins``) or ``where``; the field may name an
    entry (``natural.arxiv``, ``prior[0]``)."""
    top = key or field_name.split(".")[0].split("[")[0]
    block = (origins or {}).get(top, where)
    return f"{block}.{field_name}" if field_name else block


def _is_section(hint: Any) -> bool:
    """Whether a field holds a nested checked section (built from a mapping of its own)."""
    return isinstance(hint, type) and issubclass(hint, Checked)


def _takes_tuple(hint: Any) -> bool:
    """Whether a field's type admits a tuple (YAML gives a list)."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return any(typing.get_origin(h) is tuple for h in (typing.get_args(hint) if union else (hint,)))


def _fits(value: Any, hint: Any) -> bool:
    """Whether a YAML value has the annotated type (int is a float; bool is neither)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        return isinstance(value, tuple) and all(_fits(v, typing.get_args(hint)[0]) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(_fits(k, key) and _fits(v, item) for k, v in value.items())
    return isinstance(value, origin or hint)


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("NoneType", "None")
