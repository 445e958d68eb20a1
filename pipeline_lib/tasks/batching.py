"""A task's requests as padded token rows that one batched, no-grad forward pass per batch scores.

**The array contract** (:class:`TaskRows`; the trainer side follows it):

- ``tokens``: int64 ``(R, W + 1)``, ``W <= window`` (the model's context ``T``; ``W`` is the longest row's
  need unless ``full_width``). Row ``r`` is ``x = tokens[r, :-1]``, ``y = tokens[r, 1:]``, left-aligned
  (position 0 is the row's first token) and right-padded with ``pad_id``. Padding sits only after a row's
  last scored target, so a causal model's outputs at the scored positions do not depend on it.
- ``mask``: bool ``(R, W)``; True where ``y`` is a continuation token this row scores. Every continuation
  token of every scored item is True in exactly one row.
- ``row_item``: int64 ``(R,)``; the scored item of each row. An item is one (request, choice): with
  choices, one per choice, else the gold continuation only. ``item_request``, ``item_choice``,
  ``item_gold`` (bool), ``item_bytes`` / ``item_chars`` / ``item_tokens`` (UTF-8 bytes, characters and
  tokens of the item's continuation) describe the items.

The evaluation calls, per batch of rows, ``_, losses = model(x, y)`` (per-token NLL in nats, ``(b, W)``, as
:func:`pipeline_lib.train.evaluate.group_losses` does) and keeps ``row_nll = (losses * mask).sum(1)``
(accumulated in float64); :func:`pipeline_lib.tasks.metric.score_task` turns ``row_nll`` into the task's BPB
and RC accuracy.

**Windows and truncation** (:func:`pack_rows`): an item is the sequence ``context + continuation`` (the
context tokenised separately from the continuation, as olmo_eval does, after an optional ``bos_id``).
When ``len(context) + len(continuation) - 1 <= window`` it is one row, whole. Otherwise the context is
truncated from the left so the row holds the last ``window + 1`` tokens (olmo_eval's
``(ctx + cont[:-1])[-T:]``). A continuation of more than ``window`` tokens is scored over several rows
that end every ``window`` targets, the first one holding as much context as fits (the rest see only the
continuation before them, as non-overlapping perplexity chunks). An item is *truncated* when any of its
scored tokens is predicted without its whole left context; ``n_truncated`` counts requests with a truncated
item and ``n_split`` those scored over more than one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from pipeline_lib.tasks.types import Task, TaskError

if TYPE_CHECKING:
    from tokenizers import Tokenizer


@dataclass(frozen=True)
class PackedRows:
    """Rows of token sequences: ``tokens`` ``(R, W + 1)``, ``mask`` ``(R, W)``, ``row_item`` ``(R,)``, and
    per item whether it was truncated (``item_truncated``) or split over rows (``item_split``)."""

    tokens: np.ndarray
    mask: np.ndarray
    row_item: np.ndarray
    item_truncated: np.ndarray
    item_split: np.ndarray
    window: int

    @property
    def inputs(self) -> np.ndarray:
        return self.tokens[:, :-1]

    @property
    def targets(self) -> np.ndarray:
        return self.tokens[:, 1:]

    @property
    def n_truncated(self) -> int:
        return int(self.item_truncated.sum())


def _segments(seq: list[int], n_context: int, window: int) -> list[tuple[int, int, int]]:
    """(start, end, scored targets) of each row of one item, left to right: row ``s[start:end]`` scores its
    last ``scored`` targets, ``s[end - scored:end]``."""
    out = []
    end = len(seq)
    while end > n_context:
        first = max(n_context, end - window)
        out.append((max(0, end - window - 1), end, end - first))
        end = first
    return out[::-1]


def pack_rows(
    contexts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    window: int,
    pad_id: int = 0,
    full_width: bool = False,
) -> PackedRows:
    """Rows scoring each continuation given its context, contexts truncated from the left to fit
    ``window`` predicted positions (see the module docstring). Every context needs at least one token (a
    BOS) and every continuation one token."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if len(contexts) != len(continuations):
        raise ValueError(f"{len(contexts)} contexts but {len(continuations)} continuations")
    if not contexts:
        raise ValueError("no items to pack")
    rows: list[tuple[list[int], int, int]] = []  # (tokens, scored targets, item)
    truncated = np.zeros(len(contexts), dtype=bool)
    split = np.zeros(len(contexts), dtype=bool)
    for item, (ctx, cont) in enumerate(zip(contexts, continuations, strict=True)):
        if not ctx or not cont:
            raise ValueError(
                f"item {item}: the context and the continuation need at least one token each "
                "(give a bos_id for empty contexts)"
            )
        seq = [*ctx, *cont]
        segments = _segments(seq, len(ctx), window)
        truncated[item] = any(start > 0 for start, _, _ in segments)
        split[item] = len(segments) > 1
        rows.extend((seq[start:end], scored, item) for start, end, scored in segments)
    width = window if full_width else max(len(seq) for seq, _, _ in rows) - 1
    tokens = np.full((len(rows), width + 1), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=bool)
    for r, (seq, scored, _) in enumerate(rows):
        tokens[r, : len(seq)] = seq
        mask[r, len(seq) - 1 - scored : len(seq) - 1] = True
    row_item = np.asarray([item for _, _, item in rows], dtype=np.int64)
    return PackedRows(tokens, mask, row_item, truncated, split, window)


