"""Downstream-task metrics (numpy only): bits per byte of the gold continuation, RC accuracy, and their
averages over tasks.

**BPB** of a request = summed NLL in nats of its gold continuation's tokens given the context /
(ln 2 x UTF-8 bytes of the continuation, leading space included). A task's BPB is the mean of its
requests' BPB, exactly as olmo_eval aggregates (``ICLMetric.compute``: one BPB per question, then
``sum / len``; its ``bpb_v2``, the "BPB v2" Olmix reads; ``bpb_v1`` drops the continuation's first
character from the byte count). olmo_eval multiplies by the constant ``1.44269504089``, this code divides by
``log(2)``: they differ by 8e-13 relative.

**RC accuracy**: a request is correct when its gold choice has the highest (normalised) log-likelihood;
ties go to the first choice, as ``torch.argmax``. Normalisations
(:data:`~pipeline_lib.tasks.types.ACC_NORMS`):
``none`` (olmo_eval ``acc``), ``char`` (``len_norm``: per character of the choice), ``token``, ``byte``.
olmo_eval's ``pmi_dc`` (needs unconditional requests) is not offered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline_lib.tasks.batching import TaskRows
from pipeline_lib.tasks.types import ACC_NORMS, TaskSet

LN2 = math.log(2)


def bits_per_byte(nll_nats: Sequence[float] | np.ndarray, n_bytes: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per request: summed NLL in nats / (ln 2 x UTF-8 bytes of its continuation)."""
    nll = np.asarray(nll_nats, dtype=np.float64)
    nb = np.asarray(n_bytes, dtype=np.float64)
    if nll.shape != nb.shape:
        raise ValueError(f"{nll.shape} NLLs but {nb.shape} byte counts")
    if np.any(nb <= 0):
        raise ValueError("every continuation needs at least one byte to be scored per byte")
    return nll / (LN2 * nb)


def mean_bpb(nll_nats: Sequence[float] | np.ndarray, n_bytes: Sequence[int] | np.ndarray) -> float:
    """A task's BPB: the mean over its requests of each request's BPB (olmo_eval's aggregation)."""
    per_request = bits_per_byte(nll_nats, n_bytes)
    if per_request.size == 0:
        raise ValueError("a task needs at least one request")
    return float(per_request.mean())


def normalised_loglik(
    loglik: np.ndarray, norm: str, chars: np.ndarray, tokens: np.ndarray, n_bytes: np.ndarray
) -> np.ndarray:
    """Log-likelihoods divided as ``norm`` says (``none``, ``char``, ``token``, ``byte``)."""
    if norm not in ACC_NORMS:
        raise ValueError(f"acc_norm '{norm}' is unknown; use one of {', '.join(ACC_NORMS)}")
    divisor = {"none": None, "char": chars, "token": tokens, "byte": n_bytes}[norm]
    return loglik if divisor is None else loglik / np.asarray(divisor, dtype=np.float64)


def rc_accuracy(choice_loglik: np.ndarray, gold: np.ndarray) -> float:
    """Fraction of requests whose gold choice scores highest; ``choice_loglik`` is ``(N, C)`` with ``-inf``
    (or NaN) for choices a request does not have; ``gold`` ``(N,)``."""
    scores = np.where(np.isnan(choice_loglik), -np.inf, choice_loglik)
    if scores.shape[0] != len(gold) or scores.shape[0] == 0:
        raise ValueError(f"{scores.shape[0]} requests of scores but {len(gold)} gold indices")
    return float(np.mean(np.argmax(scores, axis=1) == np.asarray(gold)))


@dataclass(frozen=True)
class TaskScore:
    """A task's scores for one split: ``bpb`` (mean over requests), ``accuracy`` (RC, None without choices
    scored), the per-request BPB (for paired comparisons), and how many requests were truncated or split."""

    task: str
    split: str
    bpb: float
    accuracy: float | None
    request_bpb: np.ndarray
    n_requests: int
    n_truncated: int
    n_split: int


def score_task(rows: TaskRows, row_nll: np.ndarray) -> TaskScore:
    """Scores from the model's per-row masked NLL sums (``row_nll[r] = sum(losses[r] * mask[r])`` in nats)."""
    row_nll = np.asarray(row_nll, dtype=np.float64)
    if row_nll.shape != rows.row_item.shape:
        raise ValueError(
            f"row_nll has shape {row_nll.shape}; the task '{rows.task}' has {len(rows.row_item)} rows"
        )
    item_nll = np.bincount(rows.row_item, weights=row_nll, minlength=len(rows.item_request))
    gold = np.flatnonzero(rows.item_gold)
    order = np.argsort(rows.item_request[gold], kind="stable")
    gold = gold[order]
    request_bpb = bits_per_byte(item_nll[gold], rows.item_bytes[gold])
    accuracy = None
    if rows.with_choices:
        scores = normalised_loglik(
            -item_nll, rows.acc_norm or "none", rows.item_chars, rows.item_tokens, rows.item_bytes
        )
        table = np.full((rows.n_requests, int(rows.item_choice.max()) + 1), -np.inf)
        table[rows.item_request, rows.item_choice] = scores
        accuracy = rc_accuracy(table, rows.item_choice[gold])
    return TaskScore(
        rows.task,
        rows.split,
        float(request_bpb.mean()),
        accuracy,
        request_bpb,
        rows.n_requests,
        rows.n_truncated,
        rows.n_split,
    )


def column_values(
    task_set: TaskSet, split: str, task_bpb: Mapping[tuple[str, str], float]
) -> dict[str, float]:
    """Each column of a task set: the mean BPB of its tasks (``task_bpb`` keyed by (task, split))."""
    out = {}
    for col in task_set.columns:
        values = [task_bpb[(t, col.split or split)] for t in col.tasks]
        out[col.name] = float(np.mean(values))
    return out


def macro_average(values: Mapping[str, float], weights: Mapping[str, float] | None = None) -> float:
    """The objective: the (weighted) mean over columns; ``weights`` (Olmix's ``obj_weights``) default to 1."""
    if not values:
        raise ValueError("no values to average")
    w = np.asarray([1.0 if weights is None else weights.get(k, 0.0) for k in values], dtype=np.float64)
    if w.sum() <= 0:
        raise ValueError("the weights of the averaged columns sum to zero")
    return float(np.dot(w, np.asarray(list(values.values()), dtype=np.float64)) / w.sum())
