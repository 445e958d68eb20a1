"""Olmix's proxy swarm: mixtures drawn from Dirichlet distributions centred on the natural distribution.

One draw tries ``n_strengths`` concentrations s, log-spaced in [min_strength, max_strength], samples
``Dir(s * prior)`` at each, keeps the candidates within the proxy-scale repetition bound
``p_j <= min(repetitions * N_j / proxy_tokens, 1)``, and picks one of them at random; weights below
``minimum_weight`` are zeroed, the rest renormalised, rounded to the grid of step ``minimum_weight`` and
renormalised again (olmix's synthesize_mixture, where the source and topic minima are equal, as in one flat
level), and a draw that then needs more than ``repetitions`` epochs of a domain (its whole tokens, rounded
up to 1/1000 of an epoch) is rejected. ``sample_multiplier`` times the wanted size is drawn,
near-duplicates (within 1e-5) are removed, and the swarm is a random subset of the rest. Seeded: the same
arguments give the same swarm. (Olmix draws the source and topic levels of a hierarchy this way; the
groups here are one flat level.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def swarm_size(dim: int, factor: float = 3.0, pow2: bool = False) -> int:
    """K = ceil(factor (dim + 1)) runs for a law over ``dim`` columns (dim + 1 parameters per task law,
    factor runs per parameter); ``pow2``: the nearest power of two (ties down), as the paper's counts are."""
    k = math.ceil(factor * (dim + 1) - 1e-9)
    if not pow2:
        return k
    lo = 2 ** math.floor(math.log2(k))
    return lo if k - lo <= 2 * lo - k else 2 * lo


@dataclass(frozen=True)
class SwarmSettings:
    """How the swarm is drawn (Olmix's defaults, except ``repetitions``: spec G sets the bound to k)."""

    factor: float = 3.0
    """c in K = ceil(c (m + 1))."""
    min_strength: float = 0.1
    max_strength: float = 5.0
    n_strengths: int = 15
    minimum_weight: float = 0.002
    repetitions: float = 4.0
    """Epochs of a domain a proxy may take."""
    sample_multiplier: int = 10

    def size(self, m: int) -> int:
        return swarm_size(m, self.factor)


def swarm_bounds(tokens: np.ndarray, proxy_tokens: int, repetitions: float) -> np.ndarray:
    """Each domain's largest weight in a proxy run of ``proxy_tokens`` with at most ``repetitions`` epochs."""
    return np.minimum(repetitions * np.asarray(tokens, dtype=float) / proxy_tokens, 1.0)


def _one_draw(
    rng: np.random.Generator, prior: np.ndarray, bound: np.ndarray, strengths: np.ndarray, s: SwarmSettings
) -> np.ndarray | None:
    candidates = [rng.dirichlet(k * prior) for k in strengths]
    ok = [c for c in candidates if np.all(np.isfinite(c)) and np.all(c <= bound)]
    if not ok:
        return None
    p = ok[rng.integers(len(ok))]
    p = np.where(p < s.minimum_weight, 0.0, p)
    if p.sum() <= 0:
        return None
    p = p / p.sum()
    if s.minimum_weight > 0:  # onto the grid: near-identical draws become one, as in olmix
        p = np.round(p / s.minimum_weight) * s.minimum_weight
    return p / p.sum() if p.sum() > 0 else None


def dirichlet_swarm(
    prior: np.ndarray, tokens: np.ndarray, proxy_tokens: int, size: int, seed: int, s: SwarmSettings
) -> np.ndarray:
    """``size`` distinct mixtures (size, m) around ``prior`` that each proxy can train on (see module doc).

    Raises ValueError when the bounds leave fewer distinct mixtures than ``size``."""
    prior = np.asarray(prior, dtype=float)
    tokens = np.asarray(tokens, dtype=float)
    if prior.ndim != 1 or prior.size < 2 or prior.min() <= 0 or abs(prior.sum() - 1) > 1e-6:
        raise ValueError(f"the prior must be a positive distribution over >= 2 domains, got {prior.tolist()}")
    bound = swarm_bounds(tokens, proxy_tokens, s.repetitions)
    if bound.sum() < 1.0:
        raise ValueError(
            f"no proxy mixture fits: with {proxy_tokens:,} proxy tokens and {s.repetitions} repetitions "
            f"the domains' bounds {np.round(bound, 4).tolist()} sum to {bound.sum():.3f} < 1"
        )
    rng = np.random.default_rng(seed)
    strengths = np.geomspace(s.min_strength, s.max_strength, s.n_strengths)
    wanted, draws, attempts = size * s.sample_multiplier, [], 0
    while len(draws) < wanted and attempts < 100 * wanted:
        attempts += 1
        p = _one_draw(rng, prior, bound, strengths, s)
        if p is None:
            continue
        epochs = np.ceil(1000 * np.floor(p * proxy_tokens) / tokens) / 1000
        if np.all(epochs <= s.repetitions):
            draws.append(p)
    unique: list[np.ndarray] = []
    for p in draws:
        if not any(np.allclose(p, q, atol=1e-5) for q in unique):
            unique.append(p)
    if len(unique) < size:
        raise ValueError(
            f"the swarm needs {size} distinct mixtures but only {len(unique)} passed the bounds "
            f"{np.round(bound, 4).tolist()} in {attempts} draws: raise the proxy budget's repetitions "
            "(swarm_repetitions) or lower the swarm size"
        )
    pick = np.sort(rng.choice(len(unique), size=size, replace=False))
    return np.array([unique[k] for k in pick])
