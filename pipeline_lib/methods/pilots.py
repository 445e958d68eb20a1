"""Pilot runs as arrays: the mixtures they trained on and the losses they reached."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline_lib.records import RunRecord, Spent


@dataclass(frozen=True)
class PilotSet:
    """n pilot runs of one setting and seed: mixtures P (n, m), final per-group validation losses L (n, m)."""

    groups: tuple[str, ...]
    P: np.ndarray
    L: np.ndarray
    tokens: int
    paths: tuple[str, ...]
    records: tuple[RunRecord, ...]

    @property
    def extra_runs(self) -> Spent:
        return Spent.of(self.records)


def load_pilots(paths: Sequence[str]) -> PilotSet:
    """Read pilot ``run.json`` files; all must share the same groups."""
    records = [RunRecord.read(p) for p in paths]
    if not records:
        raise ValueError("no pilot runs given")
    groups = records[0].groups
    for path, rec in zip(paths, records, strict=True):
        if rec.groups != groups:
            raise ValueError(f"{path}: groups {list(rec.groups)} differ from {list(groups)}")
    P = np.array([rec.mixture(groups) for rec in records])
    L = np.array([rec.val_losses(groups) for rec in records])
    tokens = sum(rec.trained_tokens for rec in records)
    return PilotSet(groups, P, L, tokens, tuple(map(str, paths)), tuple(records))
