"""Mid-run checkpoints: a killed or preempted job continues from its last checkpoint, bit-identically.

A checkpoint holds everything the loop depends on: the trainer's state (model, optimizer, counters, mixture,
sampler RNGs), torch's RNG, the history so far, the loop's next evaluation step and the policy's state. It is
written atomically beside the run's outputs as ``checkpoint.pt``, a file Snakemake does not declare and so
does not delete when a job fails, and removed once run.json is written. A checkpoint made under another spec
(or another start state or stop step) is ignored and replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pipeline_lib.io import atomic_path

log = logging.getLogger(__name__)
NAME = "checkpoint.pt"


@dataclass(frozen=True)
class Checkpointer:
    """Where and how often one run checkpoints; ``key`` identifies the run (a hash of what it trains)."""

    path: Path
    every: int
    key: str
    owner: bool = True
    """Whether this process writes and removes the file (rank 0 of a data-parallel run)."""

    def due(self, step: int, last: int) -> bool:
        """Whether a checkpoint is due at ``step``, the last one having been at ``last``."""
        return step // self.every > last // self.every

    def save(self, state: dict[str, Any]) -> None:
        if not self.owner:
            return
        with atomic_path(self.path) as tmp:
            torch.save({"key": self.key, **state}, tmp)

    def load(self, device: torch.device) -> dict[str, Any] | None:
        """The checkpoint of this run, or None (none there, or one of another run: removed)."""
        if not self.path.exists():
            return None
        state = torch.load(self.path, map_location=device, weights_only=False)
        if state.get("key") != self.key:
            log.warning("%s belongs to another run configuration; starting from step 0", self.path)
            self.remove()
            return None
        return state

    def remove(self) -> None:
        if self.owner:
            self.path.unlink(missing_ok=True)
