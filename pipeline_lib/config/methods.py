"""Typed method settings (torch-free: the Snakefile loads it).

Every method has one frozen config class (the registry, :mod:`pipeline_lib.config.registry`, names it);
``load_project`` builds every method's config per setting, so an unknown parameter, a wrong type or a
cross-field conflict stops the dry run with the field's path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_lib.config.types import ConfigError, MethodConfig, TrainConfig
from pipeline_lib.olmix.fit.settings import (
    AutoscaleSettings,
    BimixSettings,
    GPSettings,
    LightGBMSettings,
    SimulationSettings,
)


@dataclass(frozen=True)
class NoParams(MethodConfig):
    """Stratified, grid search and DML take no parameters."""


@dataclass(frozen=True)
class StaticConfig(MethodConfig):
    """A fixed mixture: ``settings.<s>.static`` for the ``static`` method, a grid point for a pilot."""

    proportions: tuple[float, ...] | None = None
    """The mixture, in the setting's group order (None: the setting has no ``static`` proportions)."""


@dataclass(frozen=True)
class AioliConfig(MethodConfig):
    """Aioli (``methods.aioli``); the paper's symbols in the field docs."""

    lp_rounds: int = 4
    """k: random orders of the groups per LearnParams."""
    lp_steps: int = 4
    """s: training steps on each smoothed one-hot mixture."""
    update_steps: int | None = 250
    """U: round length in steps, LearnParams included; None: one round for the whole run (aioli_static)."""
    eta: float = 0.2
    """Exponentiated-gradient step size."""
    one_hot_factor: float = 0.625
    """epsilon_1: weight of the hot group in the LearnParams mixtures; must exceed 1/m."""
    ema: float | None = None
    """gamma: A-bar = (1 - gamma) A + gamma A-bar_prev from uniform; None: cumulative EG on A."""
    normalize: bool = True
    """Shift A to be non-negative, then scale its entries to sum to 1."""
    diagonal: bool = False
    """Aioli-diagonal: keep only A_ii = beta_ii / epsilon_1."""
    prior_steps: int = 0
    """Train this many steps on a prior first (``prior``, or X's policy for Aioli + X), then from uniform."""
    prior: tuple[float, ...] | None = None
    """The prior mixture of the first ``prior_steps`` steps (plain Aioli)."""
    lp_after_warmup: bool = False
    """Hold the first LearnParams until ``train.warmup_steps`` have passed: loss drops inside the warm-up
    grow with the learning rate, so A would rank groups by when LearnParams visited them."""

    def problems(self) -> list[str]:
        out = [f"{n} must be >= 1" for n in ("lp_rounds", "lp_steps") if getattr(self, n) < 1]
        if self.update_steps is not None and self.update_steps < 1:
            out.append("update_steps must be >= 1 or null")
        if not 0 < self.one_hot_factor <= 1:
            out.append("one_hot_factor must be in (0, 1]")
        if self.ema is not None and not 0 <= self.ema < 1:
            out.append("ema must be in [0, 1) or null")
        if self.prior_steps < 0:
            out.append("prior_steps must be >= 0")
        return out

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
        out = self.group_problems(m)
        round_len = self.update_steps or train.steps - self.prior_steps
        if self.lp_steps_per_round(m) >= round_len:
            out.append(
                f"LearnParams takes lp_rounds x lp_steps x m = {self.lp_steps_per_round(m)} steps, not fewer "
                f"than a round ({round_len} steps): no step would train on the learned mixture"
            )
        return out


@dataclass(frozen=True)
class SkillItConfig(MethodConfig):
    """Skill-It (``methods.skillit``)."""

    eta: float = 0.2
    """EG step size (paper 0.2)."""
    window: int = 3
    """Validation loss vectors summed per update (paper 3)."""
    update_steps: int | None = None
    """Re-mix every N steps; a positive multiple of ``train.eval_every`` (paper 500 of 5000)."""
    cumulative: bool = False
    """False (paper and reference): each update starts from uniform; true: multiply onto the previous p."""

    def problems(self) -> list[str]:
        out = [] if self.eta > 0 else ["eta must be > 0"]
        return out + ([] if self.window >= 1 else ["window must be >= 1"])

    def setting_problems(self, m: int, train: TrainConfig) -> list[str]:
        return self.schedule_problems(train.eval_every)

    def schedule_problems(self, eval_every: int) -> list[str]:
        """Skill-It re-mixes after an evaluation: ``update_steps`` must be a multiple of ``eval_every``."""
        update = self.update_steps
        if update is None or update < 1 or update % eval_every:
            return [
                f"update_steps ({update}) must be a positive multiple of train.eval_every "
                f"({eval_every}); the paper updates every 2 evaluations (500 steps with evals every 250)"
            ]
        return []


