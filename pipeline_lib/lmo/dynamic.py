"""The linear dynamic law's A^t as each online method states it (LMO, Aioli's Section 3).

Under L^{t+1} = L^t - A^t p^t every online method is exponentiated gradient on the column sums of its own
A^t (:func:`pipeline_lib.lmo.solvers.eg_step`); they differ only in how A^t is set. Aioli estimates it
(LearnParams, :func:`aioli_A`); Skill-It, DoReMi and DoGE derive it from a graph, excess losses or gradients.
"""

from __future__ import annotations

import numpy as np

from pipeline_lib.lmo.grids import smoothed_one_hot


def aioli_A(
    beta: np.ndarray, one_hot_factor: float, diagonal: bool = False, W: np.ndarray | None = None
) -> np.ndarray:
    """Undo LearnParams' smoothing: beta = A W^T with W's rows the mixtures trained on, so A = beta W^-T;
    ``diagonal`` (Aioli-diagonal) keeps only A_ii = beta_ii / W_ii. ``W``: the mixtures the batches realised
    (rounded to whole sequences); default: the smoothed one-hot mixtures as asked for."""
    m = beta.shape[0]
    if W is None:
        W = smoothed_one_hot(m, one_hot_factor)
    if diagonal:
        return np.diag(np.diag(beta) / np.diag(W))
    if np.array_equal(W, np.eye(m)):
        return beta.copy()
    return np.linalg.solve(W, beta.T).T  # A W^T = beta  <=>  W A^T = beta^T


def normalize_A(A: np.ndarray) -> np.ndarray:
    """Shift A so its smallest entry is 0 (if negative), then scale its entries to sum to 1."""
    A = A - min(A.min(), 0.0)
    total = A.sum()
    return A / total if total > 0 else np.full_like(A, 1.0 / A.size)


def ema_A(A: np.ndarray, previous: np.ndarray | None, gamma: float) -> np.ndarray:
    """A-bar = (1 - gamma) A + gamma A-bar_prev (the first A as it is)."""
    return A if previous is None else (1 - gamma) * A + gamma * previous


def skillit_A(G: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """Skill-It: A_ij = L_i G_ji (group i's loss times how much training on j lowers it)."""
    return np.asarray(losses, dtype=float)[:, None] * np.asarray(G, dtype=float).T


def doremi_A(excess: np.ndarray) -> np.ndarray:
    """DoReMi: diagonal, the clipped excess loss of each group over the reference model."""
    return np.diag(np.maximum(np.asarray(excess, dtype=float), 0.0))


def doge_A(val_grads: np.ndarray, train_grads: np.ndarray) -> np.ndarray:
    """DoGE: A_ij = <v_i, g_j> from per-group validation (m, P) and training (m, P) gradients."""
    return np.asarray(val_grads) @ np.asarray(train_grads).T
