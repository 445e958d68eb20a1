"""Evaluations as units: what a run scores, on which split, how it aggregates, where it lands in run.json.

An :class:`Evaluation` builds the token chunks it scores from each scored item's split (``chunks``), and
turns the items' mean token losses into its run.json entries (``record``). The trainer scores any of them
with one batched, no-grad pass (:func:`~pipeline_lib.train.evaluate.group_losses`), sharded over
data-parallel ranks. The validation curve (and LearnParams' evaluations, which read it), the test pass and
bits per byte of whole splits (Olmix's tasks) are the instances of :data:`EVALUATIONS`; a new one is a class
and an entry there. :class:`TaskSuiteBPB` scores downstream tasks (requests, not token chunks): its rows go
through :meth:`~pipeline_lib.train.trainer.Trainer.score_rows`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pipeline_lib.config import TrainConfig
from pipeline_lib.data.sampler import eval_chunks
from pipeline_lib.records import DownstreamResult, TaskResult, TestResult, task_bpb_key

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from pipeline_lib.tasks import Task
    from pipeline_lib.tasks.batching import EncodedTask, TaskRows


@dataclass(frozen=True)
class Scored:
    """One scored item (a group or a task): its name, the split's tokens and the split's pack metadata."""

    name: str
    tokens: np.ndarray
    meta: Mapping[str, Any]
    """The split's entry of the group's meta.json (``tokens``, ``bytes``, ``sha256``)."""


def scored(data: Sequence[Any], split: str) -> list[Scored]:
    """Each packed group's ``split`` (``GroupTokens``) as a scored item."""
    return [Scored(g.name, getattr(g, split), g.meta.get("splits", {}).get(split, {})) for g in data]


class Evaluation:
    """What an evaluation scores and how its numbers are recorded."""

    name: ClassVar[str]
    split: ClassVar[str]

    def chunks(self, item: Scored, context: int, cfg: TrainConfig) -> np.ndarray:
        """The (N, context + 1) chunks of ``item`` it scores (default: the whole split)."""
        return eval_chunks(item.tokens, context)

    def record(self, items: Sequence[Scored], losses: np.ndarray) -> dict[str, Any]:
        """Its run.json entries from each item's mean token loss (nats)."""
        raise NotImplementedError


class ValidationSubset(Evaluation):
    """The fixed validation subset (``train.val_sequences`` chunks spread over each group's split): the
    curve, early stopping of nothing, the online methods' signal; run.json keeps the last one."""

    name, split = "val", "val"

    def chunks(self, item: Scored, context: int, cfg: TrainConfig) -> np.ndarray:
        return eval_chunks(item.tokens, context, cfg.val_sequences)

    def record(self, items: Sequence[Scored], losses: np.ndarray) -> dict[str, Any]:
        return {"val_loss": {s.name: float(v) for s, v in zip(items, losses, strict=True)}}


class TestPass(Evaluation):
    """Every test chunk of each group, at the end of a complete run: the tables' per-group loss and
    perplexity, their average, and exp(mean loss); a perplexity that overflows is null and named."""

    name, split = "test", "test"

    def record(self, items: Sequence[Scored], losses: np.ndarray) -> dict[str, Any]:
        return self.result([s.name for s in items], losses).to_dict()

    @staticmethod
    def result(groups: Sequence[str], losses: np.ndarray) -> TestResult:
        """The typed test pass of per-group test losses (an overflowing perplexity is logged)."""
        return TestResult.from_losses(groups, np.asarray(losses, dtype=float))