@dataclass(frozen=True)
class DoremiConfig(MethodConfig):
    """DoReMi (``methods.doremi``): the proxy's settings; the final run trains on its averaged weights."""

    mu: float = 0.01
    """Log-weight step size (paper 0.01)."""
    smoothing: float = 1e-3
    """Mix of uniform into the weights (paper 1e-3)."""
    reference_microbatch: bool = False
    """True: the reference code's proxy (2x steps at half batch, first micro-batch of each pair discarded)."""

    def problems(self) -> list[str]:
        out = [] if self.mu > 0 else ["mu must be > 0"]
        return out + ([] if 0 <= self.smoothing <= 1 else ["smoothing must be in [0, 1]"])

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

    mu: float = 0.01
    """log w += score / mu (paper 0.01 for m = 2, 3; 0.1 for m = 7)."""
    val_batch_size: int = 2
    """Validation sequences per step (paper 2 or 4)."""
    score_max: float = 5.0
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

    def problems(self) -> list[str]:
        out = [] if self.mu > 0 else ["mu must be > 0"]
        out += [] if self.val_batch_size >= 1 else ["val_batch_size must be >= 1"]
        return out + ([] if self.score_max > 0 else ["score_max must be > 0"])


@dataclass(frozen=True)
class OlmixConfig(MethodConfig):
    """Olmix (``methods.olmix``; ``olmix_pilots`` uses the fit and solve fields on DML's pilots)."""

    swarm_factor: float = 3.0
    """c: the swarm has K = ceil(c (m + 1)) proxy runs."""
    min_strength: float = 0.1
    """Smallest Dirichlet concentration of the swarm (around the natural distribution)."""
    max_strength: float = 5.0
    """Largest concentration; 15 log-spaced values are tried per draw."""
    minimum_weight: float = 0.002
    """Swarm weights below this are zeroed."""
    swarm_repetitions: float = 4.0
    """Epochs of a domain a proxy may take (the swarm's bound at proxy scale)."""
    proxy_model: str = "nano"
    """The proxies' model preset (smaller than the target); the target's context and vocabulary."""
    proxy_steps_fraction: float = 1.0
    """A proxy's steps as a fraction of the final run's."""
    kl_weight: float = 0.05
    """lambda: the pull toward the natural distribution (paper 0.05)."""
    repetitions: float = 4.0
    """k: epochs of a domain the final run may take, p_j <= k N_j / R (paper 4)."""
    huber_delta: float = 0.02
    """Huber threshold of each task law's fit."""
    ridge: float = 0.0
    """Ridge on the spread of each task's t, relative to the task's own spread (0: olmix's objective; a
    domain absent from the swarm gets the mean coefficient without it)."""
    n_random: int = 10
    """Random starts per log-c start (10 x n_random starts per task; Olmix 30)."""
    tasks: tuple[str, ...] | None = None
    """Groups whose validation splits are the tasks each proxy is scored on, in bits per byte; a task need
    not be mixed (an extra evaluation set). None: the setting's groups."""
    natural: dict[str, float] | None = None
    """group -> weight: the natural distribution when the packed train tokens do not give it (a
    ``train_token_margin`` truncates them); None: the packed tokens' proportions."""
    regressor: str = "log_linear"
    """The law fitted per task (pipeline_lib.olmix.fit.REGRESSORS): linear, log_linear (paper), lightgbm, gp,
    bimix, autoscale or search; log_linear's settings are huber_delta, ridge and n_random."""
    proposer: str = "exact"
    """How the mix is chosen (PROPOSERS): exact (paper; needs log_linear, uses kl_weight), simulation or
    search."""
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
    task_families: dict[str, list[str]] | None = None
    """family -> tasks: each family's mean metric is one task of the fit, and only families are fitted
    (olmix's aggregate_task_families); None: every task."""
    drop_metrics: tuple[str, ...] = ()
    """Tasks (or families) left out of the fit and the objective (olmix's drop_metrics)."""
    obj_weights: dict[str, float] | None = None
    """task -> weight in the proposal's objective, an unnamed task 1, normalised to sum 1 (olmix's
    obj_weights; olmix hands them to the exact solve unnormalised, which weakens lambda by their sum)."""

    def to_dict(self) -> dict[str, Any]:
        """The fields, less the keys added since issue 26 at their defaults: a step's ``--config`` and its
        hash do not grow with options it does not use (as LATE_TRAIN_KEYS do)."""
        out = dataclasses.asdict(self)
        defaults = OlmixConfig()
        late = _UNIT_KEYS + _TARGET_KEYS
        return {k: v for k, v in out.items() if k not in late or getattr(self, k) != getattr(defaults, k)}

    def swarm_dict(self) -> dict[str, Any]:
        """The fields the swarm draw reads, its ``--config``: changing the fit, the proposal or the proxies'
        schedule redraws no swarm (and so retrains no proxy that the draw would make stale)."""
        return {k: getattr(self, k) for k in _SWARM_KEYS}

    def problems(self) -> list[str]:
        return self.field_problems() + self.unit_problems() + self.target_problems()

    def target_problems(self) -> list[str]:
        """The task hooks' shapes (their names are checked against the swarm's tasks when it is fitted)."""
        out = []
        weights = self.obj_weights
        if weights is not None and (min(weights.values(), default=-1) < 0 or not sum(weights.values())):
            out.append("obj_weights must map tasks to non-negative weights with a positive sum")
        families = self.task_families
        if families is not None and (not families or not all(families.values())):
            out.append("task_families must map each family to a non-empty list of tasks")
        return out

    def unit_problems(self) -> list[str]:
        """The regressor and proposer: known names, a workable pair, each section's ranges."""
        from pipeline_lib.olmix.fit.proposers import pairing_problem

        why = pairing_problem(self.regressor, self.proposer)
        out = [] if why is None else [why]
        for key in _UNIT_KEYS[2:]:
            out += [f"{key}.{msg}" for msg in getattr(self, key).problems()]
        return out

    def field_problems(self) -> list[str]:
        from pipeline_lib.model.config import PRESETS

        out = [f"{n} must be > 0" for n in _POSITIVE_OLMIX if getattr(self, n) <= 0]
        if self.min_strength > self.max_strength:
            out.append("min_strength must not exceed max_strength")
        if not 0 <= self.minimum_weight < 1:
            out.append("minimum_weight must be in [0, 1)")
        if not 0 < self.proxy_steps_fraction <= 1:
            out.append("proxy_steps_fraction must be in (0, 1]")
        if self.kl_weight < 0 or self.n_random < 1 or self.ridge < 0:
            out.append("kl_weight and ridge must be >= 0 and n_random >= 1")
        if self.natural is not None and (
            min(self.natural.values(), default=-1) < 0 or not sum(self.natural.values())
        ):
            out.append("natural must map groups to non-negative weights with a positive sum")
        if self.proxy_model not in PRESETS:
            out.append(
                f"proxy_model '{self.proxy_model}' is not a model preset; choose from {sorted(PRESETS)}"
            )
        return out


