"""Per-group evaluation: mean token cross-entropy of each group's fixed evaluation chunks."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
import torch

from pipeline_lib.model import GPT


@torch.no_grad()
def group_losses(
    model: GPT,
    chunks: Sequence[np.ndarray],
    batch_size: int,
    device: torch.device,
    autocast: contextlib.AbstractContextManager | None = None,
) -> np.ndarray:
    """For each group's (N, T + 1) chunk array, the mean loss over all N * T predicted tokens."""
    was_training = model.training
    model.eval()
    out = np.empty(len(chunks))
    for g, arr in enumerate(chunks):
        total, count = 0.0, 0
        for start in range(0, len(arr), batch_size):
            batch = torch.from_numpy(arr[start : start + batch_size]).to(device, non_blocking=True)
            with autocast or contextlib.nullcontext():
                _, losses = model(batch[:, :-1], batch[:, 1:])
            total += losses.sum().item()
            count += losses.numel()
        out[g] = total / count
    model.train(was_training)
    return out


def bits_per_byte(mean_nll: float, tokens: int, n_bytes: int) -> float:
    """Bits per UTF-8 byte of a split: its summed NLL in nats (the mean per predicted token x its tokens)
    over ln 2 x its bytes. Exact up to the tokens the chunking leaves unpredicted (one per chunk, and the
    tail shorter than a chunk: about 1% at context 128)."""
    if n_bytes <= 0:
        raise ValueError(f"a split needs bytes to be scored per byte, got {n_bytes}")
    return float(mean_nll * tokens / (math.log(2) * n_bytes))
