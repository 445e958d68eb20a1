"""The configuration's types: frozen dataclasses, one docstring per field, no torch.

:mod:`pipeline_lib.config.load` builds them from the schema-validated YAML; :mod:`pipeline_lib.plan` turns
a :class:`Project` into jobs. Training steps receive a :class:`RunSpec` (plain JSON) and never see the YAML.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline_lib.config.errors import ConfigError, FieldErrors
from pipeline_lib.config.ranges import instance_range_problems, ranged
from pipeline_lib.model.config import ModelConfig

if TYPE_CHECKING:
    from pipeline_lib.config.design import DesignConfig
    from pipeline_lib.config.reuse import ReuseConfig
    from pipeline_lib.config.tasks import TasksConfig

SPLITS = ("train", "val", "test")


def deep_merge(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """Return ``base`` updated recursively with ``override`` (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def build_dataclass(cls: type, spec: dict[str, Any] | None, where: str) -> Any:
    spec = dict(spec or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    return cls(**spec)


DEFAULT_MAX_DOCUMENT_BYTES = 8 << 20
"""``data.source.max_document_bytes``'s default: 8 MiB, ~700x the shipped corpus's longest document (packing
one such document peaks at ~1.4 GB)."""


@dataclass(frozen=True)
class SourceConfig:
    """Where documents come from. ``jsonl``: a local directory; ``slimpajama``: a `datasets` source."""

    kind: str = "jsonl"
    """``jsonl`` (local files) or ``slimpajama`` (the hub dataset or a local copy)."""
    path: str = "data/sample"
    """jsonl: a directory; slimpajama: the hub id or a local copy."""
    file_pattern: str = "{group}.jsonl.gz"
    """jsonl: a group's file name in ``path``."""
    group_field: str = "domain"
    """The record field naming a document's group."""
    id_field: str | None = "source"
    """The record field with a stable document id (the split hashes it); None: the text."""
    max_docs_per_group: int | None = None
    """Cap on documents read per group; None: all."""
    group_names: dict[str, str] = field(default_factory=dict)
    """slimpajama: our group name -> the dataset's."""
    train_token_margin: float | None = None
    """The pack step takes train tokens up to (largest run using the group) x this; None: all."""
    cache_dir: str | None = None
    """slimpajama: the ``datasets`` cache (None: HF_HOME's)."""
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    """A document longer than this many bytes is skipped, with a warning and a count in the group's meta.json
    (jsonl: its line, skipped unread; slimpajama: its UTF-8 text); packing a document costs ~175x its size."""

    def as_dict(self) -> dict[str, Any]:
        """The fields, without ``max_document_bytes`` at its default: the data steps' parameters and a
        results_dir's data identity stay those of results made before the field existed."""
        out = dataclasses.asdict(self)
        if out["max_document_bytes"] == DEFAULT_MAX_DOCUMENT_BYTES:
            del out["max_document_bytes"]
        return out


@dataclass(frozen=True)
class SplitConfig:
    """Document-level split by a hash of a stable id: fractions of documents for val and test."""

    val_fraction: float = 0.05
    """Fraction of each group's documents in the validation split."""
    test_fraction: float = 0.05
    """Fraction of each group's documents in the test split."""
    salt: str = "mixpipe"
    """Salt of the id hash: another salt, another split."""


@dataclass(frozen=True)
class TokenizerConfig:
    """``bpe``: train a byte-level BPE on the train split; ``file``: a tokenizer.json; ``hub``: by name."""

    kind: str = "bpe"
    """``bpe``, ``file`` or ``hub``."""
    vocab_size: int = 4096
    """bpe: the vocabulary to train."""
    path: str | None = None
    """file: the tokenizer.json."""
    name: str | None = None
    """hub: the tokenizer's hub name."""
    eot_token: str = "<|endoftext|>"
    """The token between documents."""
    append_eot: bool = True
    """Append ``eot_token`` to every document."""
    training_chars_per_group: int | None = None
    """bpe: characters of each group's train split to train on; None: all."""
    groups: tuple[str, ...] | None = None
    """Groups to train on and pack; None: every group of every setting."""


@dataclass(frozen=True)
class ViewConfig:
    """A group defined as a filter over another group's records (``data.views.<name>``): a part of a
    partition (by a field's value or pattern) or a revised version (by length), with no new files."""

    of: str
    """The parent group, whose records (and file) the view reads."""
    field: str | None = None
    """The record field ``equals`` / ``pattern`` test (e.g. ``source``)."""
    equals: tuple[str, ...] | None = None
    """Keep records whose ``field`` is one of these."""
    pattern: str | None = None
    """Keep records whose ``field`` matches this regular expression (``re.search``)."""
    min_chars: int | None = None
    """Keep documents of at least this many characters."""
    max_chars: int | None = None
    """Keep documents of at most this many characters."""

    def __post_init__(self) -> None:
        import re

        object.__setattr__(self, "equals", tuple(self.equals) if self.equals is not None else None)
        problems = []
        if (self.equals is not None or self.pattern is not None) and not self.field:
            problems.append("equals and pattern need a field")
        if self.equals is not None and self.pattern is not None:
            problems.append("give equals or pattern, not both")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as err:
                problems.append(f"pattern {self.pattern!r} is not a regular expression ({err})")
        if not (self.field or self.min_chars or self.max_chars):
            problems.append("a view needs a filter: field with equals or pattern, or min_chars / max_chars")
        if problems:
            raise ConfigError("; ".join(problems))

    def keeps(self, record: dict) -> bool:
        """Whether a record of the parent belongs to the view."""
        import re

        if self.field is not None:
            value = str(record.get(self.field, ""))
            if self.equals is not None and value not in self.equals:
                return False
            if self.pattern is not None and not re.search(self.pattern, value):
                return False
        n = len(record.get("text") or "")
        return (self.min_chars is None or n >= self.min_chars) and (
            self.max_chars is None or n <= self.max_chars
        )


@dataclass(frozen=True)
class DataConfig:
    source: SourceConfig
    split: SplitConfig
    tokenizer: TokenizerConfig
    views: dict[str, ViewConfig] = field(default_factory=dict)
    """Groups defined as filters over other groups (``data.views``)."""
    partitions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """parent group -> the views that must cover its documents exactly once (checked when loading)."""

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> DataConfig:
        views = {}
        for name, raw in (spec.get("views") or {}).items():
            if "of" not in (raw or {}):
                raise ConfigError(f"data.views.{name}: needs 'of', the group it filters")
            try:
                views[name] = build_dataclass(ViewConfig, raw, f"data.views.{name}")
            except ConfigError as err:
                raise ConfigError(f"data.views.{name}: {err}".replace(f": data.views.{name}:", ":")) from None
        partitions = {k: tuple(v) for k, v in (spec.get("partitions") or {}).items()}
        return cls(
            source=build_dataclass(SourceConfig, spec.get("source"), "data.source"),
            split=build_dataclass(SplitConfig, spec.get("split"), "data.split"),
            tokenizer=build_dataclass(TokenizerConfig, spec.get("tokenizer"), "data.tokenizer"),
            views=views,
            partitions=partitions,
        )


def execution(default: Any) -> Any:
    """A field that says how a run executes (device, compile, checkpoints, tracking), not what it computes:
    left out of the run's spec and config hash (:meth:`RunSpec.identity`), so changing it reruns no job."""
    return field(default=default, metadata={"execution": True})


EXECUTION_ENV = "MIXPIPE_EXECUTION"
"""JSON: view key -> the execution settings of its runs (the workflow sets it; a job reads its view's)."""

PACK_CHECKS_ENV = "MIXPIPE_PACK_CHECKS"
"""JSON: group -> the tokens one evaluation sequence of the runs reading it needs (model.context + 1), which
its val and test splits must hold (the workflow sets it; the pack step checks its group's)."""


def is_execution(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get("execution"))


TRACKERS = ("tensorboard", "wandb", "mlflow")
"""The tracker backends (``pipeline_lib.train.tracking.BACKENDS``), by the package each needs."""
TRACKER_PACKAGES = {"tensorboard": '-e ".[tracking]"', "wandb": "wandb", "mlflow": "mlflow-skinny"}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


@dataclass(frozen=True)
class TrainConfig:
    """One training run's optimisation and evaluation settings (paper defaults where it has them)."""

    steps: int = 200
    """Optimizer steps of a final run."""
    batch_size: int = 8
    """Sequences per step."""
    lr: float = 5e-4
    """Peak learning rate (after warm-up)."""
    init_lr: float = 1e-7
    """Learning rate at step 0."""
    min_lr: float = 1e-4
    """Learning rate at the end of the cosine decay."""
    warmup_steps: int = 20
    """Linear warm-up from ``init_lr`` to ``lr``."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay (matrices only)."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.999
    """AdamW beta2."""
    eps: float = 1e-8
    """AdamW epsilon."""
    grad_clip: float = 1.0
    """Global gradient-norm clip; 0: off."""
    eval_every: int = 50
    """Validation every N steps (and at the start and the end)."""
    val_sequences: int = 32
    """Sequences of each group's validation split in the fixed validation subset."""
    eval_batch_size: int = 32
    """Sequences per evaluation forward."""
    device: str = execution("auto")
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    precision: str = "auto"
    """``auto`` (bf16 autocast on CUDA, fp32 on CPU), ``fp32`` or ``bf16``."""
    compile: bool = execution(False)
    """torch.compile the model."""
    compile_mode: str = execution("default")
    """torch.compile's mode: ``default``, ``reduce-overhead`` (CUDA graphs: static shapes replayed without
    launch overhead), ``max-autotune-no-cudagraphs`` or ``max-autotune``."""
    eval_compile: bool = execution(False)
    """Evaluate through torch.compile too (the training's compiled model when ``compile`` is on)."""
    sync_every: int = execution(1)
    """Read the training loss back to the host every N steps (and before each evaluation) instead of after
    every step, so the GPU never waits for the host; divergence checks and the progress bar see it late."""
    pin_memory: bool = execution(False)
    """CUDA: copy batches from pinned host memory, asynchronously (no effect on CPU)."""
    attention: str = execution("auto")
    """``auto`` (flash-attn where installed and the inputs are bf16/fp16 on CUDA, else SDPA), ``sdpa``,
    ``flash``."""
    loss_chunk: int = execution(0)
    """Head and cross-entropy over this many tokens at a time, logits recomputed in the backward (0: off)."""
    save_checkpoint: bool = execution(False)
    """Write state.pt (model, optimizer, sampler) at the end of every run."""
    test_eval: bool = True
    """Evaluate the test split at the end (learning runs no table reports skip it)."""
    checkpoint_every: int | None = execution(None)
    """Write a resumable checkpoint every N steps (a killed job continues from it); None: never."""
    max_loss: float | None = 100.0
    """Stop a run whose training loss exceeds this (nats per token); a non-finite loss always stops it."""
    tensorboard: bool = execution(False)
    """TensorBoard event files in ``<run>/tensorboard/`` (the ``tracking`` extra): ``trackers`` with
    ``tensorboard``."""
    trackers: tuple[str, ...] = execution(())
    """Experiment trackers the run logs to (:data:`TRACKERS`): training loss and lr, the mixture p^t and the
    validation losses (``pipeline_lib/train/tracking.py``)."""

    @property
    def tracker_names(self) -> tuple[str, ...]:
        """The trackers the run logs to: ``trackers``, and ``tensorboard`` when ``tensorboard`` is on."""
        return tuple(dict.fromkeys([*self.trackers, *(["tensorboard"] if self.tensorboard else [])]))

    def execution(self) -> dict[str, Any]:
        """The fields that say how a run executes, not what it computes."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if is_execution(f)}

    def __post_init__(self) -> None:
        object.__setattr__(self, "trackers", tuple(self.trackers))  # YAML and JSON give a list
        problems = []
        for name in ("steps", "batch_size", "eval_every", "val_sequences", "eval_batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"train.{name} must be >= 1")
        if self.sync_every < 1:
            problems.append("train.sync_every must be >= 1")
        if self.loss_chunk < 0:
            problems.append("train.loss_chunk must be >= 0 (0: off)")
        if self.compile_mode not in COMPILE_MODES:
            problems.append(f"train.compile_mode must be one of {COMPILE_MODES}, got '{self.compile_mode}'")
        if unknown := [t for t in self.trackers if t not in TRACKERS]:
            problems.append(f"train.trackers: unknown tracker(s) {unknown}; choose from {list(TRACKERS)}")
        if self.attention not in ("auto", "sdpa", "flash"):
            problems.append(f"train.attention must be auto, sdpa or flash, got '{self.attention}'")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            problems.append("train.checkpoint_every must be >= 1 or null")
        if self.max_loss is not None and self.max_loss <= 0:
            problems.append("train.max_loss must be > 0 or null")
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


class Checked:
    """A typed config section (a dataclass) checked as it is built: each numeric field's declared range
    (:func:`~pipeline_lib.config.ranges.ranged`), then the cross-field rules of :meth:`problems`. A section
    nested in a method's config (Olmix's ``gp``) is built and checked the same way, its fields named by
    path."""

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field problems as (field, message), the message without the field's path."""
        return []

    def __post_init__(self) -> None:
        problems = [*instance_range_problems(self), *self.problems()]
        if problems:
            raise FieldErrors(problems)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class MethodConfig(Checked):
    """Base of the method configs, the one layer that checks method parameters: each numeric field declares
    its range, checked for every config; cross-field rules are :meth:`problems` and, against the setting
    that runs it, :meth:`setting_problems`."""

    def setting_problems(self, m: int, train: TrainConfig) -> list[str]:
        """Conflicts with the setting that runs it: ``m`` groups, its final run's ``train`` schedule."""
        return []

    def proxy_train(self, train: TrainConfig) -> TrainConfig:
        """The schedule of this method's proxy run given its learning-run schedule (default: the same)."""
        return train

    def proxy_parallel_problems(self, ranks: int, m: int) -> list[str]:
        """Why this method's proxy run over ``m`` groups cannot train over ``ranks`` processes."""
        return []


RESTRICTED = "restricted"  # the view name of a restricted setting: results/<setting>/restricted/
AIOLI_PLUS = "aioli+"  # "aioli+<X>": X's policy for a prefix, then Aioli (the restricted setting)


@dataclass(frozen=True)
class Setting:
    """A named list of groups with its own model/train overrides (one column of the paper's tables), as one
    view runs it: the plain setting, or its restricted view (``view = "restricted"``)."""

    name: str
    """The setting's name in ``settings`` (no view)."""
    groups: tuple[str, ...]
    """The data groups mixed, in the order of every mixture vector."""
    paper: str | None
    """The paper's column this setting stands for (Table 2), if any."""
    static: dict[str, float] | None
    """The ``static`` method's proportions, if given."""
    model: ModelConfig
    """The model of every run (``model``, then ``settings.<s>.model``)."""
    train: TrainConfig
    """The final runs' schedule (``train``, then ``settings.<s>.train``)."""
    methods: dict[str, MethodConfig] = field(default_factory=dict)
    """Each method's typed settings here (``methods.<m>``, then ``settings.<s>.methods.<m>``)."""
    view: str | None = None
    """None, or ``restricted``: the baselines learn on runs that together last ``learn_fraction``."""
    learn_fraction: float | None = None
    """Restricted view: the learning runs' share of a final run."""

    @property
    def restricted(self) -> bool:
        return self.view == RESTRICTED

    @property
    def key(self) -> str:
        """The view's key and results path: ``<name>`` or ``<name>/restricted``."""
        return view_key(self.name, self.view)


def view_key(name: str, view: str | None) -> str:
    """A view's key and results path: ``<name>``, or ``<name>/<view>``."""
    return f"{name}/{view}" if view else name


@dataclass(frozen=True)
class RunSpec:
    """Everything one training run needs; serialised to JSON on the rule's command line."""

    setting: str
    """The view's key (``as``, ``as/restricted``): the label tables group by."""
    groups: tuple[str, ...]
    """The groups, in mixture order."""
    method: str
    """The policy: a method of the registry, a proxy (``doremi_proxy``) or ``aioli+<X>``."""
    method_params: dict[str, Any]
    """The method's typed config as a dict (:meth:`MethodConfig.to_dict`)."""
    seed: int
    """Seeds the model's initialisation and the batch sampler."""
    model: ModelConfig
    """The model's shape."""
    train: TrainConfig
    """This run's schedule (learning runs: a shortened one)."""

    def to_dict(self) -> dict[str, Any]:
        """Everything, execution included (a job started by hand or by a test)."""
        out = dataclasses.asdict(self)
        out["groups"] = list(self.groups)
        return out

    def identity(self) -> dict[str, Any]:
        """What defines the run's numbers: :meth:`to_dict` without the execution fields (Snakemake's params,
        run.json's spec and config hash, the checkpoint's key)."""
        out, execution = self.to_dict(), self.train.execution()
        out["train"] = {k: v for k, v in out["train"].items() if k not in execution}
        return out

    def execution(self) -> dict[str, Any]:
        """How the run executes: the execution fields of its schedule."""
        return self.train.execution()

    @classmethod
    def from_dict(cls, spec: dict[str, Any], execution: dict[str, Any] | None = None) -> RunSpec:
        """A spec from its JSON; ``execution`` fills the execution fields the JSON leaves out."""
        return cls(
            setting=spec["setting"],
            groups=tuple(spec["groups"]),
            method=spec["method"],
            method_params=dict(spec.get("method_params") or {}),
            seed=int(spec["seed"]),
            model=ModelConfig(**spec["model"]),
            train=TrainConfig(**{**(execution or {}), **spec["train"]}),
        )

    @property
    def tokens_per_step(self) -> int:
        return self.train.batch_size * self.model.context


@dataclass(frozen=True)
class PilotConfig:
    """Pilot sweeps: static runs at grid mixtures (grid search, DML, the static law's fidelity), and the
    dynamic-law sweep (a parent run stopped at a break step, short children under each grid mixture)."""

    n_mixtures: int | None = ranged(None, ge=2)
    """Pilot mixtures for m >= 3 groups (a Dirichlet cover); None: 9 for m = 3, else 10. m = 2: the 9-point
    grid."""
    steps_fraction: float = ranged(1.0, gt=0, le=1)
    """A pilot's length as a fraction of a final run's."""
    break_fraction: float = ranged(0.5, gt=0, lt=1)
    """Dynamic sweep: where the parent run stops, as a fraction of its steps."""
    child_steps: int = ranged(10, ge=1)
    """Dynamic sweep: the steps each child trains from the parent's state."""

    def __post_init__(self) -> None:
        problems = instance_range_problems(self)
        if problems:
            raise ConfigError(*(f"pilots.{name}: {message}" for name, message in problems))

    def size(self, m: int) -> int:
        """Number of pilot mixtures: the 9-point grid for two groups; the paper's cover sizes otherwise."""
        if m == 2:
            return 9
        return self.n_mixtures if self.n_mixtures is not None else (9 if m == 3 else 10)


@dataclass(frozen=True)
class RestrictedConfig:
    """The restricted setting (Aioli + X): each baseline X learns its proportions on shortened runs, then
    both X (its proportions for the whole run) and Aioli + X (X for a prefix, then Aioli) are trained."""

    settings: tuple[str, ...] = ()
    """The settings that get a restricted view (``results/<setting>/restricted/``)."""
    methods: tuple[str, ...] = ()
    """The baselines X; each is run alone and as Aioli + X (the loader's default: the registry's)."""
    learn_fraction: float = 0.5
    """X's learning runs together last this fraction of a final run."""
    prior_fraction: float = 0.05
    """Aioli + X: X's policy for this fraction of the run (the reference scripts' 250 of 5000 steps)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", tuple(self.settings))
        object.__setattr__(self, "methods", tuple(self.methods))
        problems = []
        if not 0 < self.learn_fraction <= 1:
            problems.append("restricted.learn_fraction must be in (0, 1]")
        if not 0 <= self.prior_fraction < 1:
            problems.append("restricted.prior_fraction must be in [0, 1)")
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
    """Where documents come from, how they are split and tokenised."""
    settings: dict[str, Setting]
    """Every view by key: each defined setting, and ``<name>/restricted`` for the restricted ones."""
    run_settings: tuple[str, ...]
    """The settings whose final runs make Table 2."""
    run_methods: tuple[str, ...]
    """The methods trained in every run setting."""
    seeds: tuple[int, ...]
    """Every final run (and its learning runs) once per seed."""
    pilots: PilotConfig = field(default_factory=PilotConfig)
    """The pilot sweeps of the offline methods and of the laws' fidelity."""
    law_fidelity: bool = False
    """Fit the static and dynamic laws and score the online methods' A^t (the fidelity tables)."""
    restricted: RestrictedConfig = field(default_factory=RestrictedConfig)
    """The restricted setting (Table 3)."""
    tasks: TasksConfig | None = None
    """The downstream task set (``tasks:``, a :class:`~pipeline_lib.config.tasks.TasksConfig`); None: off."""
    reuse: ReuseConfig | None = None
    """Olmix's mixture-reuse experiment (its stages are the views ``reuse/stage<t>``), if configured."""
    design: DesignConfig | None = None
    """Olmix's design-space experiment (swarms of its settings, resampled fits), if configured."""

    @property
    def restricted_settings(self) -> tuple[str, ...]:
        """The restricted views to run ("<setting>/restricted"), in ``restricted.settings`` order."""
        names = self.restricted.settings if self.restricted.methods else ()
        return tuple(view_key(name, RESTRICTED) for name in names)

    def methods_of(self, setting: str) -> tuple[str, ...]:
        """The final runs of a view: ``run.methods``, or X and Aioli + X for a restricted view."""
        return self.restricted.run_methods if self.settings[setting].restricted else self.run_methods

    @property
    def tokenizer_groups(self) -> list[str]:
        """Groups the tokenizer is trained on and the data stage packs: ``data.tokenizer.groups``, or every
        group of every defined setting (so choosing other ``run.settings`` never retrains it)."""
        if self.data.tokenizer.groups:
            return list(self.data.tokenizer.groups)
        seen: dict[str, None] = {}
        for setting in self.settings.values():
            seen.update(dict.fromkeys(setting.groups))
            for cfg in setting.methods.values():  # Olmix's tasks may be groups no setting mixes
                seen.update(dict.fromkeys(getattr(cfg, "tasks", None) or ()))
        return list(seen)
