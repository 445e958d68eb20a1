"""Typed records of the steps' outputs: ``run.json`` (:class:`RunRecord`) and fit files (:class:`FitRecord`).

One place reads and writes them; every other module asks the record's fields and methods. The files keep
their schema: ``RunRecord.read(path).to_dict()`` equals the parsed file (same keys, same values), and
``write`` goes through :func:`pipeline_lib.io.write_json` as before. A missing key, an unknown one or a value
of the wrong type stops the reader with the file and the key. Torch- and pandas-free.

Which keys a run.json has depends on the job: a final run has a test pass (``test_loss``, ``test_ppl``,
``avg_test_ppl``, ``exp_mean_test_loss``, and ``overflow`` when a perplexity overflowed); a run that scored
tasks has their bits per byte per split (``task_bpb`` on val, ``<split>_task_bpb`` otherwise); a run that
scored a downstream task set has ``downstream`` (split -> :class:`DownstreamResult`). A key a record does not
have reads as None (or empty): older run.json files stay readable.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from pipeline_lib.io import read_json, write_json

log = logging.getLogger(__name__)
RUN_FILE = "run.json"
_TASK_BPB = re.compile(r"^(?:(?P<split>\w+?)_)?task_bpb$")
_NUMBER = (int, float)


class RecordError(ValueError):
    """A record file that does not hold what its reader needs; the message names the file and the key."""


def task_bpb_key(split: str) -> str:
    """run.json's key of the task bits per byte on ``split``: ``task_bpb`` (val) or ``<split>_task_bpb``."""
    return "task_bpb" if split == "val" else f"{split}_task_bpb"


def task_bpb_split(key: str) -> str | None:
    """The split of a task bits per byte key (:func:`task_bpb_key`'s inverse); None for any other key."""
    m = _TASK_BPB.match(key)
    split = (m["split"] or "val") if m else None
    return split if split is not None and task_bpb_key(split) == key else None


def _where(source: str | os.PathLike | None, kind: str) -> str:
    return str(source) if source is not None else f"a {kind}"


class _Fields:
    """Reads the keys of one record dict, checking presence and JSON type, and remembers which it read."""

    def __init__(self, data: Mapping[str, Any], where: str, fix: str) -> None:
        if not isinstance(data, Mapping):
            raise RecordError(f"{where}: expected a JSON object, got {type(data).__name__}")
        self.data, self.where, self.fix, self.used = data, where, fix, set()

    def get(self, key: str, kind: type | tuple[type, ...], nullable: bool = False) -> Any:
        """The value of a required key."""
        if key not in self.data:
            raise RecordError(f"{self.where}: no '{key}' ({self.fix})")
        return self._checked(key, kind, nullable)

    def optional(self, key: str, kind: type | tuple[type, ...], nullable: bool = False) -> Any:
        """The value of a key only some records have (None when absent)."""
        return self._checked(key, kind, nullable) if key in self.data else None

    def _checked(self, key: str, kind: type | tuple[type, ...], nullable: bool) -> Any:
        self.used.add(key)
        value = self.data[key]
        numeric = kind in (int, float, _NUMBER)
        if (value is None and nullable) or (
            isinstance(value, kind) and not (numeric and isinstance(value, bool))
        ):
            return value
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise RecordError(f"{self.where}: '{key}' must be {names}, got {value!r:.80}")

    def no_others(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise RecordError(f"{self.where}: unknown key(s) {unknown} ({self.fix})")


@dataclass(frozen=True)
class Spent:
    """Training runs spent (a method's learning runs, or what a run.json's ``extra_runs`` counts)."""

    runs: int
    tokens: int
    """Tokens the runs' own jobs trained."""
    flops: float | None = None
    """Their training FLOPs; None in the records of methods that spend no runs (the key is absent)."""

    @classmethod
    def of(cls, records: Iterable[RunRecord]) -> Spent:
        """What these runs cost: their number, the tokens and FLOPs their own jobs trained."""
        records = list(records)
        tokens = sum(r.trained_tokens for r in records)
        return cls(len(records), tokens, sum(float(r.compute.flops) for r in records))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "extra_runs") -> Spent:
        f = _Fields(data, where, "keys: runs, tokens, flops")
        spent = cls(f.get("runs", int), f.get("tokens", int), f.optional("flops", _NUMBER))
        f.no_others()
        return spent

    def to_dict(self) -> dict[str, Any]:
        flops = {} if self.flops is None else {"flops": self.flops}
        return {"runs": self.runs, "tokens": self.tokens, **flops}

    def __add__(self, other: Spent) -> Spent:
        if self.flops is None or other.flops is None:
            flops = self.flops if other.flops is None else other.flops
        else:
            flops = self.flops + other.flops
        return Spent(self.runs + other.runs, self.tokens + other.tokens, flops)


