"""Pilot mixtures: the m = 2 sweep, Dirichlet covers of the simplex, one-hot and smoothed one-hot mixtures."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

DECIMALS = 6  # the paper's cover files are written with 6 decimals


def _merge_closest_pairs(points: np.ndarray, n: int) -> np.ndarray:
    """Replace the closest pair by its midpoint until ``n`` points remain.

    List order matters for bit-exact regeneration of the paper's files: the pair is the first minimum of
    the full distance matrix in row-major order (so i < j), both points are removed and the midpoint is
    appended at the end. The distance matrix is updated incrementally instead of being recomputed.
    """
    from scipy.spatial.distance import cdist, pdist, squareform  # here: every training job imports lmo

    pts = points.copy()
    D = squareform(pdist(pts))
    np.fill_diagonal(D, np.inf)
    while len(pts) > n:
        i, j = np.unravel_index(np.argmin(D), D.shape)
        mid = (pts[i] + pts[j]) / 2
        keep = np.ones(len(pts), dtype=bool)
        keep[[i, j]] = False
        pts = np.vstack([pts[keep], mid])
        d_new = cdist(pts[:-1], mid[None, :])[:, 0]
        k = len(pts)
        D_next = np.empty((k, k))
        D_next[:-1, :-1] = D[np.ix_(keep, keep)]
        D_next[:-1, -1] = d_new
        D_next[-1, :-1] = d_new
        D_next[-1, -1] = np.inf
        D = D_next
    return pts


def round_decimals(X: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """Round exactly as ``'%.{decimals}f'`` formatting does (correct decimal rounding, unlike np.round)."""
    return np.array([[float(f"{v:.{decimals}f}") for v in row] for row in np.asarray(X, dtype=float)])


def dirichlet_cover(
    m: int,
    n: int,
    seed: int,
    alpha: float | Any = 1.0,
    oversample_pow: int = 4,
    *,
    renormalize: bool = True,
) -> np.ndarray:
    """``n`` well-spread mixtures ``(n, m)``: the paper's Dirichlet cover.

    Draw ``n * 2**oversample_pow`` points from Dirichlet(alpha) with a local ``np.random.RandomState(seed)``
    (the legacy stream the paper's ``np.random.seed(s); np.random.dirichlet(...)`` used), merge closest pairs
    into midpoints until ``n`` remain, and round to 6 decimals. With ``renormalize=False`` the rows are
    exactly the paper's file values (which can sum to 1 +- 1e-6); by default each row is divided by its sum.
    """
    if m < 2 or n < 1 or oversample_pow < 0:
        raise ValueError(
            f"dirichlet_cover needs m >= 2, n >= 1, oversample_pow >= 0; got {m}, {n}, {oversample_pow}"
        )
    alphas = np.broadcast_to(np.asarray(alpha, dtype=float), (m,)).copy()
    if not np.all(alphas > 0):
        raise ValueError(f"alpha must be positive, got {alphas.tolist()}")
    draws = np.random.RandomState(seed).dirichlet(alphas, n * (1 << oversample_pow))
    X = round_decimals(_merge_closest_pairs(draws, n))
    if renormalize:
        X = X / X.sum(axis=1, keepdims=True)
    logger.debug("dirichlet_cover m=%d n=%d seed=%d alpha=%s", m, n, seed, alphas.tolist())
    return X


def grid_mixtures(m: int, n: int | None, seed: int) -> np.ndarray:
    """Pilot mixtures for grid search and DML: m = 2 -> p_1 in {0.1, ..., 0.9}; m >= 3 -> Dirichlet cover."""
    if m == 2:
        if n not in (None, 9):
            raise ValueError(f"the m = 2 grid is fixed at 9 points (p_1 = 0.1..0.9); set n to 9, not {n}")
        p1 = np.arange(1, 10) / 10
        return np.column_stack([p1, 1.0 - p1])
    if m < 2:
        raise ValueError(f"grid_mixtures needs m >= 2 groups, got {m}")
    if n is None or n < 1:
        raise ValueError(f"grid_mixtures needs the number of mixtures n >= 1 for m = {m}, got {n}")
    return dirichlet_cover(m, n, seed)


def one_hot_mixtures(m: int) -> np.ndarray:
    """``(m, m)``: row j trains on group j only (Skill-It's graph runs)."""
    if m < 2:
        raise ValueError(f"one_hot_mixtures needs m >= 2, got {m}")
    return np.eye(m)


def smoothed_one_hot(m: int, hot_weight: float) -> np.ndarray:
    """``(m, m)``: row j puts ``hot_weight`` on group j and ``(1 - hot_weight) / (m - 1)`` on each other."""
    if m < 2:
        raise ValueError(f"smoothed_one_hot needs m >= 2, got {m}")
    if not 0.0 <= hot_weight <= 1.0:
        raise ValueError(f"hot_weight must be in [0, 1], got {hot_weight}")
    W = np.full((m, m), (1.0 - hot_weight) / (m - 1))
    np.fill_diagonal(W, hot_weight)
    return W
