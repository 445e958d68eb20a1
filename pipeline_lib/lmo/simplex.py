"""The probability simplex: the one check that a mixture is m non-negative weights summing to one."""

from __future__ import annotations

from typing import Any

import numpy as np

MIXTURE_ATOL = 1e-6  # how far a mixture's sum may be from 1


def check_mixture(p: Any, m: int, where: str) -> np.ndarray:
    """Return p as a float array normalised to sum 1, or raise if it is not m non-negative weights summing
    to 1 (within :data:`MIXTURE_ATOL`)."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.shape != (m,) or np.any(arr < 0) or not np.isclose(arr.sum(), 1.0, atol=MIXTURE_ATOL):
        raise ValueError(f"{where}: a mixture needs {m} non-negative weights summing to 1, got {p}")
    return arr / arr.sum()