@dataclass(frozen=True)
class SplitBPB(Evaluation):
    """Bits per UTF-8 byte of each item's whole split (Olmix's tasks: groups, mixed or not), from the pack
    step's token and byte counts: ``task_bpb`` on val (what fits read), ``<split>_task_bpb`` otherwise."""

    split: str = "val"  # type: ignore[misc]
    name: ClassVar[str] = "task_bpb"

    @property
    def key(self) -> str:
        return task_bpb_key(self.split)

    def record(self, items: Sequence[Scored], losses: np.ndarray) -> dict[str, Any]:
        out = {}
        for item, loss in zip(items, losses, strict=True):
            if "bytes" not in item.meta:
                raise ValueError(
                    f"{item.name}/meta.json has no byte count: re-run the pack step (delete its data dir)"
                )
            out[item.name] = bits_per_byte(float(loss), item.meta["tokens"], item.meta["bytes"])
        return {self.key: out}


def bits_per_byte(mean_nll: float, tokens: int, n_bytes: int) -> float:
    """Bits per UTF-8 byte of a split: its summed NLL in nats (the mean per predicted token x its tokens)
    over ln 2 x its bytes. Exact up to the tokens the chunking leaves unpredicted (one per chunk, and the
    tail shorter than a chunk: about 1% at context 128)."""
    if n_bytes <= 0:
        raise ValueError(f"a split needs bytes to be scored per byte, got {n_bytes}")
    return float(mean_nll * tokens / (math.log(2) * n_bytes))


@dataclass(frozen=True)
class TaskSuiteBPB:
    """A downstream task set on ``split`` (``val``: what Olmix's fit reads; ``test``: what final runs
    report): each task's gold-continuation bits per byte (mean over requests), RC accuracy where choices are
    scored, and the requests truncated from the left to the model's window; run.json's ``downstream``.

    The rows are packed once per job from the tokenised set (:meth:`pack`; the workflow caches the
    tokenisation per results directory, :mod:`pipeline_lib.tasks.cache`), scored with one batched, no-grad
    pass through the trainer's model (:func:`~pipeline_lib.train.evaluate.row_losses`), and turned into
    scores here."""

    split: str = "test"
    choices: bool = True
    """Score every choice of multiple-choice tasks (RC accuracy); False: only the gold continuations."""
    name: ClassVar[str] = "downstream"

    def rows(
        self, tasks: Sequence[Task], tokenizer: Tokenizer, window: int, bos_id: int | None
    ) -> list[TaskRows]:
        """Each task's token rows for a model of context ``window`` (``bos_id`` before every context)."""
        from pipeline_lib.tasks.batching import encode_task

        return self.pack([encode_task(t, tokenizer, bos_id, self.choices) for t in tasks], window)

    @staticmethod
    def pack(encoded: Sequence[EncodedTask], window: int) -> list[TaskRows]:
        """Each tokenised task's rows (the cache of ``<results>/data/tasks/``) for a model of context
        ``window``."""
        from pipeline_lib.tasks.batching import pack_task

        return [pack_task(t, window) for t in encoded]

    def record(
        self, task_set: str, tasks: Sequence[Task | EncodedTask], rows: Sequence[TaskRows],
        row_nll: Sequence[np.ndarray], wall_time_s: float,
    ) -> DownstreamResult:  # fmt: skip
        """The scores from each task's per-row masked NLL sums (nats); a task scored in another split than
        ``split`` (a set that fixes it) is keyed ``<task>.<split>``."""
        from pipeline_lib.tasks.metric import score_task

        results = {}
        for task, task_rows, nll in zip(tasks, rows, row_nll, strict=True):
            score = score_task(task_rows, nll)
            key = task.name if task.split == self.split else f"{task.name}.{task.split}"
            results[key] = TaskResult(
                task.family, score.bpb, score.accuracy, score.n_requests, score.n_truncated, score.n_split
            )
        return DownstreamResult(task_set, results, float(wall_time_s))


VALIDATION, TEST = ValidationSubset(), TestPass()
EVALUATIONS: dict[str, Evaluation] = {
    "val": VALIDATION,
    "test": TEST,
    "task_bpb": SplitBPB("val"),
    "test_task_bpb": SplitBPB("test"),
}
"""Every evaluation a run can make, by the name a job asks for."""