NO_RUNS = Spent(0, 0)


@dataclass(frozen=True)
class Compute:
    """run.json's ``compute``: where and how fast the job trained."""

    device: str
    n_params: int
    flops: float
    """Training FLOPs of this job's tokens (6N per token plus attention)."""
    wall_time_s: float
    train_time_s: float
    eval_time_s: float
    tokens_per_s: float
    torch_threads: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "compute") -> Compute:
        f = _Fields(data, where, "the trainer writes every field of compute")
        kinds = {"device": str, "n_params": int, "torch_threads": int}
        values = {x.name: f.get(x.name, kinds.get(x.name, _NUMBER)) for x in dataclasses.fields(cls)}
        f.no_others()
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _exp(value: float) -> float | None:
    try:
        return _finite(math.exp(value))
    except OverflowError:
        return None


@dataclass(frozen=True)
class TestResult:
    """A final run's test pass: per-group test loss and perplexity, their averages. A value that is not
    finite (a perplexity that overflows) is None, and ``overflow`` says which."""

    __test__: ClassVar[bool] = False  # not a pytest class
    loss: Mapping[str, float | None]
    ppl: Mapping[str, float | None]
    avg_ppl: float | None
    """The mean over groups of exp(group test loss): the paper's average test perplexity."""
    exp_mean_loss: float | None
    """exp(mean over groups of the test loss)."""
    overflow: str | None = None

    KEYS: ClassVar[tuple[str, ...]] = (
        "test_loss",
        "test_ppl",
        "avg_test_ppl",
        "exp_mean_test_loss",
        "overflow",
    )

    @classmethod
    def from_losses(cls, groups: Sequence[str], test_losses: np.ndarray) -> TestResult:
        """The test pass of per-group test losses (logs an overflowing perplexity)."""
        with np.errstate(over="ignore"):
            ppl = np.exp(test_losses)
        loss = {g: _finite(v) for g, v in zip(groups, test_losses, strict=True)}
        ppls = {g: _finite(v) for g, v in zip(groups, ppl, strict=True)}
        bad = [g for g, v in ppls.items() if v is None]
        overflow = f"the test perplexity of {bad} is not finite (test losses {loss})" if bad else None
        if overflow:
            log.error(overflow)
        return cls(loss, ppls, _finite(ppl.mean()), _exp(test_losses.mean()), overflow)

    @classmethod
    def read(cls, f: _Fields) -> TestResult | None:
        """The test pass of a run.json, None when the run had none."""
        if "test_loss" not in f.data:
            return None
        return cls(
            f.get("test_loss", dict), f.get("test_ppl", dict), f.get("avg_test_ppl", _NUMBER, nullable=True),
            f.get("exp_mean_test_loss", _NUMBER, nullable=True), f.optional("overflow", str),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        out = {"test_loss": dict(self.loss), "test_ppl": dict(self.ppl), "avg_test_ppl": self.avg_ppl}
        out["exp_mean_test_loss"] = self.exp_mean_loss
        return out | ({"overflow": self.overflow} if self.overflow is not None else {})


def downstream_key(split: str) -> str:
    """The metric name of the downstream tasks' BPB on ``split``: ``downstream_bpb`` (val) or
    ``<split>_downstream_bpb`` (what Olmix's fit and the tables ask :meth:`RunRecord.metric`)."""
    return "downstream_bpb" if split == "val" else f"{split}_downstream_bpb"


def downstream_split(key: str) -> str | None:
    """The split of a :func:`downstream_key`; None for any other name."""
    split = "val" if key == "downstream_bpb" else key.removesuffix("_downstream_bpb")
    return split if split != key and split and downstream_key(split) == key else None


@dataclass(frozen=True)
class TaskResult:
    """One downstream task's scores on a split: the gold continuation's bits per byte (mean over requests),
    RC accuracy (None: no choices scored), its family, and how many requests were truncated from the left
    or split over several rows."""

    __test__: ClassVar[bool] = False  # not a pytest class
    family: str
    bpb: float
    accuracy: float | None
    n_requests: int
    n_truncated: int
    n_split: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> TaskResult:
        f = _Fields(data, where, "keys: family, bpb, accuracy, n_requests, n_truncated, n_split")
        result = cls(
            f.get("family", str), f.get("bpb", _NUMBER), f.get("accuracy", _NUMBER, nullable=True),
            f.get("n_requests", int), f.get("n_truncated", int), f.get("n_split", int),
        )  # fmt: skip
        f.no_others()
        return result

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DownstreamResult:
    """A downstream task set scored on one split (``TaskSuiteBPB``): each task's :class:`TaskResult` and
    the evaluation's wall time (building the rows and scoring them), for its share of the job."""

    task_set: str
    tasks: Mapping[str, TaskResult]
    wall_time_s: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> DownstreamResult:
        f = _Fields(data, where, "keys: task_set, tasks, wall_time_s")
        tasks = {
            name: TaskResult.from_dict(v, f"{where}: tasks.{name}")
            for name, v in f.get("tasks", dict).items()
        }
        result = cls(f.get("task_set", str), tasks, f.get("wall_time_s", _NUMBER))
        f.no_others()
        return result

    def to_dict(self) -> dict[str, Any]:
        tasks = {name: t.to_dict() for name, t in self.tasks.items()}
        return {"task_set": self.task_set, "tasks": tasks, "wall_time_s": self.wall_time_s}

    @property
    def bpb(self) -> dict[str, float]:
        """task -> bits per byte."""
        return {name: t.bpb for name, t in self.tasks.items()}

    @property
    def macro_bpb(self) -> float:
        """The mean over tasks of their BPB (Olmix's objective, unweighted)."""
        return float(np.mean([t.bpb for t in self.tasks.values()]))

    def family_bpb(self) -> dict[str, float]:
        """family -> the mean BPB of its tasks (olmix's ``aggregate_task_families``)."""
        families: dict[str, list[float]] = {}
        for t in self.tasks.values():
            families.setdefault(t.family, []).append(t.bpb)
        return {family: float(np.mean(values)) for family, values in families.items()}


_RUN_FIX = "written by another version of mixpipe, or by hand: delete it and rerun the job that writes it"


@dataclass(frozen=True)
class RunRecord:
    """One training job's ``run.json``: what it trained (spec, config hash, data hashes), where it started,
    its outcome (final mixture, validation losses, the test pass, task scores) and its cost."""

    setting: str
    method: str
    seed: int
    groups: tuple[str, ...]
    spec: Mapping[str, Any]
    """The run spec as trained (``RunSpec.to_dict``; the model with the tokenizer's vocabulary)."""
    config_hash: str
    data_sha256: Mapping[str, Mapping[str, str]]
    """group -> split -> the sha256 of its tokens."""
    start_step: int
    """The step the job started at (a resumed dynamic child's parent step; else 0)."""
    init_state: str | None
    """The state.pt it resumed from."""
    steps: int
    tokens: int
    """Tokens on the model's whole schedule, a resumed parent's included."""
    tokens_trained: int | None
    """Tokens this job trained; None in records older than the key (then ``tokens``)."""
    final_mixture: Mapping[str, float]
    val_loss: Mapping[str, float]
    """The last validation loss per group."""
    compute: Compute
    extra_runs: Spent
    """Training spent before this run (pilots, proxies) for the compute accounting."""
    method_summary: Mapping[str, Any]
    """What the policy reports (learned parameters, traces); method-specific."""
    test: TestResult | None = None
    """The test pass (final runs); None for learning runs."""
    task_bpb: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """split -> task -> bits per byte (runs that scored tasks)."""
    downstream: Mapping[str, DownstreamResult] | None = None
    """split -> the downstream task set's scores (runs with a ``tasks:`` block); None: none scored."""
    source: str | None = field(default=None, compare=False, repr=False)
    """The file it was read from, for messages."""

    @classmethod
    def read(cls, path: str | os.PathLike) -> RunRecord:
        return cls.from_dict(read_json(path), path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | os.PathLike | None = None) -> RunRecord:
        where = _where(source, "run record")
        f = _Fields(data, where, _RUN_FIX)
        record = cls(
            setting=f.get("setting", str), method=f.get("method", str), seed=f.get("seed", int),
            groups=tuple(f.get("groups", list)), spec=f.get("spec", dict),
            config_hash=f.get("config_hash", str), data_sha256=f.get("data_sha256", dict),
            start_step=f.get("start_step", int), init_state=f.get("init_state", str, nullable=True),
            steps=f.get("steps", int), tokens=f.get("tokens", int),
            tokens_trained=f.optional("tokens_trained", int),
            final_mixture=f.get("final_mixture", dict), val_loss=f.get("val_loss", dict),
            compute=Compute.from_dict(f.get("compute", dict), f"{where}: compute"),
            extra_runs=Spent.from_dict(f.get("extra_runs", dict), f"{where}: extra_runs"),
            method_summary=f.get("method_summary", dict), test=TestResult.read(f),
            task_bpb={split: f.get(k, dict) for k in data if (split := task_bpb_split(k))},
            downstream=_read_downstream(f.optional("downstream", dict), where),
            source=None if source is None else str(source),
        )  # fmt: skip
        f.no_others()
        for name in ("final_mixture", "val_loss"):
            if set(getattr(record, name)) != set(record.groups):
                raise RecordError(
                    f"{where}: {name} has groups {sorted(getattr(record, name))}, not {list(record.groups)}"
                )
        return record

    def to_dict(self) -> dict[str, Any]:
        """run.json's dict: the keys and values the file holds (``write_json`` sorts the keys)."""
        out = {
            "setting": self.setting, "method": self.method, "seed": self.seed, "groups": list(self.groups),
            "spec": self.spec, "config_hash": self.config_hash, "data_sha256": self.data_sha256,
            "start_step": self.start_step, "init_state": self.init_state, "steps": self.steps,
            "tokens": self.tokens,
        }  # fmt: skip
        if self.tokens_trained is not None:
            out["tokens_trained"] = self.tokens_trained
        out |= {"final_mixture": dict(self.final_mixture), "val_loss": dict(self.val_loss)}
        out |= self.test.to_dict() if self.test is not None else {}
        out |= {"compute": self.compute.to_dict(), "extra_runs": self.extra_runs.to_dict()}
        out["method_summary"] = self.method_summary
        if self.downstream is not None:
            out["downstream"] = {split: result.to_dict() for split, result in self.downstream.items()}
        return out | {task_bpb_key(split): dict(scores) for split, scores in self.task_bpb.items()}

    def write(self, path: str | os.PathLike) -> None:
        write_json(path, self.to_dict())

    @property
    def trained_tokens(self) -> int:
        """Tokens this run's own job trained (a resumed child's, not its parent's)."""
        return int(self.tokens if self.tokens_trained is None else self.tokens_trained)

    @property
    def selected_run(self) -> str | None:
        """The pilot run this record copies (unrestricted grid search), None for a trained run."""
        return self.method_summary.get("selected_run") or None

    @property
    def training_flops(self) -> float:
        """FLOPs of this run and its extra runs. A copied pilot (grid search's selected run) is already among
        its extra runs: counted once."""
        extra = self.extra_runs.flops if self.extra_runs.flops is not None else 0.0
        return float(extra) if self.selected_run else self.compute.flops + extra

    @property
    def tested(self) -> TestResult:
        """The test pass; a learning run has none (an error naming the file)."""
        if self.test is None:
            raise RecordError(
                f"{_where(self.source, 'run record')}: no test pass (test_loss): not a final run"
            )
        return self.test

    @property
    def method_params(self) -> Mapping[str, Any]:
        """The method's parameters as trained (the spec's ``method_params``)."""
        return self.spec["method_params"]

    def mixture(self, groups: Sequence[str] | None = None) -> list[float]:
        """The final mixture in the order of ``groups`` (default: the run's)."""
        return [self.final_mixture[g] for g in groups or self.groups]

    def val_losses(self, groups: Sequence[str] | None = None) -> list[float]:
        """The last validation loss per group, in the order of ``groups`` (default: the run's)."""
        return [self.val_loss[g] for g in groups or self.groups]

    def task_scores(self, split: str = "val") -> Mapping[str, float]:
        """task -> bits per byte on ``split``."""
        if split not in self.task_bpb:
            have = [task_bpb_key(s) for s in self.task_bpb] or "no task scores"
            where = _where(self.source, "run record")
            raise RecordError(f"{where}: no '{task_bpb_key(split)}' (it has {have})")
        return self.task_bpb[split]

    def mean_task_bpb(self, split: str = "test") -> float:
        """The mean bits per byte over the tasks on ``split``."""
        return float(np.mean(list(self.task_scores(split).values())))

    def metric(self, name: str) -> Mapping[str, float]:
        """A per-task metric by its run.json key: ``val_loss``, ``test_loss``, ``test_ppl`` or a task bits per
        byte key (``task_bpb``, ``test_task_bpb``)."""
        if name == "val_loss":
            return self.val_loss
        if name in ("test_loss", "test_ppl"):
            return self.tested.loss if name == "test_loss" else self.tested.ppl
        if split := task_bpb_split(name):
            return self.task_scores(split)
        if split := downstream_split(name):
            return self.downstream_result(split).bpb
        raise RecordError(
            f"unknown metric '{name}': val_loss, test_loss, test_ppl, task_bpb, <split>_task_bpb, "
            "downstream_bpb or <split>_downstream_bpb"
        )

    def downstream_result(self, split: str = "test") -> DownstreamResult:
        """The downstream task set's scores on ``split``; an error naming the file when it has none."""
        if self.downstream is None or split not in self.downstream:
            have = sorted(self.downstream or {}) or "none"
            raise RecordError(
                f"{_where(self.source, 'run record')}: no downstream task scores on '{split}' (splits "
                f"scored: {have}); set a tasks: block in the config and rerun the job"
            )
        return self.downstream[split]

    def with_downstream(self, split: str, result: DownstreamResult) -> RunRecord:
        """This record with the downstream task set's scores on ``split``."""
        return dataclasses.replace(self, downstream={**(self.downstream or {}), split: result})

    def with_task_bpb(self, split: str, scores: Mapping[str, float]) -> RunRecord:
        """This record with the tasks' bits per byte on ``split``."""
        return dataclasses.replace(self, task_bpb={**self.task_bpb, split: dict(scores)})

    def as_selected(self, method: str, fit_path: str, selected_run: str, extra_runs: Spent) -> RunRecord:
        """This pilot's record (``selected_run``, its run.json) as ``method``'s run (grid search's selected
        pilot), with the fit's accounting."""
        summary = {"fit_path": fit_path, "selected_run": selected_run}
        return dataclasses.replace(self, method=method, extra_runs=extra_runs, method_summary=summary)


def _read_downstream(raw: Mapping[str, Any] | None, where: str) -> dict[str, DownstreamResult] | None:
    if raw is None:
        return None
    return {split: DownstreamResult.from_dict(v, f"{where}: downstream.{split}") for split, v in raw.items()}


_FIT_FIX = "written by another version of mixpipe, or by hand: delete it and rerun the fit step"


@dataclass(frozen=True, kw_only=True)
class FitRecord:
    """A fit file (``fits/<name>/seed<n>.json``, a reuse link's ``fit.json``): the common part a final run
    reads, the method's own keys in ``details``. Subclasses type the keys their readers need, as fields."""

    method: str
    groups: tuple[str, ...]
    extra_runs: Spent
    """Training spent to learn the fit (pilots, proxies, a swarm)."""
    proportions: tuple[float, ...] | None = None
    """The mixture learned; None for a fit that is not a mixture (Skill-It's graph)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """The method's other keys, as the file holds them."""
    source: str | None = field(default=None, compare=False, repr=False)

    _COMMON: ClassVar[tuple[str, ...]] = ("method", "groups", "proportions", "extra_runs")

    @classmethod
    def read(cls, path: str | os.PathLike) -> Self:
        return cls.from_dict(read_json(path), path)

    @classmethod
    def _typed(cls) -> list[dataclasses.Field]:
        """The fields a subclass adds (required keys unless they have a default)."""
        skip = {*cls._COMMON, "details", "source"}
        return [x for x in dataclasses.fields(cls) if x.name not in skip]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | os.PathLike | None = None) -> Self:
        where = _where(source, cls.__name__)
        f = _Fields(data, where, f"{cls.__name__} needs it; {_FIT_FIX}")
        common = {"method": f.get("method", str), "groups": tuple(f.get("groups", list))}
        common["extra_runs"] = Spent.from_dict(f.get("extra_runs", dict), f"{where}: extra_runs")
        proportions = f.optional("proportions", list)
        common["proportions"] = None if proportions is None else tuple(proportions)
        for x in cls._typed():
            if x.name in data or x.default is dataclasses.MISSING:
                value = f.get(x.name, object)
                spent = x.metadata.get("spent")
                common[x.name] = Spent.from_dict(value, f"{where}: {x.name}") if spent else value
        details = {k: v for k, v in data.items() if k not in f.used}
        return cls(**common, details=details, source=None if source is None else str(source))

    def to_dict(self) -> dict[str, Any]:
        """The file's dict (``write_json`` sorts the keys)."""
        out: dict[str, Any] = {"method": self.method, "groups": list(self.groups)}
        if self.proportions is not None:
            out["proportions"] = list(self.proportions)
        for x in self._typed():
            value = getattr(self, x.name)
            if value is not None or x.default is dataclasses.MISSING:
                out[x.name] = value.to_dict() if isinstance(value, Spent) else value
        return out | dict(self.details) | {"extra_runs": self.extra_runs.to_dict()}

    def write(self, path: str | os.PathLike) -> None:
        write_json(path, self.to_dict())

    def as_type(self, cls: type[FitRecord]) -> Any:
        """This fit as ``cls`` (a subclass: its keys typed); an error naming the file and the missing key."""
        return cls.from_dict(self.to_dict(), self.source)

    def has(self, cls: type[FitRecord]) -> bool:
        """Whether this fit holds every key ``cls`` requires."""
        keys = {*self.details, *(x.name for x in self._typed())}
        return all(x.name in keys for x in cls._typed() if x.default is dataclasses.MISSING)

    def mixture_for(self, groups: Sequence[str]) -> tuple[float, ...]:
        """The learned proportions, checked to be over ``groups`` (in that order)."""
        where = _where(self.source, "fit")
        if tuple(self.groups) != tuple(groups):
            raise ValueError(f"{where}: fit groups {list(self.groups)} differ from {list(groups)}")
        if self.proportions is None:
            raise RecordError(f"{where}: no 'proportions' (a {self.method} fit is not a mixture)")
        return self.proportions

    @property
    def mixture(self) -> dict[str, float]:
        """group -> learned proportion."""
        return dict(zip(self.groups, self.mixture_for(self.groups), strict=True))


