"""Olmix's per-task log-linear law: ``f_i(p) = c_i + exp(t_i . p)``, one law per evaluation task i.

The same family as the DML law of :mod:`.laws`: ``c_i + b_i exp(-A_i . p) = c_i + exp(t_i . p)`` with
``t_i = log(b_i) 1 - A_i``, because ``sum p = 1`` (:meth:`TaskLogLinearLaw.from_static`). What differs is
the target (a task's metric, e.g. bits per byte, rather than a training group's loss) and the fit: Olmix's
summed Huber loss with its multi-start, over the domains some swarm run trained on. A domain absent from
every run leaves its ``t_ij`` unidentified: it is set to the mean of the row's fitted ones (a domain the
data cannot tell from an average one), which neither moves the other coefficients nor drifts. An optional
ridge on the spread of ``t_i`` is scale-free: its weight is relative to the task's sum of squares.

Shapes: ``P`` is ``(K, m)`` swarm mixtures, ``Y`` is ``(K, n)`` task metrics (lower is better).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from pipeline_lib.lmo.laws import LogLinearStaticLaw, _huber, check_losses, check_mixtures

logger = logging.getLogger(__name__)

THETA0_GRID = np.linspace(-2.0, 1.5, 10)  # Olmix's starts for log c_i


@dataclass(frozen=True)
class FitSettings:
    """How each task's law is fitted (Olmix's defaults)."""

    huber_delta: float = 0.02
    ridge: float = 0.0
    """Weight of ``sum_j (t_ij - mean_j t_ij)^2`` over the present domains, times the task's total sum of
    squares ``sum_r (y_r - mean y)^2`` (so it means the same on any metric's scale while the fit's residuals
    stay within the Huber threshold); 0: olmix's objective."""
    n_random: int = 10
    """Random t per log-c start: 10 x n_random starts (Olmix: 30, i.e. 300 starts, at 3x the time)."""
    loo_n_random: int = 1
    """The same for each leave-one-out refit."""
    maxiter: int = 100
    seed: int = 0


def _fit_task(
    P: np.ndarray, y: np.ndarray, s: FitSettings, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Fit ``y ~ exp(theta0) + exp(P @ t)`` for one task; return (c, t). Only the domains some run trained
    on are fitted; an absent one gets the mean of the fitted coefficients."""
    from scipy.optimize import minimize  # imported here: every training job imports lmo, few fit laws

    m = P.shape[1]
    present = (P > 0).any(axis=0)
    X = P[:, present]
    ridge = s.ridge * float(((y - y.mean()) ** 2).sum())  # relative to the task's own spread

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:  # ~1e5 calls a fit: numpy's ufuncs, not
        theta0, t = x[0], x[1:]  # its Python wrappers (np.clip, ndarray.mean): the same arithmetic
        c, e = np.exp(min(theta0, 50.0)), np.exp(np.minimum(np.maximum(X @ t, -50.0), 50.0))
        loss, psi = _huber(c + e - y, s.huber_delta)
        dev = t - np.add.reduce(t) / t.size
        loss += ridge * float(dev @ dev)
        grad_t = X.T @ (psi * e) + 2.0 * ridge * dev
        return loss, np.concatenate(([psi.sum() * c], grad_t))

    best: tuple[float, np.ndarray] | None = None
    for theta0 in THETA0_GRID:
        for _ in range(s.n_random):
            t = rng.uniform(0.0, 0.1, size=m)
            t[rng.integers(m)] = -rng.uniform(0.0, 1.0)
            res = minimize(
                objective, np.concatenate(([theta0], t[present])), jac=True, method="L-BFGS-B",
                options={"maxiter": s.maxiter},
            )  # fmt: skip
            if np.all(np.isfinite(res.x)) and np.isfinite(res.fun) and (best is None or res.fun < best[0]):
                best = (float(res.fun), res.x)
    if best is None:
        raise RuntimeError("task law fit: every start diverged (non-finite parameters)")
    t = np.full(m, best[1][1:].mean())
    t[present] = best[1][1:]
    return float(np.exp(best[1][0])), t


@dataclass(frozen=True)
class TaskLogLinearLaw:
    """``f_i(p) = c_i + exp(t_i . p)`` for tasks i = 1..n over m domains."""

    tasks: tuple[str, ...]
    c: np.ndarray  # (n,)
    t: np.ndarray  # (n, m)

    def __post_init__(self) -> None:
        c = np.asarray(self.c, dtype=float).reshape(-1)
        t = np.asarray(self.t, dtype=float)
        if t.ndim != 2 or t.shape[0] != c.size or t.shape[1] < 2 or len(self.tasks) != c.size:
            raise ValueError(f"t must be (n tasks, m >= 2) with n = {c.size} = len(tasks); got {t.shape}")
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(t))):
            raise ValueError("c and t must be finite")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "t", t)

    @property
    def m(self) -> int:
        return int(self.t.shape[1])

    @classmethod
    def fit(cls, P: Any, Y: Any, tasks: tuple[str, ...], settings: FitSettings = FitSettings()) -> Self:
        """One law per column of ``Y``, each from every start (:class:`FitSettings`); the lowest loss wins."""
        P = check_mixtures(P)
        Y = check_losses(Y, (P.shape[0], len(tasks)), "Y")
        if P.shape[0] < 2:
            raise ValueError(f"the task law needs at least 2 runs, got {P.shape[0]}")
        rng = np.random.default_rng(settings.seed)
        fits = [_fit_task(P, Y[:, i], settings, rng) for i in range(Y.shape[1])]
        return cls(tasks, np.array([c for c, _ in fits]), np.array([t for _, t in fits]))

    @classmethod
    def from_static(cls, law: LogLinearStaticLaw, tasks: tuple[str, ...]) -> Self:
        """The DML law as a task law: ``t_i = log(b_i) 1 - A_i`` (tasks = the groups)."""
        return cls(tasks, law.c.copy(), np.log(law.b)[:, None] - law.A)

    def predict(self, P: Any) -> np.ndarray:
        """Predicted metrics ``(K, n)``."""
        P = check_mixtures(P, self.m)
        return self.c + np.exp(P @ self.t.T)

    def objective(self, p: Any, weights: np.ndarray) -> float:
        """Olmix's objective without the constants: ``sum_i w_i exp(t_i . p)``."""
        return float(weights @ np.exp(self.t @ np.asarray(p, dtype=float)))

    def objective_grad(self, p: Any, weights: np.ndarray) -> np.ndarray:
        return (weights * np.exp(self.t @ np.asarray(p, dtype=float))) @ self.t

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "task_log_linear",
            "tasks": list(self.tasks),
            "c": self.c.tolist(),
            "t": self.t.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        if d.get("kind") != "task_log_linear":
            raise ValueError(f"expected kind 'task_log_linear', got {d.get('kind')!r}")
        return cls(tuple(d["tasks"]), np.array(d["c"]), np.array(d["t"]))


def correlations(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    """Pearson and Spearman correlation of observed and predicted values (None when one is constant or a
    prediction is not finite)."""
    from scipy.stats import pearsonr, spearmanr

    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        return {"pearson": None, "spearman": None}
    if y_true.size < 3 or np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        return {"pearson": None, "spearman": None}
    return {
        "pearson": float(pearsonr(y_true, y_pred).statistic),
        "spearman": float(spearmanr(y_true, y_pred).statistic),
    }
