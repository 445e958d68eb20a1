"""Proposers: a mixture from a fitted regressor, on the simplex and under the repetition caps.

``PROPOSERS`` maps a name to its class (olmix's ``PROPOSER_TYPES``): ``exact`` solves the log-linear law's
convex problem, ``simulation`` scores many sampled mixtures, ``search`` picks the best observed one. Each
minimises the task-weighted mean of the predicted metrics (lower is better).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pipeline_lib.config.units import ExactSettings, SimulationSettings, TopKSettings, pairing_problem
from pipeline_lib.lmo.solvers import minimize_task_law, project_to_capped_simplex
from pipeline_lib.olmix.fit.regressors import Regressor

CAP_ATOL = 1e-12  # how far over a cap a sampled or observed mixture may sit


@dataclass(frozen=True)
class Problem:
    """What a proposal must respect and may use, over the regressor's m domains."""

    natural: np.ndarray
    """(m,) the natural distribution: the KL target and the simulation's first prior."""
    caps: np.ndarray | None
    """(m,) upper bounds p_j <= k N_j / R; None: no caps."""
    observed: np.ndarray
    """(K, m) the swarm's mixtures (the search proposer's candidates)."""
    weights: np.ndarray | None = None
    """(n,) task weights summing to 1; None: the plain mean over tasks."""

    def objective(self, regressor: Regressor, P: np.ndarray) -> np.ndarray:
        """The weighted mean predicted metric of each row of P."""
        pred = regressor.predict(P)
        return pred.mean(axis=1) if self.weights is None else pred @ self.weights

    def within_caps(self, P: np.ndarray) -> np.ndarray:
        return np.ones(len(P), bool) if self.caps is None else np.all(self.caps + CAP_ATOL >= P, axis=1)


class Proposer(ABC):
    """Proposes a mixture; subclasses set ``name``, ``settings_type`` and implement :meth:`propose`."""

    name: ClassVar[str]
    settings_type: ClassVar[type | None] = None

    def __init__(self, settings: Any = None) -> None:
        if settings is None and self.settings_type is not None:
            settings = self.settings_type()
        self.settings = settings

    def check(self, regressor: Regressor) -> None:
        """Stop if it cannot use ``regressor`` (:func:`pipeline_lib.config.units.pairing_problem`)."""
        why = pairing_problem(regressor.name, self.name)
        if why:
            raise ValueError(why)

    @abstractmethod
    def propose(self, regressor: Regressor, problem: Problem, seed: int) -> np.ndarray:
        """The proposed mixture (m,): non-negative, summing to 1, within the caps."""


class ExactProposer(Proposer):
    """``min_p sum_i w_i exp(t_i . p) + kl_weight KL(p || natural)`` s.t. the capped simplex: convex, solved
    by :func:`~pipeline_lib.lmo.solvers.minimize_task_law` (olmix solves it with CVXPY/ECOS)."""

    name = "exact"
    settings_type = ExactSettings

    def propose(self, regressor: Regressor, problem: Problem, seed: int) -> np.ndarray:
        self.check(regressor)
        return minimize_task_law(
            regressor.law, weights=problem.weights, prior=problem.natural, kl_weight=self.settings.kl_weight,
            caps=problem.caps, seed=seed,
        )  # fmt: skip


