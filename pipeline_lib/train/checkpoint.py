"""Mid-run checkpoints: a killed or preempted job continues from its last checkpoint, bit-identically.

A checkpoint holds everything the loop depends on: the trainer's state (model, optimizer, counters, mixture,
sampler RNGs), torch's RNG, the history so far, the loop's next evaluation step and the policy's state. It is
written atomically beside the run's outputs as ``checkpoint.pt``, a file Snakemake does not declare and so
does not delete when a job fails, and removed once run.json is written. A checkpoint made under another spec
(or another start state or stop step) is ignored and replaced.

Nothing in it is unpickled (:mod:`pipeline_lib.state_file`): its format and key are checked before any
tensor is read. A checkpoint that cannot be read (truncated, damaged, holding objects a weights-only load
refuses) never blocks the job: it is named in a warning, moved aside to ``checkpoint.pt.damaged`` and the run
starts from step 0.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_lib.state_file import (
    UnreadableStateError,
    check_format,
    materialise,
    open_state_file,
    write_state_file,
)

log = logging.getLogger(__name__)
NAME = "checkpoint.pt"
FORMAT = "mixpipe.checkpoint/1"
DAMAGED = ".damaged"


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
        if self.owner:
            write_state_file(self.path, {"format": FORMAT, "key": self.key, **state}, "the run's checkpoint")

    def load(self) -> dict[str, Any] | None:
        """The checkpoint of this run, or None: none there, one of another run (removed), or one that cannot
        be read safely (moved aside)."""
        if not self.path.exists():
            return None
        try:
            raw = open_state_file(self.path)  # memory-mapped: no tensor is read before the checks
            check_format(raw, FORMAT, self.path)
            if raw.get("key") != self.key:
                log.warning("%s belongs to another run configuration; starting from step 0", self.path)
                self.remove()
                return None
            return materialise(raw, self.path)
        except FileNotFoundError:  # another rank set it aside meanwhile: it starts from step 0 too
            return None
        except UnreadableStateError as err:
            self.set_aside(err)
            return None

    def set_aside(self, reason: Exception) -> None:
        """Move an unreadable checkpoint to ``<name>.damaged`` (kept for inspection) and say so."""
        if not self.owner:
            return
        aside = self.path.with_name(self.path.name + DAMAGED)
        try:
            os.replace(self.path, aside)
        except OSError as err:
            log.warning("%s; could not move it aside (%s); starting from step 0", reason, err)
            return
        log.warning("%s; moved it to %s; starting from step 0", reason, aside)

    def remove(self) -> None:
        if self.owner:
            self.path.unlink(missing_ok=True)
