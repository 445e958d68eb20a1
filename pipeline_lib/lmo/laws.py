"""Mixing laws of the LMO framework: fit, predict and score.

Shapes used throughout: ``P`` is ``(n_runs, m)`` mixtures on the simplex and ``L`` is ``(n_runs, m)``
per-group losses (row r, column i = loss of group i after training on mixture ``P[r]``).

- :class:`LogLinearStaticLaw` (static, sigma = exp): ``L_i(p) = c_i + b_i * exp(-sum_j A_ij p_j)``.
- :class:`LinearDynamicLaw` (one round, sigma = identity): ``L_i^{t+1} = L_i^t - sum_j A_ij p_j``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

logger = logging.getLogger(__name__)

SIMPLEX_ATOL = 1e-6  # tolerance on row sums of mixtures given to the laws


# ----------------------------------------------------------------------------------------------------------
# Input checks and scores
# ----------------------------------------------------------------------------------------------------------
def check_mixtures(P: Any, m: int | None = None, name: str = "P") -> np.ndarray:
    """Return ``P`` as a float ``(n, m)`` array after checking that each row lies on the simplex."""
    arr = np.asarray(P, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
        raise ValueError(f"{name} must be a 2-D array (n_runs, m) with m >= 2, got shape {arr.shape}")
    if m is not None and arr.shape[1] != m:
        raise ValueError(f"{name} has {arr.shape[1]} groups but the law has m = {m}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    if arr.min() < -SIMPLEX_ATOL:
        raise ValueError(f"{name} has negative proportions (min {arr.min():.3g})")
    bad = np.abs(arr.sum(axis=1) - 1.0) > SIMPLEX_ATOL
    if bad.any():
        raise ValueError(f"{name} rows must sum to 1; rows {np.flatnonzero(bad).tolist()} do not")
    return arr


def check_losses(L: Any, shape: tuple[int, ...], name: str = "L") -> np.ndarray:
    """Return ``L`` as a finite float array of the given shape."""
    arr = np.asarray(L, dtype=float)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (matching the mixtures), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def r2_per_column(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """R^2 = 1 - SS_res / SS_tot per column, with ``y_true`` first; NaN where SS_tot is 0."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)


