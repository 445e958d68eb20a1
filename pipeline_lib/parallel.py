"""Data parallelism: one run over several processes (``torchrun``: one per GPU, or gloo on CPU).

Every rank holds the whole model and draws the same batch from the same sampler (same seed), then trains on
its own equal share of the rows; the realised mixture, the schedule and every policy decision are those of
the single-process run. The trainer averages the default objective's gradients with DDP (overlapped with
the backward pass). A policy with its own objective (DoReMi, DoGE) builds it from :meth:`Ranks.group_means`
and :meth:`Ranks.share_mean`, whose values are the global means and whose gradients are the rank's share,
and the trainer sums those gradients over ranks. Evaluation splits each group's chunks across ranks and sums
token losses and counts. With one process every method here is the identity: single-process numbers stay
bit-identical.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from pipeline_lib.lifetime import die_with_parent

log = logging.getLogger(__name__)


def group_means(losses: torch.Tensor, groups: np.ndarray, m: int) -> tuple[list, np.ndarray]:
    """Per-group mean of per-token losses (B, T): a list of scalar tensors (None where absent), presence."""
    idx = torch.as_tensor(groups, device=losses.device)
    out = [losses[idx == j].mean() if (groups == j).any() else None for j in range(m)]
    return out, np.array([v is not None for v in out])


@dataclass(frozen=True)
class Ranks:
    """This process's place among the run's data-parallel ranks (``world`` 1: a single process)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def parallel(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files and logs progress."""
        return self.rank == 0

    def rows(self, n: int) -> slice:
        """This rank's contiguous, equal share of a batch of ``n`` rows."""
        if n % self.world:
            raise ValueError(f"a batch of {n} rows cannot be split evenly over {self.world} ranks")
        per = n // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def shard(self, array: np.ndarray) -> np.ndarray:
        """Every ``world``-th row from this rank's (evaluation chunks: shares may differ by one row)."""
        return array[self.rank :: self.world] if self.parallel else array

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks, in place; returns it."""
        if self.parallel:
            dist.all_reduce(tensor)
        return tensor

    def mean_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Average ``tensor`` over ranks, in place; returns it."""
        return self.sum_(tensor).div_(self.world) if self.parallel else tensor

    def sum_grads(self, params: Sequence[torch.nn.Parameter]) -> None:
        """Sum the parameters' gradients over ranks in one flat transfer (a missing gradient counts as 0)."""
        if not self.parallel:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1).float() for g in grads])
        dist.all_reduce(flat)
        offset = 0
        for p, g in zip(params, grads, strict=True):
            p.grad = flat[offset : offset + g.numel()].view_as(g).to(g.dtype)
            offset += g.numel()

    def share_mean(self, losses: torch.Tensor) -> torch.Tensor:
        """The mean of ``losses`` over all ranks' rows; its gradient is this rank's share (sum it over
        ranks for the gradient of the global mean)."""
        if not self.parallel:
            return losses.mean()
        means, _ = self.group_means(losses, np.zeros(len(losses), dtype=np.int64), 1)
        return means[0]

    def group_means(self, losses: torch.Tensor, groups: np.ndarray, m: int) -> tuple[list, np.ndarray]:
        """:func:`group_means` over all ranks' rows (``groups``: this rank's rows' groups): each value is the
        global group mean, each gradient this rank's share; absent everywhere: None."""
        if not self.parallel:
            return group_means(losses, groups, m)
        idx = torch.as_tensor(groups, device=losses.device)
        local = torch.stack([losses[idx == j].sum() for j in range(m)])
        per_row = losses[0].numel() if len(losses) else 0
        counts = torch.as_tensor(np.bincount(groups, minlength=m) * per_row, dtype=torch.float64)
        stats = self.sum_(torch.cat([local.detach().double(), counts.to(losses.device)]))
        total, n = stats[:m], stats[m:]
        present = (n > 0).cpu().numpy()  # one host read, not one per group
        out = [
            (local[j] + (total[j] - local[j].detach().double()).to(local.dtype)) / n[j].to(local.dtype)
            if present[j]
            else None
            for j in range(m)
        ]
        return out, present

    def pool_means(self, rows: torch.Tensor, counts: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Rows of this rank's per-group means (m, P) over ``counts`` items each, pooled into the global
        means (weighted by counts); returns them and each group's global presence."""
        if not self.parallel:
            return rows, np.asarray(counts) > 0
        weights = torch.as_tensor(np.asarray(counts, dtype=np.float64), device=rows.device)
        rows.mul_(weights.to(rows.dtype)[:, None])
        self.sum_(rows)
        total = self.sum_(weights.clone())
        rows.div_(total.clamp(min=1).to(rows.dtype)[:, None])
        return rows, (total > 0).cpu().numpy()


SINGLE = Ranks()
RANKS_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def from_env() -> Ranks:
    """The ranks ``torchrun`` set in the environment, or a single process."""
    if "WORLD_SIZE" not in os.environ:
        return SINGLE
    env = {k: int(os.environ.get(k, "0")) for k in RANKS_ENV}
    return Ranks(env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"])


def start(ranks: Ranks) -> torch.device | None:
    """Join the process group (NCCL with a GPU per rank, else gloo); returns the rank's GPU, if any."""
    if not ranks.parallel:
        return None
    die_with_parent()
    device = None
    if torch.cuda.is_available():
        if ranks.local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"rank {ranks.rank} needs GPU {ranks.local_rank} but {torch.cuda.device_count()} are visible"
            )
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device is not None else "gloo")
    log.info("rank %d of %d (%s)", ranks.rank, ranks.world, device or "cpu, gloo")
    return device


def stop(ranks: Ranks) -> None:
    if ranks.parallel and dist.is_initialized():
        dist.destroy_process_group()
