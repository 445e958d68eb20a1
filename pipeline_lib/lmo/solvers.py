"""Solvers of the LMO framework: exponentiated gradient steps and minimisation on the (capped) simplex."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline_lib.lmo.laws import LogLinearStaticLaw
from pipeline_lib.lmo.tasklaw import TaskLogLinearLaw

logger = logging.getLogger(__name__)

FEAS_ATOL = 1e-7  # how far an SLSQP answer may sit off the feasible set before it is rejected
KL_EPS = 1e-12  # floor inside log(p) of the KL term, so its gradient stays finite at p_j = 0


# ----------------------------------------------------------------------------------------------------------
# Exponentiated gradient
# ----------------------------------------------------------------------------------------------------------
def _as_distribution(p: Any, name: str = "p") -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1 or arr.size < 2 or not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.sum() <= 0:
        raise ValueError(f"{name} must be a 1-D vector of >= 2 non-negative finite numbers with positive sum")
    return arr / arr.sum()


def eg_from_scores(p: Any, scores: Any, eta: float) -> np.ndarray:
    """One exponentiated-gradient step: ``p_new ∝ p * exp(eta * scores)``, computed in log space.

    Groups with ``p_j = 0`` stay at 0. The result lies on the simplex.
    """
    p = _as_distribution(p)
    g = np.asarray(scores, dtype=float)
    if g.shape != p.shape or not np.all(np.isfinite(g)):
        raise ValueError(f"scores must be {p.size} finite numbers, got shape {g.shape}")
    logw = np.full(p.shape, -np.inf)
    pos = p > 0
    logw[pos] = np.log(p[pos]) + eta * g[pos]
    w = np.exp(logw - logw[pos].max())
    return w / w.sum()


def eg_step(p: Any, A: Any, eta: float) -> np.ndarray:
    """EG on the column sums of A: ``p_new ∝ p * exp(eta * sum_i A_ij)`` (group j's total benefit)."""
    A = np.asarray(A, dtype=float)
    m = np.asarray(p).size
    if A.shape != (m, m):
        raise ValueError(f"A must have shape ({m}, {m}) to match p, got {A.shape}")
    return eg_from_scores(p, A.sum(axis=0), eta)


# ----------------------------------------------------------------------------------------------------------
# Simplex minimisation
# ----------------------------------------------------------------------------------------------------------
def project_to_capped_simplex(x: Any, caps: Any = None, *, iters: int = 200) -> np.ndarray:
    """Euclidean projection onto ``{p : 0 <= p_j <= caps_j, sum p = 1}`` (bisection on the shift tau)."""
    x = np.asarray(x, dtype=float)
    hi_b = np.ones_like(x) if caps is None else np.minimum(np.asarray(caps, dtype=float), 1.0)
    if hi_b.sum() < 1.0 - 1e-12:
        raise ValueError(f"infeasible: caps sum to {hi_b.sum():.6g} < 1, so no mixture satisfies them")
    lo, hi = float((x - hi_b).min()) - 1.0, float(x.max())  # sum(clip(x - lo)) = sum(caps) >= 1 >= 0
    for _ in range(iters):
        tau = 0.5 * (lo + hi)
        if np.clip(x - tau, 0.0, hi_b).sum() > 1.0:
            lo = tau
        else:
            hi = tau
    return np.clip(x - 0.5 * (lo + hi), 0.0, hi_b)


def _kl(p: np.ndarray, q: np.ndarray, support: np.ndarray) -> tuple[float, np.ndarray]:
    """KL(p || q) over ``support`` (q > 0) and its gradient; p is floored at KL_EPS inside the log."""
    ps = np.maximum(p[support], KL_EPS)
    log_ratio = np.log(ps / q[support])
    grad = np.zeros_like(p)
    grad[support] = log_ratio + 1.0
    return float(p[support] @ log_ratio), grad


def _check_caps(caps: Any, m: int) -> np.ndarray:
    if caps is None:
        return np.ones(m)
    arr = np.asarray(caps, dtype=float)
    if arr.shape != (m,) or np.isnan(arr).any() or arr.min() < 0:
        raise ValueError(f"caps must be {m} non-negative numbers, got {np.asarray(caps).tolist()}")
    return np.minimum(arr, 1.0)


def _feasible_bounds(m: int, caps: Any, kl_to: Any, kl_weight: float) -> tuple[np.ndarray, np.ndarray | None]:
    """(upper bounds, the KL target q or None), checked: caps non-negative, KL well defined, feasible."""
    if m < 2:
        raise ValueError(f"m must be >= 2, got {m}")
    upper = _check_caps(caps, m)
    q = None
    if kl_weight < 0:
        raise ValueError(f"kl_weight must be >= 0, got {kl_weight}")
    if kl_weight > 0:
        if kl_to is None:
            raise ValueError("kl_weight > 0 needs kl_to, the mixture to stay close to")
        q = _as_distribution(kl_to, "kl_to")
        if q.size != m:
            raise ValueError(f"kl_to has {q.size} entries, expected m = {m}")
        upper = np.where(q > 0, upper, 0.0)  # KL(p || q) is infinite unless p_j = 0 where q_j = 0
    if upper.sum() < 1.0 - 1e-12:
        raise ValueError(
            f"infeasible: caps sum to {upper.sum():.6g} < 1"
            + (" (after zeroing groups where kl_to is 0)" if q is not None else "")
        )
    return upper, q


def _starts(m: int, x0: Any, seed: int, n_starts: int) -> list[np.ndarray]:
    """Uniform, ``x0`` (when given), then ``n_starts`` Dirichlet draws of ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    starts = [np.full(m, 1.0 / m)]
    if x0 is not None:
        x0 = np.asarray(x0, dtype=float)
        if x0.shape != (m,) or not np.all(np.isfinite(x0)):
            raise ValueError(f"x0 must be {m} finite numbers, got shape {x0.shape}")
        starts.append(x0)
    return starts + list(rng.dirichlet(np.ones(m), size=n_starts))


def _best_of_starts(
    fun: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray] | None,
    starts: list[np.ndarray],
    upper: np.ndarray,
    maxiter: int,
) -> np.ndarray:
    """SLSQP from each start (projected onto the capped simplex); the best feasible, successful answer."""
    from scipy.optimize import minimize  # imported here: every training job imports lmo, few solve

    bounds = [(0.0, float(u)) for u in upper]
    constraint = {"type": "eq", "fun": lambda p: p.sum() - 1.0, "jac": lambda p: np.ones_like(p)}
    best: tuple[float, np.ndarray] | None = None
    failures: list[str] = []
    for k, start in enumerate(starts):
        x = project_to_capped_simplex(start, upper)
        res = minimize(
            fun,
            x,
            jac=grad,
            method="SLSQP",
            bounds=bounds,
            constraints=[constraint],
            options={"maxiter": maxiter, "ftol": 1e-12},
        )
        feasible = abs(res.x.sum() - 1.0) < FEAS_ATOL and np.all(res.x > -FEAS_ATOL)
        feasible = feasible and np.all(res.x < upper + FEAS_ATOL)
        if not (res.success and feasible and np.isfinite(res.fun)):
            failures.append(f"start {k}: status {res.status} ({res.message}), feasible={feasible}")
            continue
        p = project_to_capped_simplex(res.x, upper)
        val = fun(p)
        if best is None or val < best[0]:
            best = (val, p)
    if failures and best is not None:
        logger.warning(
            "minimize_on_simplex: %d of %d starts failed: %s", len(failures), len(starts), failures
        )
    if best is None:
        raise RuntimeError("minimize_on_simplex: SLSQP failed from every start: " + "; ".join(failures))
    return best[1]


def minimize_on_simplex(
    objective: Callable[[np.ndarray], float],
    m: int,
    *,
    jac: Callable[[np.ndarray], np.ndarray] | None = None,
    x0: Any = None,
    caps: Any = None,
    kl_to: Any = None,
    kl_weight: float = 0.0,
    seed: int = 0,
    n_starts: int = 4,
    maxiter: int = 1000,
) -> np.ndarray:
    """Minimise ``objective(p) + kl_weight * KL(p || kl_to)`` over ``{p >= 0, sum p = 1, p <= caps}``.

    SLSQP from several starts: uniform, ``x0`` (when given) and ``n_starts`` Dirichlet draws from
    ``np.random.default_rng(seed)``, each projected onto the feasible set. Returns the best point whose
    solver run succeeded, projected onto the capped simplex. ``jac`` (gradient of ``objective``) is optional;
    without it SLSQP uses finite differences.

    Raises ValueError for an infeasible or malformed problem and RuntimeError when every start fails.
    """
    upper, q = _feasible_bounds(m, caps, kl_to, kl_weight)
    support = None if q is None else q > 0

    def fun(p: np.ndarray) -> float:
        val = float(objective(p))
        if q is not None:
            val += kl_weight * _kl(p, q, support)[0]
        return val

    def full_grad(p: np.ndarray) -> np.ndarray:
        g = np.asarray(jac(p), dtype=float)
        if q is not None:
            g = g + kl_weight * _kl(p, q, support)[1]
        return g

    grad = full_grad if jac is not None else None  # None: SLSQP takes finite differences
    return _best_of_starts(fun, grad, _starts(m, x0, seed, n_starts), upper, maxiter)


def minimize_static_law(law: LogLinearStaticLaw, **kwargs: Any) -> np.ndarray:
    """The mixture minimising ``law.total(p)`` (sum of predicted group losses); kwargs go to
    :func:`minimize_on_simplex` (caps, kl_to, kl_weight, seed, n_starts, x0)."""
    return minimize_on_simplex(law.total, law.m, jac=law.total_grad, **kwargs)


def repetition_caps(tokens: Any, target_tokens: int, repetitions: float) -> np.ndarray:
    """Olmix's caps ``p_j <= k N_j / R``: domain j (N_j tokens) is seen at most ``repetitions`` (k) times in
    a run of ``target_tokens`` (R); caps above 1 are 1."""
    if target_tokens <= 0 or repetitions <= 0:
        raise ValueError(f"target_tokens and repetitions must be > 0, got {target_tokens}, {repetitions}")
    return np.minimum(repetitions * np.asarray(tokens, dtype=float) / target_tokens, 1.0)


def minimize_task_law(
    law: TaskLogLinearLaw,
    *,
    weights: Any = None,
    prior: Any = None,
    kl_weight: float = 0.0,
    caps: Any = None,
    **kwargs: Any,
) -> np.ndarray:
    """Olmix's mixture: ``min_p sum_i w_i exp(t_i . p) + kl_weight KL(p || prior)`` on the simplex with
    ``p <= caps`` (w uniform by default). Convex; kwargs go to :func:`minimize_on_simplex`."""
    n = len(law.tasks)
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or w.min() < 0:
        raise ValueError(f"weights must be {n} non-negative numbers, got {np.asarray(weights).tolist()}")
    return minimize_on_simplex(
        lambda p: law.objective(p, w), law.m, jac=lambda p: law.objective_grad(p, w),
        caps=caps, kl_to=prior, kl_weight=kl_weight, x0=prior, **kwargs,
    )  # fmt: skip


def two_group_closed_form(law: LogLinearStaticLaw) -> np.ndarray:
    """Exact minimiser ``(p, 1 - p)`` of ``law.total`` for m = 2.

    In the own-proportion gauge (see :meth:`LogLinearStaticLaw.canonical`) the objective is
    ``f(p) = c1 + b1 e^{-a1 p} + c2 + b2 e^{-a2 (1 - p)}`` with ``a_i = A_ii - A_ij``. It is convex, and
    ``f'(p) = 0`` gives ``a1 b1 e^{-a1 p} = a2 b2 e^{-a2 (1 - p)}``, i.e.
    ``p* = (ln(a1 b1) - ln(a2 b2) + a2) / (a1 + a2)`` when ``a1 a2 > 0``, clipped to [0, 1]. If ``a1`` and
    ``a2`` differ in sign, f is monotone and the optimum is an endpoint.
    """
    if law.m != 2:
        raise ValueError(f"two_group_closed_form needs m = 2, got m = {law.m}")
    own = law.canonical()  # off-diagonal entries are 0 now
    a1, a2 = own.A[0, 0], own.A[1, 1]
    b1, b2 = own.b
    if a1 * a2 > 0:
        p = (np.log(abs(a1) * b1) - np.log(abs(a2) * b2) + a2) / (a1 + a2)
    elif a1 == 0 and a2 == 0:
        p = 0.5  # the objective does not depend on p
    else:
        # f'(p) = -a1 b1 e^{..} + a2 b2 e^{..} has the sign of (a2 - a1) everywhere
        p = 0.0 if a2 >= a1 else 1.0
    p = float(np.clip(p, 0.0, 1.0))
    return np.array([p, 1.0 - p])
