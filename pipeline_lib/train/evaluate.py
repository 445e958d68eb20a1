"""Per-group evaluation: mean token cross-entropy of each group's fixed evaluation chunks."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch

from pipeline_lib.model import GPT
from pipeline_lib.parallel import SINGLE, Ranks


def batch_to_device(array: np.ndarray, device: torch.device, pin_memory: bool = False) -> torch.Tensor:
    """A host token array on ``device``; with ``pin_memory`` on CUDA, through pinned memory and an
    asynchronous copy (a pageable source makes the copy wait for the host)."""
    tensor = torch.from_numpy(array)
    if pin_memory and device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


@torch.no_grad()
def group_losses(
    model: GPT,
    chunks: Sequence[np.ndarray],
    batch_size: int,
    device: torch.device,
    autocast: contextlib.AbstractContextManager | None = None,
    pin_memory: bool = False,
    ranks: Ranks = SINGLE,
) -> np.ndarray:
    """For each group's (N, T + 1) chunk array, the mean loss over all N * T predicted tokens.

    Batch sums accumulate on the device in float64 (the same additions, in the same order, as a host
    accumulator) and come back in one transfer at the end, so the device never waits for the host.
    Data-parallel ranks each score every ``world``-th chunk and sum their totals and counts."""
    was_training = model.training
    model.eval()
    totals, counts = [], []
    for arr in map(ranks.shard, chunks):
        total, count = torch.zeros((), dtype=torch.float64, device=device), 0
        for start in range(0, len(arr), batch_size):
            batch = batch_to_device(arr[start : start + batch_size], device, pin_memory)
            with autocast or contextlib.nullcontext():
                _, losses = model(batch[:, :-1], batch[:, 1:])
            total += losses.sum()
            count += losses.numel()
        totals.append(total)
        counts.append(count)
    model.train(was_training)
    if ranks.parallel:
        stats = ranks.sum_(torch.cat([torch.stack(totals), torch.tensor(counts, device=device).double()]))
        sums, n = stats.cpu().numpy().reshape(2, -1)
        return sums / n
    sums = torch.stack(totals).cpu().numpy()  # (m,) float64: the one host synchronisation
    return sums / np.asarray(counts, dtype=np.float64)


def _scored_lengths(masks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per row, the input length its scored targets need: last masked position + 1."""
    out = []
    for mask in masks:
        width = mask.shape[1]
        last = width - np.argmax(mask[:, ::-1], axis=1)
        out.append(np.where(mask.any(axis=1), last, 1))
    return out


@torch.no_grad()
def row_losses(
    model: GPT,
    rows: Sequence[tuple[np.ndarray, np.ndarray]],
    batch_size: int,
    device: torch.device,
    autocast: contextlib.AbstractContextManager | None = None,
    ranks: Ranks = SINGLE,
    pad_id: int = 0,
) -> list[np.ndarray]:
    """For each ``(tokens (R, W + 1), mask (R, W))`` pair (a task's rows, :mod:`pipeline_lib.tasks.batching`),
    the per-row sum of the masked token losses in nats, ``(R,)`` float64.

    Rows of every pair are pooled, sorted by the length their scored targets need and batched, each batch cut
    to its longest row (padding after a row's last scored target does not change a causal model's outputs
    there), so short requests do not pay for long ones. Sums accumulate on the device in float64 and come
    back in one transfer. Data-parallel ranks each score every ``world``-th batch and sum the row totals."""
    sizes = [len(tokens) for tokens, _ in rows]
    if not sum(sizes):
        return [np.zeros(n) for n in sizes]
    lengths = _scored_lengths([mask for _, mask in rows])
    pair = np.repeat(np.arange(len(rows)), sizes)
    index = np.concatenate([np.arange(n) for n in sizes])
    order = np.argsort(np.concatenate(lengths), kind="stable")
    total = torch.zeros(int(sum(sizes)), dtype=torch.float64, device=device)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    was_training = model.training
    model.eval()
    for b, start in enumerate(range(0, len(order), batch_size)):
        if b % ranks.world != ranks.rank:
            continue
        sel = order[start : start + batch_size]
        width = int(max(lengths[pair[i]][index[i]] for i in sel))
        tokens = np.full((len(sel), width + 1), pad_id, dtype=np.int64)
        mask = np.zeros((len(sel), width), dtype=bool)
        for j, i in enumerate(sel):
            t, m = rows[pair[i]][0][index[i]], rows[pair[i]][1][index[i]]
            tokens[j] = t[: width + 1]
            mask[j] = m[:width]
        batch = batch_to_device(tokens, device)
        with autocast or contextlib.nullcontext():
            _, losses = model(batch[:, :-1], batch[:, 1:])
        sums = (losses.double() * batch_to_device(mask, device)).sum(dim=1)
        total[torch.as_tensor(offsets[pair[sel]] + index[sel], device=device)] = sums
    model.train(was_training)
    ranks.sum_(total)
    flat = total.cpu().numpy()  # the one host synchronisation
    return [flat[offsets[k] : offsets[k + 1]] for k in range(len(rows))]