@dataclass(frozen=True, kw_only=True)
class GridSearchFit(FitRecord):
    """Grid search's fit: the winning pilot and every candidate."""

    selected_run: str
    """The winning pilot's run.json."""
    candidates: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class DmlFit(FitRecord):
    """DML's fit: the static law, its fit report and the pilots it was fitted on."""

    law: dict[str, Any]
    fit: dict[str, Any]
    """In-sample R^2 and MSE (``FitReport.to_dict``)."""
    leave_one_out: dict[str, Any] | None
    runs: list[dict[str, Any]]
    """Each pilot: ``run`` (its run.json), ``mixture``, ``val_loss``."""


@dataclass(frozen=True, kw_only=True)
class SkillItFit(FitRecord):
    """Skill-It's fit: the skills graph from the one-hot runs."""

    graph: list[list[float]]
    runs: list[str]


@dataclass(frozen=True, kw_only=True)
class ProxyFit(FitRecord):
    """A DoReMi or DoGE proxy's fit: the time-averaged weights and the trace of every update."""

    final_weights: list[float]
    updates: int
    trace: list[dict[str, Any]]
    """Each update: ``step``, ``weights``, ``scores``."""
    proxy_val_loss: dict[str, float]
    hyper_parameters: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class OlmixFit(FitRecord):
    """Olmix's fit: the laws' proposal (the rest of ``olmix.propose.propose``'s result in details)."""

    natural: list[float]
    fit: dict[str, Any]
    """The laws' fit report: ``correlations`` per task and ``average``, the predictions."""
    metric: str

    @property
    def average_correlations(self) -> Mapping[str, Any]:
        """The task-average metric's Pearson and Spearman r, in sample (``train``) and ``leave_one_out``."""
        return self.fit["correlations"]["average"]