@dataclass(frozen=True)
class TaskRows:
    """A task's rows and items (the array contract of the module docstring)."""

    task: str
    split: str
    tokens: np.ndarray
    mask: np.ndarray
    row_item: np.ndarray
    item_request: np.ndarray
    item_choice: np.ndarray
    item_gold: np.ndarray
    item_bytes: np.ndarray
    item_chars: np.ndarray
    item_tokens: np.ndarray
    n_requests: int
    n_truncated: int
    n_split: int
    acc_norm: str | None
    with_choices: bool
    window: int


class _Item(NamedTuple):
    request: int
    choice: int
    gold: bool
    context: str
    continuation: str


def _items(task: Task, with_choices: bool) -> list[_Item]:
    """Every scored item: each choice of each request with choices, else each gold continuation."""
    items = []
    for i, r in enumerate(task.requests):
        if with_choices and r.choices:
            items += [_Item(i, c, c == r.gold, r.choice_context(c), text) for c, text in enumerate(r.choices)]
        else:
            items.append(_Item(i, r.gold or 0, True, r.context, r.continuation))
    return items


def _encode(tokenizer: Tokenizer, texts: list[str]) -> dict[str, list[int]]:
    unique = list(dict.fromkeys(texts))
    return {
        t: e.ids
        for t, e in zip(unique, tokenizer.encode_batch(unique, add_special_tokens=False), strict=True)
    }


@dataclass(frozen=True)
class EncodedTask:
    """A task tokenised, before packing (independent of the model's window): per item (one per scored
    choice, or the gold continuation) its context ids (with the optional ``bos_id``) and continuation ids, and
    the item arrays of :class:`TaskRows`. What ``<results>/data/tasks/`` caches (:mod:`.cache`)."""

    task: str
    family: str
    split: str
    source: str
    contexts: tuple[np.ndarray, ...]
    continuations: tuple[np.ndarray, ...]
    item_request: np.ndarray
    item_choice: np.ndarray
    item_gold: np.ndarray
    item_bytes: np.ndarray
    item_chars: np.ndarray
    n_requests: int
    acc_norm: str | None
    with_choices: bool

    @property
    def name(self) -> str:
        return self.task


def encode_task(
    task: Task, tokenizer: Tokenizer, bos_id: int | None = None, choices: bool = True
) -> EncodedTask:
    """Tokenise a task's requests (the slow, window-free half of :func:`task_rows`).

    ``bos_id`` is put before every context (pass the end-of-text id when training documents end with
    it, so a request starts as a document does). With ``choices`` (and a task with choices) every choice
    is scored, for RC accuracy; otherwise only the gold continuation (BPB only, fewer rows)."""
    with_choices = choices and task.has_choices
    items = _items(task, with_choices)
    ids = _encode(tokenizer, [it.context for it in items] + [it.continuation for it in items])
    bos = [] if bos_id is None else [bos_id]
    contexts = [bos + ids[it.context] for it in items]
    conts = [ids[it.continuation] for it in items]
    for it, ctx, cont in zip(items, contexts, conts, strict=True):
        if not ctx or not cont:
            what = (
                "its context is empty and no bos_id was given"
                if not ctx
                else f"{it.continuation!r} has no tokens"
            )
            raise TaskError(f"task '{task.name}' ({task.source}) request {it.request}: {what}")
    return EncodedTask(
        task=task.name,
        family=task.family,
        split=task.split,
        source=task.source,
        contexts=tuple(np.asarray(c, dtype=np.int64) for c in contexts),
        continuations=tuple(np.asarray(c, dtype=np.int64) for c in conts),
        item_request=np.asarray([it.request for it in items], dtype=np.int64),
        item_choice=np.asarray([it.choice for it in items], dtype=np.int64),
        item_gold=np.asarray([it.gold for it in items], dtype=bool),
        item_bytes=np.asarray([len(it.continuation.encode("utf-8")) for it in items], dtype=np.int64),
        item_chars=np.asarray([len(it.continuation) for it in items], dtype=np.int64),
        n_requests=len(task.requests),
        acc_norm=task.acc_norm,
        with_choices=with_choices,
    )


def pack_task(encoded: EncodedTask, window: int, pad_id: int = 0, full_width: bool = False) -> TaskRows:
    """An encoded task's rows for a model of context ``window`` (the module docstring's contract)."""
    contexts = [c.tolist() for c in encoded.contexts]
    conts = [c.tolist() for c in encoded.continuations]
    packed = pack_rows(contexts, conts, window, pad_id, full_width)
    return TaskRows(
        task=encoded.task,
        split=encoded.split,
        tokens=packed.tokens,
        mask=packed.mask,
        row_item=packed.row_item,
        item_request=encoded.item_request,
        item_choice=encoded.item_choice,
        item_gold=encoded.item_gold,
        item_bytes=encoded.item_bytes,
        item_chars=encoded.item_chars,
        item_tokens=np.asarray([len(c) for c in conts], dtype=np.int64),
        n_requests=encoded.n_requests,
        n_truncated=len(np.unique(encoded.item_request[packed.item_truncated])),
        n_split=len(np.unique(encoded.item_request[packed.item_split])),
        acc_norm=encoded.acc_norm,
        with_choices=encoded.with_choices,
        window=window,
    )


def task_rows(
    task: Task,
    tokenizer: Tokenizer,
    window: int,
    bos_id: int | None = None,
    choices: bool = True,
    pad_id: int = 0,
    full_width: bool = False,
) -> TaskRows:
    """Tokenise a task's requests and pack them into rows for a model of context ``window``
    (:func:`encode_task`, then :func:`pack_task`)."""
    return pack_task(encode_task(task, tokenizer, bos_id, choices), window, pad_id, full_width)
