"""The project configuration: typed views of the (schema-validated) YAML, cross-field checks, run specs.

The Snakefile validates the raw dict against ``config/config.schema.yaml`` and then calls
:func:`load_project`, which gathers every cross-field problem into one error. Steps receive a
:class:`RunSpec` (plain JSON) and never see the raw config.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from pipeline_lib.model.config import ModelConfig

SPLITS = ("train", "val", "test")


class ConfigError(ValueError):
    """A configuration problem; the message names the field and the fix."""


def deep_merge(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """Return ``base`` updated recursively with ``override`` (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _build(cls: type, spec: dict[str, Any] | None, where: str) -> Any:
    spec = dict(spec or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    return cls(**spec)


@dataclass(frozen=True)
class SourceConfig:
    """Where documents come from. ``jsonl``: a local directory; ``slimpajama``: a `datasets` source."""

    kind: str = "jsonl"
    path: str = "data/sample"
    file_pattern: str = "{group}.jsonl.gz"
    group_field: str = "domain"
    id_field: str | None = "source"
    max_docs_per_group: int | None = None
    group_names: dict[str, str] = field(default_factory=dict)
    # The pack step takes train documents until (largest run using the group) x margin tokens; None: all.
    train_token_margin: float | None = None
    cache_dir: str | None = None  # slimpajama: the `datasets` cache (None: HF_HOME's)


@dataclass(frozen=True)
class SplitConfig:
    """Document-level split by a hash of a stable id: fractions of documents for val and test."""

    val_fraction: float = 0.05
    test_fraction: float = 0.05
    salt: str = "mixpipe"


@dataclass(frozen=True)
class TokenizerConfig:
    """``bpe``: train a byte-level BPE on the train split; ``file``: a tokenizer.json; ``hub``: by name."""

    kind: str = "bpe"
    vocab_size: int = 4096
    path: str | None = None
    name: str | None = None
    eot_token: str = "<|endoftext|>"
    append_eot: bool = True
    training_chars_per_group: int | None = None
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DataConfig:
    source: SourceConfig
    split: SplitConfig
    tokenizer: TokenizerConfig

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> DataConfig:
        return cls(
            source=_build(SourceConfig, spec.get("source"), "data.source"),
            split=_build(SplitConfig, spec.get("split"), "data.split"),
            tokenizer=_build(TokenizerConfig, spec.get("tokenizer"), "data.tokenizer"),
        )


@dataclass(frozen=True)
class TrainConfig:
    """One training run's optimisation and evaluation settings (paper defaults where it has them)."""

    steps: int = 200
    batch_size: int = 8
    lr: float = 5e-4
    init_lr: float = 1e-7
    min_lr: float = 1e-4
    warmup_steps: int = 20
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    grad_clip: float = 1.0
    eval_every: int = 50
    val_sequences: int = 32
    eval_batch_size: int = 32
    device: str = "auto"
    precision: str = "auto"
    compile: bool = False
    save_checkpoint: bool = False
    test_eval: bool = True  # learning runs whose perplexity no table reports skip the test pass

    def __post_init__(self) -> None:
        problems = []
        for name in ("steps", "batch_size", "eval_every", "val_sequences", "eval_batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"train.{name} must be >= 1")
        if self.warmup_steps < 0 or self.warmup_steps > self.steps:
            problems.append(f"train.warmup_steps must be in [0, train.steps={self.steps}]")
        if not 0 <= self.min_lr <= self.lr:
            problems.append("train.min_lr must be in [0, train.lr]")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            problems.append(f"train.device must be auto, cpu or cuda[:N], got '{self.device}'")
        if self.precision not in ("auto", "fp32", "bf16"):
            problems.append(f"train.precision must be auto, fp32 or bf16, got '{self.precision}'")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass(frozen=True)
class Setting:
    """A named list of groups with its own model/train overrides (one column of the paper's tables)."""

    name: str
    groups: tuple[str, ...]
    paper: str | None
    static: dict[str, float] | None
    model: ModelConfig
    train: TrainConfig
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The restricted view of a setting ("<name>/restricted"): the same groups and final runs, but the
    # baselines learn their proportions on runs that together last ``learn_fraction`` of a final run.
    base: str | None = None
    learn_fraction: float | None = None

    @property
    def restricted(self) -> bool:
        return self.learn_fraction is not None


@dataclass(frozen=True)
class RunSpec:
    """Everything one training run needs; serialised to JSON on the rule's command line."""

    setting: str
    groups: tuple[str, ...]
    method: str
    method_params: dict[str, Any]
    seed: int
    model: ModelConfig
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["groups"] = list(self.groups)
        return out

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> RunSpec:
        return cls(
            setting=spec["setting"],
            groups=tuple(spec["groups"]),
            method=spec["method"],
            method_params=dict(spec.get("method_params") or {}),
            seed=int(spec["seed"]),
            model=ModelConfig(**spec["model"]),
            train=TrainConfig(**spec["train"]),
        )

    @property
    def tokens_per_step(self) -> int:
        return self.train.batch_size * self.model.context


@dataclass(frozen=True)
class PilotConfig:
    """Pilot sweeps: static runs at grid mixtures (grid search, DML, the static law's fidelity), and the
    dynamic-law sweep (a parent run stopped at a break step, short children under each grid mixture)."""

    n_mixtures: int | None = None
    steps_fraction: float = 1.0
    break_fraction: float = 0.5
    child_steps: int = 10

    def __post_init__(self) -> None:
        problems = []
        if self.n_mixtures is not None and self.n_mixtures < 2:
            problems.append("pilots.n_mixtures must be >= 2")
        if not 0 < self.steps_fraction <= 1:
            problems.append("pilots.steps_fraction must be in (0, 1]")
        if not 0 < self.break_fraction < 1:
            problems.append("pilots.break_fraction must be in (0, 1)")
        if self.child_steps < 1:
            problems.append("pilots.child_steps must be >= 1")
        if problems:
            raise ConfigError("; ".join(problems))

    def size(self, m: int) -> int:
        """Number of pilot mixtures: the 9-point grid for two groups; the paper's cover sizes otherwise."""
        if m == 2:
            return 9
        return self.n_mixtures if self.n_mixtures is not None else (9 if m == 3 else 10)


RESTRICTED_SUFFIX = "/restricted"
AIOLI_PLUS = "aioli+"  # "aioli+<X>": X's proportions for a prefix, then Aioli (the restricted setting)


@dataclass(frozen=True)
class RestrictedConfig:
    """The restricted setting (Aioli + X): each baseline X learns its proportions on shortened runs, then
    both X (its proportions for the whole run) and Aioli + X (X for a prefix, then Aioli) are trained."""

    settings: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("grid_search", "dml", "skillit", "doremi", "doge")
    learn_fraction: float = 0.5  # X's learning runs together last this fraction of a final run
    prior_fraction: float = 0.05  # Aioli + X: X's mixture for this fraction of the run (reference: 250/5000)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", tuple(self.settings))
        object.__setattr__(self, "methods", tuple(self.methods))
        problems = []
        if not 0 < self.learn_fraction <= 1:
            problems.append("restricted.learn_fraction must be in (0, 1]")
        if not 0 <= self.prior_fraction < 1:
            problems.append("restricted.prior_fraction must be in [0, 1)")
        unknown = sorted(set(self.methods) - set(RestrictedConfig.methods))
        if unknown:
            problems.append(
                f"restricted.methods: {unknown} learn no proportions; "
                f"choose from {list(RestrictedConfig.methods)}"
            )
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def run_methods(self) -> tuple[str, ...]:
        """The final runs of a restricted setting: every X, then every Aioli + X."""
        return self.methods + tuple(AIOLI_PLUS + x for x in self.methods)


@dataclass(frozen=True)
class Project:
    """The validated configuration of a whole workflow."""

    data: DataConfig
    settings: dict[str, Setting]
    methods: dict[str, dict[str, Any]]
    run_settings: tuple[str, ...]
    run_methods: tuple[str, ...]
    seeds: tuple[int, ...]
    pilots: PilotConfig = field(default_factory=PilotConfig)
    law_fidelity: bool = False
    restricted: RestrictedConfig = field(default_factory=RestrictedConfig)

    @property
    def restricted_settings(self) -> tuple[str, ...]:
        """The restricted views to run ("<setting>/restricted"), in ``restricted.settings`` order."""
        return tuple(s + RESTRICTED_SUFFIX for s in self.restricted.settings if self.restricted.methods)

    def methods_of(self, setting: str) -> tuple[str, ...]:
        """The final runs of a setting: ``run.methods``, or X and Aioli + X for a restricted view."""
        return self.restricted.run_methods if self.settings[setting].restricted else self.run_methods

    def learning_train(
        self, setting: str, n_runs: int, unrestricted_fraction: float = 1.0, test_eval: bool = False
    ) -> TrainConfig:
        """The schedule of one of a method's ``n_runs`` learning runs (pilots, one-hot runs, proxies): a
        fraction of the final run (``unrestricted_fraction``; restricted: ``learn_fraction / n_runs``), with
        the warm-up shortened in proportion; no test pass unless ``test_eval`` (a run a table reports)."""
        s = self.settings[setting]
        fraction = s.learn_fraction / n_runs if s.restricted else unrestricted_fraction
        steps = max(1, round(s.train.steps * fraction))
        warmup = min(steps, round(s.train.warmup_steps * steps / s.train.steps))
        return dataclasses.replace(s.train, steps=steps, warmup_steps=warmup, test_eval=test_eval)

    def pilots_are_runs(self, setting: str) -> bool:
        """Whether grid search's best pilot is its final run: unrestricted, with full-length pilots."""
        return not self.settings[setting].restricted and self.pilots.steps_fraction == 1.0

    def pilot_mixtures(self, setting: str, seed: int) -> list[list[float]]:
        """The setting's pilot grid for a seed (m = 2: p_1 in 0.1..0.9; m >= 3: a seeded Dirichlet cover)."""
        from pipeline_lib.lmo.grids import grid_mixtures

        m = len(self.settings[setting].groups)
        n = None if m == 2 else self.pilots.size(m)
        return [[float(v) for v in row] for row in grid_mixtures(m, n, seed)]

    def pilot_spec(self, setting: str, seed: int, index: int) -> RunSpec:
        """A static pilot run at grid mixture ``index``, ``pilots.steps_fraction`` of the final length."""
        base = self.run_spec(setting, "stratified", seed)
        n = len(self.pilot_mixtures(setting, seed))
        train = self.learning_train(setting, n, self.pilots.steps_fraction, self.pilots_are_runs(setting))
        params = {"proportions": self.pilot_mixtures(setting, seed)[index]}
        return dataclasses.replace(base, method="static", method_params=params, train=train)

    def dynamic_steps(self, setting: str) -> tuple[int, int]:
        """(break step of the parent, stop step of each child) on the final run's schedule."""
        steps = self.settings[setting].train.steps
        brk = max(1, round(steps * self.pilots.break_fraction))
        return brk, min(steps, brk + self.pilots.child_steps)

    def dynamic_child_spec(self, setting: str, seed: int, index: int) -> RunSpec:
        """A child of the dynamic sweep: the final run's schedule, at grid mixture ``index``."""
        params = {"proportions": self.pilot_mixtures(setting, seed)[index]}
        spec = self.run_spec(setting, "static", seed)
        train = dataclasses.replace(spec.train, test_eval=False)
        return dataclasses.replace(spec, method_params=params, train=train)

    @property
    def tokenizer_groups(self) -> list[str]:
        """Groups the tokenizer is trained on and the data stage packs: ``data.tokenizer.groups``, or every
        group of every defined setting (so choosing other ``run.settings`` never retrains it)."""
        if self.data.tokenizer.groups:
            return list(self.data.tokenizer.groups)
        seen: dict[str, None] = {}
        for setting in self.settings.values():
            seen.update(dict.fromkeys(setting.groups))
        return list(seen)

    def method_params(self, setting: str, method: str) -> dict[str, Any]:
        """``methods.<method>`` (after the method it ``extends``), then ``settings.<s>.methods.<method>``."""
        s = self.settings[setting]
        raw = {**(self.methods.get(method) or {}), **(s.methods.get(method) or {})}
        base = raw.pop("extends", None)
        return {**self.method_params(setting, base), **raw} if base else raw

    def run_spec(self, setting: str, method: str, seed: int) -> RunSpec:
        s = self.settings[setting]
        if method.startswith(AIOLI_PLUS):
            prior = method.removeprefix(AIOLI_PLUS)
            params = {
                **self.method_params(setting, "aioli"),
                "prior_method": prior,
                "prior_params": self.method_params(setting, prior),
                "prior_steps": round(s.train.steps * self.restricted.prior_fraction),
            }
        else:
            params = self.method_params(setting, method)
        if method == "static":
            params["proportions"] = [s.static[g] for g in s.groups] if s.static else None
        return RunSpec(setting, s.groups, method, params, int(seed), s.model, s.train)


def _check_proportions(where: str, groups: tuple[str, ...], props: dict[str, float]) -> list[str]:
    problems = []
    if set(props) != set(groups):
        problems.append(
            f"{where}: proportions must name exactly the setting's groups {list(groups)}, got {sorted(props)}"
        )
    if any(v < 0 for v in props.values()):
        problems.append(f"{where}: proportions must be non-negative, got {props}")
    total = sum(props.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        problems.append(f"{where}: proportions must sum to 1, they sum to {total:.6g}")
    return problems


def load_project(config: dict[str, Any], known_methods: set[str] | None = None) -> Project:
    """Turn the schema-validated config dict into a :class:`Project`.

    Raises one :class:`ConfigError` that lists every problem found."""
    problems: list[str] = []
    try:
        data = DataConfig.from_dict(config.get("data", {}))
    except (ConfigError, TypeError, ValueError) as err:
        raise ConfigError(str(err)) from err
    if data.tokenizer.kind not in ("bpe", "file", "hub"):
        problems.append(f"data.tokenizer.kind must be bpe, file or hub, got '{data.tokenizer.kind}'")
    if data.split.val_fraction <= 0 or data.split.test_fraction <= 0:
        problems.append("data.split: val_fraction and test_fraction must be > 0")
    if data.split.val_fraction + data.split.test_fraction >= 1:
        problems.append("data.split: val_fraction + test_fraction must be < 1")

    settings: dict[str, Setting] = {}
    for name, raw in (config.get("settings") or {}).items():
        where = f"settings.{name}"
        groups = tuple(raw.get("groups") or ())
        if len(groups) < 2 or len(set(groups)) != len(groups):
            problems.append(f"{where}.groups: give at least two distinct groups, got {list(groups)}")
        static = raw.get("static")
        if static is not None:
            problems += _check_proportions(f"{where}.static", groups, static)
        try:
            model = ModelConfig.from_dict(deep_merge(config.get("model", {}), raw.get("model")))
            train = _build(
                TrainConfig, deep_merge(config.get("train", {}), raw.get("train")), f"{where}.train"
            )
        except (ConfigError, TypeError, ValueError) as err:
            problems.append(f"{where}: {err}")
            continue
        settings[name] = Setting(
            name, groups, raw.get("paper"), static, model, train, raw.get("methods") or {}
        )

    run = config.get("run") or {}
    run_settings = tuple(run.get("settings") or settings)
    run_methods = tuple(run.get("methods") or ())
    seeds = tuple(run.get("seeds") or (0,))
    for name in run_settings:
        if name not in settings and f"settings.{name}" not in " ".join(problems):
            problems.append(f"run.settings: unknown setting '{name}'; defined: {sorted(settings)}")
    methods = dict(config.get("methods") or {})
    for method in run_methods:
        if known_methods is not None and method not in known_methods:
            problems.append(f"run.methods: unknown method '{method}'; available: {sorted(known_methods)}")
        if method == "static":
            missing = [s for s in run_settings if s in settings and settings[s].static is None]
            if missing:
                problems.append(
                    f"run.methods includes 'static' but settings {missing} have no 'static' proportions; "
                    "add settings.<name>.static: {group: weight, ...}"
                )
    try:
        restricted = _build(RestrictedConfig, config.get("restricted"), "restricted")
    except ConfigError as err:
        problems.append(str(err))
        restricted = RestrictedConfig()
    for name in restricted.settings:
        if name not in settings:
            problems.append(f"restricted.settings: unknown setting '{name}'; defined: {sorted(settings)}")
    for name in [n for n in restricted.settings if n in settings] if restricted.methods else []:
        base = settings[name]
        view = dataclasses.replace(
            base, name=name + RESTRICTED_SUFFIX, base=name, learn_fraction=restricted.learn_fraction
        )
        settings[view.name] = view
    if data.tokenizer.groups:
        for name, setting in settings.items():
            missing = sorted(set(setting.groups) - set(data.tokenizer.groups))
            if missing:
                problems.append(f"settings.{name} uses groups {missing} not in data.tokenizer.groups")
    try:
        pilots = _build(PilotConfig, config.get("pilots"), "pilots")
    except ConfigError as err:
        problems.append(str(err))
        pilots = PilotConfig()
    offline_settings = list(run_settings) if {"dml", "grid_search"} & set(run_methods) else []
    if {"dml", "grid_search"} & set(restricted.methods):
        offline_settings += list(restricted.settings)
    if run.get("law_fidelity"):
        offline_settings += list(run_settings)
    for name in dict.fromkeys(offline_settings):
        m = len(settings[name].groups) if name in settings else 0
        if m >= 3 and pilots.size(m) < m + 1:
            problems.append(
                f"pilots.n_mixtures = {pilots.size(m)} is too few for setting '{name}' ({m} groups): "
                f"fitting a mixing law needs at least m + 1 = {m + 1} pilot runs"
            )
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return Project(
        data,
        settings,
        methods,
        run_settings,
        run_methods,
        seeds,
        pilots,
        bool(run.get("law_fidelity")),
        restricted,
    )