@dataclass(frozen=True, kw_only=True)
class ReuseFit(FitRecord):
    """A link of the mixture-reuse experiment (``reuse/stage<t>/<chain>/seed<n>/fit.json``); its plan, swarm
    and law in details."""

    stage: int
    strategy: str
    natural: list[float]
    update: str
    stage_runs: Spent = field(metadata={"spent": True})
    """The runs this link trained (``extra_runs``: its chain's, cumulative)."""
    seed: int | None = None

    @property
    def domain_law(self) -> Mapping[str, Any]:
        """The law over the stage's domains (``tasks``, ``domains``, ``t``) the next link reads."""
        if "domain_law" not in self.details:
            raise RecordError(f"{_where(self.source, 'reuse fit')}: no 'domain_law' (a {self.strategy} link)")
        return self.details["domain_law"]

    @property
    def recomputed(self) -> list[str]:
        """The domains PartialMixtureReuse chose to recompute (none for other strategies)."""
        return list((self.details.get("partial") or {}).get("recomputed", []))


@dataclass(frozen=True)
class SwarmFile:
    """Mixtures a swarm of proxies trains on, one per proxy (Olmix's ``fits/olmix_swarm/seed<n>.json``, a
    reuse link's ``plan.json``); the rest of the file in details."""

    groups: tuple[str, ...]
    mixtures: list[list[float]]
    details: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def read(cls, path: str | os.PathLike) -> SwarmFile:
        data = read_json(path)
        f = _Fields(data, str(path), f"a swarm file needs it; {_FIT_FIX}")
        groups, mixtures = tuple(f.get("groups", list)), f.get("mixtures", list)
        return cls(groups, mixtures, {k: v for k, v in data.items() if k not in f.used}, str(path))

    def to_dict(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "mixtures": self.mixtures, **self.details}

    def write(self, path: str | os.PathLike) -> None:
        write_json(path, self.to_dict())


