"""Paired comparisons over seeds: a method against a baseline trained on the same seeds.

Within one seed both runs share the initial weights and each group's chunk order, so the per-seed difference
measures the mixture. The interval is Student's t over the paired differences (two-sided, 95% by default);
with fewer than two pairs there is none, and the tables say so rather than print a std of 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class PairedDiff:
    """The mean of paired differences (method - baseline) with its t-interval."""

    mean: float
    n: int
    half_width: float | None  # None with fewer than 2 pairs

    @property
    def lo(self) -> float | None:
        return None if self.half_width is None else self.mean - self.half_width

    @property
    def hi(self) -> float | None:
        return None if self.half_width is None else self.mean + self.half_width

    @property
    def verdict(self) -> str:
        """ "better" (the interval lies below 0: lower perplexity), "worse", "not resolved", or "1 seed"."""
        if self.half_width is None:
            return f"{self.n} seed" if self.n == 1 else "no pairs"
        if self.hi < 0:
            return "better"
        return "worse" if self.lo > 0 else "not resolved"

    def label(self, seed_note: bool = True) -> str:
        """ "−0.812 [−1.5, −0.1]*" (significant), "+0.3 [−0.9, 1.5]", or "−0.812, 1 seed: no interval"
        (``seed_note`` False: "−0.812", for a table that says it once in its note)."""
        mean = f"{self.mean:+.3f}".replace("-", "−")
        if self.half_width is None:
            return f"{mean}, {self.n} seed: no interval" if self.n == 1 and seed_note else mean
        lo, hi = (f"{v:+.3f}".replace("-", "−") for v in (self.lo, self.hi))
        return f"{mean} [{lo}, {hi}]" + ("*" if self.verdict in ("better", "worse") else "")


def paired_diff(diffs: Sequence[float], level: float = LEVEL) -> PairedDiff:
    """Mean and t-interval of paired differences (NaNs dropped)."""
    arr = np.asarray([d for d in diffs if not math.isnan(d)], dtype=float)
    n = len(arr)
    if n == 0:
        return PairedDiff(math.nan, 0, None)
    if n < 2:
        return PairedDiff(float(arr.mean()), n, None)
    from scipy.stats import t  # lazy: the report steps only

    half = float(t.ppf(0.5 + level / 2, n - 1) * arr.std(ddof=1) / math.sqrt(n))
    return PairedDiff(float(arr.mean()), n, half)