class SimulationProposer(Proposer):
    """Dirichlet samples around a prior that moves toward the best (:class:`~.settings.SimulationSettings`);
    seeded by ``np.random.default_rng(seed)``, so a seed gives one answer."""

    name = "simulation"
    settings_type = SimulationSettings

    def _samples(self, rng: np.random.Generator, prior: np.ndarray, r: int) -> np.ndarray:
        """``samples`` Dirichlet(s x prior) rows, s log-uniform in [min, max] x growth (r + 1)."""
        s = self.settings
        shift = np.log(s.growth * (r + 1))
        strength = np.exp(
            rng.uniform(np.log(s.min_strength) + shift, np.log(s.max_strength) + shift, s.samples)
        )
        g = rng.standard_gamma(strength[:, None] * prior)  # (samples, m): a Dirichlet row, unnormalised
        total = g.sum(axis=1)
        ok = total > 0
        return g[ok] / total[ok, None]

    def _round(self, regressor: Regressor, problem: Problem, P: np.ndarray) -> np.ndarray | None:
        """The mean of the feasible samples within ``tolerance`` of the best, small weights zeroed."""
        P = P[problem.within_caps(P)]
        obj = problem.objective(regressor, P) if len(P) else np.empty(0)
        P, obj = P[np.isfinite(obj)], obj[np.isfinite(obj)]
        if not len(P):
            return None
        best = P[obj - obj.min() <= self.settings.tolerance].mean(axis=0)
        best[best < self.settings.min_weight] = 0.0
        return best / best.sum()

    def propose(self, regressor: Regressor, problem: Problem, seed: int) -> np.ndarray:
        self.check(regressor)
        rng, s = np.random.default_rng(seed), self.settings
        prior = problem.natural if s.temperature is None else problem.natural**s.temperature
        prior = prior / prior.sum()
        best = None
        for r in range(s.rounds):
            found = self._round(regressor, problem, self._samples(rng, prior, r))
            if found is not None:
                best = found
                prior = (best + prior) / 2
        if best is None:
            raise ValueError(f"proposer simulation: no sampled mixture satisfies the caps {problem.caps}")
        if not problem.within_caps(best[None, :])[
            0
        ]:  # renormalising after zeroing nudged a weight over its cap
            best = project_to_capped_simplex(best, problem.caps)
        return best


class SearchProposer(Proposer):
    """The observed swarm mixture within the caps that the regressor scores best (with the search
    regressor: the best observed run; olmix's SearchProposer)."""

    name = "search"

    def propose(self, regressor: Regressor, problem: Problem, seed: int) -> np.ndarray:
        P = problem.observed[problem.within_caps(problem.observed)]
        if not len(P):
            raise ValueError(f"proposer search: no swarm mixture satisfies the caps {problem.caps}")
        return P[int(np.argmin(problem.objective(regressor, P)))].copy()


class TopKProposer(Proposer):
    """RegMix's proposal (:class:`~.settings.TopKSettings`): the mean of the ``top_k`` best of many sampled
    mixtures within the caps; seeded by ``np.random.default_rng(seed)``."""

    name = "topk"
    settings_type = TopKSettings

    def propose(self, regressor: Regressor, problem: Problem, seed: int) -> np.ndarray:
        self.check(regressor)
        s, rng = self.settings, np.random.default_rng(seed)
        low, high = np.log(s.min_strength), np.log(s.max_strength)
        strength = np.exp(rng.uniform(low, high, s.samples))
        g = rng.standard_gamma(strength[:, None] * problem.natural)  # a Dirichlet row each, unnormalised
        P = g[g.sum(axis=1) > 0]
        P = P / P.sum(axis=1, keepdims=True)
        P = P[problem.within_caps(P)]
        obj = problem.objective(regressor, P) if len(P) else np.empty(0)
        P, obj = P[np.isfinite(obj)], obj[np.isfinite(obj)]
        if not len(P):
            raise ValueError(f"proposer topk: no sampled mixture satisfies the caps {problem.caps}")
        best = P[np.argsort(obj, kind="stable")[: s.top_k]].mean(axis=0)
        return best / best.sum()  # a mean of capped mixtures stays within the caps


PROPOSERS: dict[str, type[Proposer]] = {
    cls.name: cls for cls in (ExactProposer, SimulationProposer, SearchProposer, TopKProposer)
}
"""Every proposer by name (``methods.olmix.proposer``)."""


def make_proposer(name: str, settings: Any = None) -> Proposer:
    if name not in PROPOSERS:
        raise ValueError(f"unknown proposer {name!r}; choose from {sorted(PROPOSERS)}")
    return PROPOSERS[name](settings)