MIXTURE_FILE = "mixture.csv"


@dataclass(frozen=True)
class MixtureTrace:
    """A run's ``mixture.csv``: the mixture p^t it trained on, one row per change (``step``, then one column
    per group); a row's mixture holds from its step until the next row's (the last one to the run's end)."""

    groups: tuple[str, ...]
    steps: tuple[int, ...]
    weights: tuple[tuple[float, ...], ...]
    source: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def read(cls, path: str | os.PathLike, groups: Sequence[str]) -> MixtureTrace:
        """The trace in ``path``, its columns checked to be ``step`` and ``groups`` (a run's, in order)."""
        import csv  # the one reader of the file: a header, then numbers

        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows or rows[0] != ["step", *groups]:
            header = rows[0] if rows else "nothing"
            raise RecordError(f"{path}: columns {header}, expected {['step', *groups]} ({_RUN_FIX})")
        try:
            steps = tuple(int(r[0]) for r in rows[1:])
            weights = tuple(tuple(float(v) for v in r[1:]) for r in rows[1:])
        except ValueError as err:
            raise RecordError(f"{path}: not a number ({err}); {_RUN_FIX}") from None
        if not steps or list(steps) != sorted(steps) or any(len(w) != len(groups) for w in weights):
            raise RecordError(f"{path}: needs one row per change, steps ascending ({_RUN_FIX})")
        return cls(tuple(groups), steps, weights, str(path))

    @classmethod
    def of_run(cls, run: RunRecord) -> MixtureTrace:
        """The trace beside a run.json read from a file (``mixture.csv`` in its directory)."""
        if run.source is None:
            raise RecordError(f"a {run.method} run record not read from a file has no {MIXTURE_FILE}")
        return cls.read(os.path.join(os.path.dirname(run.source), MIXTURE_FILE), run.groups)

    def time_average(self, start: int, end: int) -> dict[str, float]:
        """group -> the mean of p^t over the steps ``start`` .. ``end`` - 1 (the last row's mixture when the
        range is empty)."""
        total = np.zeros(len(self.groups))
        bounds = [*self.steps[1:], end]
        for step, until, p in zip(self.steps, bounds, self.weights, strict=True):
            total += max(0, min(until, end) - max(step, start)) * np.asarray(p)
        span = total.sum()
        mean = total / span if span > 0 else np.asarray(self.weights[-1])
        return {g: float(v) for g, v in zip(self.groups, mean, strict=True)}

    @property
    def moves(self) -> bool:
        """Whether the mixture changes over the run (an online method's)."""
        return len(set(self.weights)) > 1


def chosen_mixture(run: RunRecord) -> tuple[dict[str, float], str]:
    """The mixture a run answers with, and which it is: its final mixture (``"final"``) when the mixture never
    moved, else the time-average of p^t over the run (``"time-average"``, from its ``mixture.csv``)."""
    trace = MixtureTrace.of_run(run)
    if not trace.moves:
        return dict(run.final_mixture), "final"
    return trace.time_average(run.start_step, run.steps), "time-average"