def mse_per_column(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mean squared error per column."""
    return ((np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)) ** 2).mean(axis=0)


@dataclass(frozen=True)
class FitReport:
    """Goodness of fit of a law on some runs: per-group R^2 and MSE and their means over groups."""

    r2: tuple[float, ...]
    mse: tuple[float, ...]
    n_runs: int

    @classmethod
    def from_predictions(cls, y_true: np.ndarray, y_pred: np.ndarray) -> FitReport:
        r2 = r2_per_column(y_true, y_pred)
        mse = mse_per_column(y_true, y_pred)
        return cls(tuple(map(float, r2)), tuple(map(float, mse)), int(np.shape(y_true)[0]))

    @property
    def r2_mean(self) -> float:
        return float(np.mean(self.r2))

    @property
    def mse_mean(self) -> float:
        return float(np.mean(self.mse))

    def to_dict(self) -> dict[str, Any]:
        return {
            "r2": list(self.r2),
            "r2_mean": self.r2_mean,
            "mse": list(self.mse),
            "mse_mean": self.mse_mean,
            "n_runs": self.n_runs,
        }


def _square(A: Any, m: int, name: str = "A") -> np.ndarray:
    arr = np.asarray(A, dtype=float)
    if arr.shape != (m, m):
        raise ValueError(f"{name} must have shape ({m}, {m}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _huber(r: np.ndarray, delta: float) -> tuple[float, np.ndarray]:
    """Summed Huber loss of residuals ``r`` and its derivative with respect to ``r``."""
    a = np.abs(r)
    q = np.minimum(a, delta)  # never squares a large residual (no overflow from wild starts)
    return float(np.add.reduce(0.5 * q**2 + delta * (a - q))), np.minimum(np.maximum(r, -delta), delta)


# ----------------------------------------------------------------------------------------------------------
# Static log-linear law
# ----------------------------------------------------------------------------------------------------------
def _gauge_basis(i: int, m: int) -> np.ndarray:
    """``(m, m-1)`` map from free parameters to row i of A with the mean off-diagonal entry pinned to 0.

    Free parameter 0 is ``A_ii``; parameters 1.. are the first m-2 off-diagonal entries; the last off-diagonal
    entry is minus their sum. For m = 2 the single off-diagonal entry is 0 (own-proportion form).
    """
    G = np.zeros((m, m - 1))
    G[i, 0] = 1.0
    offs = [j for j in range(m) if j != i]
    for k, j in enumerate(offs[:-1]):
        G[j, 1 + k] = 1.0
    G[offs[-1], 1:] = -1.0
    return G


def _fit_group_static(
    P: np.ndarray, y: np.ndarray, i: int, *, rng: np.random.Generator, n_starts: int, delta: float
) -> tuple[float, float, np.ndarray, float]:
    """Fit ``y ~ c + b exp(-P @ a)`` for group i; return (c, b, a, Huber objective)."""
    n, m = P.shape
    G = _gauge_basis(i, m)
    Z = P @ G  # (n, m-1): exponent = -(Z @ theta)
    y_min = float(y.min())
    c_hi = y_min * (1.0 - 1e-6)  # y_min > 0 is checked by the caller
    bounds = [(0.0, c_hi), (None, None)] + [(None, None)] * (m - 1)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        c, log_b, theta = x[0], x[1], x[2:]
        e = np.exp(np.clip(log_b - Z @ theta, -700.0, 700.0))  # b * exp(-a.p)
        loss, psi = _huber(c + e - y, delta)
        grad = np.concatenate(([psi.sum()], [psi @ e], -(psi * e) @ Z))
        return loss, grad

    def log_space_start(c: float) -> np.ndarray:
        # log(y - c) = log b - Z @ theta is linear in (log b, theta)
        design = np.column_stack([np.ones(n), -Z])
        coef, *_ = np.linalg.lstsq(design, np.log(y - c), rcond=None)
        return np.concatenate(([c], coef))

    # Deterministic start: the best log-space least-squares fit over a grid of c values.
    grid = [log_space_start(c) for c in np.linspace(0.0, 0.98, 25) * c_hi]
    starts = [min(grid, key=lambda x: objective(x)[0])]
    for _ in range(max(n_starts - 1, 0)):
        c = rng.uniform(0.0, c_hi)
        theta = rng.normal(0.0, 1.5, size=m - 1)
        log_b = float(np.mean(np.log(y - c) + Z @ theta))
        starts.append(np.concatenate(([c, log_b], theta)))

    from scipy.optimize import minimize  # imported here: every training job imports lmo, few fit laws

    best: tuple[float, np.ndarray] | None = None
    for x0 in starts:
        res = minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12},
        )
        if not res.success:  # usually a line search stalled at machine precision; the point is still usable
            logger.debug("static law group %d: L-BFGS-B status %d (%s)", i, res.status, res.message)
        if np.all(np.isfinite(res.x)) and (best is None or res.fun < best[0]):
            best = (float(res.fun), res.x)
    if best is None:
        raise RuntimeError(f"static law fit of group {i}: every start diverged (non-finite parameters)")
    loss, x = best
    return float(x[0]), float(np.exp(x[1])), G @ x[2:], loss


@dataclass(frozen=True)
class LogLinearStaticLaw:
    """``L_i(p) = c_i + b_i * exp(-sum_j A_ij p_j)`` for groups i = 1..m (the DML law).

    Gauge: on the simplex, adding k to row i of A is absorbed by ``b_i -> b_i e^{-k}``, so only differences
    within a row are identifiable. :meth:`fit` and :meth:`canonical` pin the mean off-diagonal entry of each
    row to 0; for m = 2 that is the own-proportion form ``c_i + b_i exp(-A_ii p_i)``.
    """

    c: np.ndarray  # (m,)
    b: np.ndarray  # (m,), > 0
    A: np.ndarray  # (m, m)

    def __post_init__(self) -> None:
        c = np.asarray(self.c, dtype=float).reshape(-1)
        m = c.size
        if m < 2:
            raise ValueError(f"LogLinearStaticLaw needs m >= 2 groups, got {m}")
        b = np.asarray(self.b, dtype=float).reshape(-1)
        if b.shape != (m,) or not np.all(b > 0) or not np.all(np.isfinite(b)):
            raise ValueError(f"b must be {m} finite positive numbers, got {b.tolist()}")
        if not np.all(np.isfinite(c)):
            raise ValueError("c contains NaN or inf")
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "A", _square(self.A, m))

    @property
    def m(self) -> int:
        return int(self.c.size)

    # -- fitting ---------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, P: Any, L: Any, *, seed: int = 0, n_starts: int = 8, huber_delta: float = 0.02) -> Self:
        """Fit each group independently by multi-start L-BFGS-B on the summed Huber loss.

        ``c_i`` is bounded to ``[0, min_r L_ri)`` and ``b_i = exp(log b_i) > 0``. Starts: the best log-space
        least-squares fit over a grid of ``c`` values, plus ``n_starts - 1`` random starts from
        ``np.random.default_rng(seed)``; the start with the lowest final loss wins.
        """
        P = check_mixtures(P)
        n, m = P.shape
        L = check_losses(L, (n, m))
        if n < m + 1:
            raise ValueError(f"LogLinearStaticLaw.fit needs at least m + 1 = {m + 1} runs, got {n}")
        if L.min() <= 0:
            raise ValueError("LogLinearStaticLaw.fit needs positive losses (c_i is bounded to [0, min L_i))")
        if huber_delta <= 0:
            raise ValueError(f"huber_delta must be > 0, got {huber_delta}")
        rng = np.random.default_rng(seed)
        c, b, A = np.zeros(m), np.zeros(m), np.zeros((m, m))
        for i in range(m):
            c[i], b[i], A[i], loss = _fit_group_static(
                P, L[:, i], i, rng=rng, n_starts=n_starts, delta=huber_delta
            )
            logger.debug("static law group %d: c=%.4f b=%.4f huber=%.3g", i, c[i], b[i], loss)
        return cls(c, b, A)

    @classmethod
    def leave_one_out(cls, P: Any, L: Any, seed: int = 0, **fit_kwargs: Any) -> np.ndarray:
        """Predictions ``(n, m)`` for each run from a law refitted without that run."""
        P = check_mixtures(P)
        L = check_losses(L, P.shape)
        out = np.empty_like(L)
        for r in range(P.shape[0]):
            keep = np.arange(P.shape[0]) != r
            law = cls.fit(P[keep], L[keep], seed=seed, **fit_kwargs)
            out[r] = law.predict(P[r : r + 1])[0]
        return out

    # -- prediction and scores --------------------------------------------------------------------------
    def predict(self, P: Any) -> np.ndarray:
        """Predicted losses ``(n, m)`` for mixtures ``(n, m)``."""
        P = check_mixtures(P, self.m)
        return self.c + self.b * np.exp(-(P @ self.A.T))

    def total(self, p: Any) -> float:
        """LMO objective: the sum over groups of the predicted losses at one mixture ``p``.

        Not checked against the simplex: solvers evaluate it at points slightly off it.
        """
        p = np.asarray(p, dtype=float)
        return float((self.c + self.b * np.exp(-(self.A @ p))).sum())

    def total_grad(self, p: Any) -> np.ndarray:
        """Gradient of :meth:`total` with respect to ``p`` (taken in R^m, not along the simplex)."""
        p = np.asarray(p, dtype=float)
        e = self.b * np.exp(-(self.A @ p))  # (m,)
        return -(e @ self.A)

    def r2(self, P: Any, L: Any) -> np.ndarray:
        """Per-group R^2 of the predictions against the observed losses ``L``."""
        return r2_per_column(check_losses(L, np.shape(P)), self.predict(P))

    def mse(self, P: Any, L: Any) -> np.ndarray:
        """Per-group mean squared error of the predictions."""
        return mse_per_column(check_losses(L, np.shape(P)), self.predict(P))

    def report(self, P: Any, L: Any) -> FitReport:
        return FitReport.from_predictions(check_losses(L, np.shape(P)), self.predict(P))

    # -- gauge and serialisation ------------------------------------------------------------------------
    def canonical(self) -> LogLinearStaticLaw:
        """The same law with each row's mean off-diagonal entry of A shifted to 0 (b rescaled)."""
        off = ~np.eye(self.m, dtype=bool)
        k = np.array([self.A[i, off[i]].mean() for i in range(self.m)])
        return LogLinearStaticLaw(self.c.copy(), self.b * np.exp(-k), self.A - k[:, None])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "log_linear_static",
            "c": self.c.tolist(),
            "b": self.b.tolist(),
            "A": self.A.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        if d.get("kind") != "log_linear_static":
            raise ValueError(f"expected kind 'log_linear_static', got {d.get('kind')!r}")
        return cls(np.array(d["c"]), np.array(d["b"]), np.array(d["A"]))


# ----------------------------------------------------------------------------------------------------------
# Linear dynamic law
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinearDynamicLaw:
    """``L_i^{t+1} = L_i^t - sum_j A_ij p_j``: A_ij is how much a round on group j lowers group i's loss."""

    A: np.ndarray  # (m, m)

    def __post_init__(self) -> None:
        A = np.asarray(self.A, dtype=float)
        if A.ndim != 2 or A.shape[0] < 2:
            raise ValueError(f"A must be an (m, m) matrix with m >= 2, got shape {A.shape}")
        object.__setattr__(self, "A", _square(A, A.shape[0]))

    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    @classmethod
    def fit(cls, L_before: Any, P: Any, L_after: Any, huber_delta: float | None = None) -> Self:
        """Regress each group's drop ``L_before - L_after`` on ``P`` without intercept.

        With p on the simplex a constant drop is absorbed into A. Ordinary least squares by default;
        a Huber fit (``scipy.optimize.least_squares``, threshold ``huber_delta``) when given.
        """
        P = check_mixtures(P)
        n, m = P.shape
        drop = check_losses(L_before, (n, m), "L_before") - check_losses(L_after, (n, m), "L_after")
        if np.linalg.matrix_rank(P) < m:
            raise ValueError(
                f"LinearDynamicLaw.fit needs mixtures spanning all {m} groups (rank {m}); "
                f"got rank {np.linalg.matrix_rank(P)} from {n} runs: add more distinct mixtures"
            )
        At, *_ = np.linalg.lstsq(P, drop, rcond=None)  # (m, m): drop ~ P @ At
        A = At.T.copy()
        if huber_delta is not None:
            from scipy.optimize import least_squares

            if huber_delta <= 0:
                raise ValueError(f"huber_delta must be > 0, got {huber_delta}")
            for i in range(m):
                res = least_squares(
                    lambda a, i=i: P @ a - drop[:, i], A[i], loss="huber", f_scale=huber_delta, xtol=1e-12
                )
                if not res.success:
                    raise RuntimeError(f"Huber fit of group {i} failed: {res.message}")
                A[i] = res.x
        return cls(A)

    def predict(self, L_before: Any, P: Any) -> np.ndarray:
        """Predicted ``L_after`` ``(n, m)``."""
        P = check_mixtures(P, self.m)
        return check_losses(L_before, P.shape, "L_before") - P @ self.A.T

    def r2(self, L_before: Any, P: Any, L_after: Any) -> np.ndarray:
        """Per-group R^2 of predicted against observed ``L_after``."""
        return r2_per_column(check_losses(L_after, np.shape(P), "L_after"), self.predict(L_before, P))

    def mse(self, L_before: Any, P: Any, L_after: Any) -> np.ndarray:
        """Per-group MSE of predicted ``L_after``."""
        return mse_per_column(check_losses(L_after, np.shape(P), "L_after"), self.predict(L_before, P))

    def report(self, L_before: Any, P: Any, L_after: Any) -> FitReport:
        return FitReport.from_predictions(
            check_losses(L_after, np.shape(P), "L_after"), self.predict(L_before, P)
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "linear_dynamic", "A": self.A.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        if d.get("kind") != "linear_dynamic":
            raise ValueError(f"expected kind 'linear_dynamic', got {d.get('kind')!r}")
        return cls(np.array(d["A"]))