_POSITIVE_OLMIX = ("swarm_factor", "min_strength", "swarm_repetitions", "repetitions", "huber_delta")
_SWARM_KEYS = ("swarm_factor", "min_strength", "max_strength", "minimum_weight", "swarm_repetitions")
_UNIT_KEYS = ("regressor", "proposer", "lightgbm", "gp", "bimix", "autoscale", "simulation")
_TARGET_KEYS = ("task_families", "drop_metrics", "obj_weights")
"""OlmixConfig's keys added with the regressor and proposer units (left out of to_dict at their defaults)."""


@dataclass(frozen=True)
class SwarmMemberConfig(MethodConfig):
    """A proxy of Olmix's swarm: which row of the swarm file it trains on."""

    index: int = 0


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

    def problems(self) -> list[str]:
        if self.prior_method.startswith("aioli"):
            return [f"aioli+{self.prior_method}: '{self.prior_method}' is not a baseline method"]
        return []


def build_config(cls: type[MethodConfig], params: Mapping[str, Any], where: str) -> MethodConfig:
    """A method's typed config ``cls`` from its settings; a :class:`ConfigError` names ``where`` (the config
    path) and the field. A nested config (Aioli + X's ``aioli``, Olmix's ``gp``) is built from its mapping;
    a nested settings class that is not a MethodConfig is checked by its parent's ``problems``."""
    values = dict(params)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    for key in ("prior", "proportions", "tasks", "drop_metrics"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        nested = hints[key]
        if isinstance(nested, type) and dataclasses.is_dataclass(nested) and isinstance(value, Mapping):
            values[key] = build_config(nested, value, f"{where}.{key}")
    wrong = [
        f"{k} must be {_type_name(hints[k])}, got {v!r}" for k, v in values.items() if not _fits(v, hints[k])
    ]
    if wrong:
        raise ConfigError(f"{where}: " + "; ".join(wrong))
    try:
        return cls(**values)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


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
    return isinstance(value, origin or hint)


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("NoneType", "None")
