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
