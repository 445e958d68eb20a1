"""The proxy swarms: mixtures drawn from Dirichlet distributions centred on the natural distribution, by
Olmix's draw (:func:`dirichlet_swarm`) or RegMix's (:func:`regmix_swarm`); :func:`draw_swarm` picks one by
its name (``methods.<m>.sampling``).

Olmix's draw:
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

from pipeline_lib.config.units import SAMPLER_NAMES, RegMixSamplingSettings


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
    unique = _distinct(draws)
    if len(unique) < size:
        raise ValueError(
            f"the swarm needs {size} distinct mixtures but only {len(unique)} passed the bounds "
            f"{np.round(bound, 4).tolist()} in {attempts} draws: raise the proxy budget's repetitions "
            "(swarm_repetitions) or lower the swarm size"
        )
    pick = np.sort(rng.choice(len(unique), size=size, replace=False))
    return unique[pick]


def _distinct(draws: list[np.ndarray]) -> np.ndarray:
    """The draws in order, less each that is ``np.allclose(p, q, atol=1e-5)`` to one kept before it: the same
    test against all kept rows at once (a swarm keeps thousands; pair by pair it was most of its draw)."""
    kept = np.empty((len(draws), draws[0].size if draws else 0))
    n = 0
    for p in draws:
        seen = kept[:n]
        if not np.any(np.all(np.abs(p - seen) <= 1e-5 + 1e-5 * np.abs(seen), axis=1)):
            kept[n] = p
            n += 1
    return kept[:n]


@dataclass(frozen=True)
class DrawnSwarm:
    """A drawn swarm: its mixtures (size, m) and what the swarm file records of the draw."""

    mixtures: np.ndarray
    details: dict


def _check_natural(natural: np.ndarray) -> np.ndarray:
    natural = np.asarray(natural, dtype=float)
    if natural.ndim != 1 or natural.size < 2 or natural.min() <= 0 or abs(natural.sum() - 1) > 1e-6:
        raise ValueError(
            f"the prior must be a positive distribution over >= 2 domains, got {natural.tolist()}"
        )
    return natural


def regmix_strengths(s: RegMixSamplingSettings) -> np.ndarray:
    """The concentrations a RegMix draw picks from: ``n_strengths`` log-spaced in [min, max]."""
    return np.geomspace(s.min_strength, s.max_strength, s.n_strengths)


def _regmix_draws(
    rng: np.random.Generator, natural: np.ndarray, n: int, s: RegMixSamplingSettings
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws, those within the bound kept on the ``minimum_weight`` grid: (grid counts, the
    concentration index of each)."""
    bound = np.minimum(s.maximum_usage * natural, 1.0)
    prior = natural**s.temperature
    prior = prior / prior.sum()
    strengths = regmix_strengths(s)
    cells, which = [], []
    for _ in range(n):  # one concentration per draw: the same law as drawing at each and keeping one
        k = int(rng.integers(len(strengths)))
        p = rng.dirichlet(strengths[k] * prior)
        if not np.all(np.isfinite(p)) or np.any(p > bound):
            continue
        p = np.where(p < s.minimum_weight, 0.0, p)
        if p.sum() <= 0:
            continue
        grid = np.rint(p / p.sum() / s.minimum_weight).astype(np.int64)
        if grid.sum() > 0:
            cells.append(grid)
            which.append(k)
    return np.array(cells, dtype=np.int64).reshape(-1, natural.size), np.array(which, dtype=int)


def regmix_swarm(natural: np.ndarray, size: int, seed: int, s: RegMixSamplingSettings) -> DrawnSwarm:
    """``size`` distinct mixtures by RegMix's draw (see :class:`RegMixSamplingSettings`), renormalised after
    rounding (RegMix keeps the rounded weights, whose sum is off by up to m x minimum_weight / 2; the trainer
    would renormalise them anyway); ``details['strengths']`` holds each row's concentration. Seeded.

    Raises ValueError when the bound leaves fewer distinct mixtures than ``size``."""
    natural = _check_natural(natural)
    bound = np.minimum(s.maximum_usage * natural, 1.0)
    if bound.sum() < 1.0:
        raise ValueError(
            f"no mixture fits RegMix's bound maximum_usage x natural = {np.round(bound, 4).tolist()} (sum "
            f"{bound.sum():.3f} < 1): raise methods.<m>.regmix_sampling.maximum_usage"
        )
    rng = np.random.default_rng(seed)
    cells, which = _regmix_draws(rng, natural, size * s.sample_multiplier, s)
    unique, first = np.unique(cells, axis=0, return_index=True) if len(cells) else (cells, which)
    if len(unique) < size:
        raise ValueError(
            f"RegMix's draw needs {size} distinct mixtures but only {len(unique)} of "
            f"{size * s.sample_multiplier} draws passed the bound {np.round(bound, 4).tolist()}: raise "
            "regmix_sampling.sample_multiplier or maximum_usage, or lower minimum_weight"
        )
    pick = np.sort(rng.choice(len(unique), size=size, replace=False))
    rows = unique[pick].astype(float)
    strengths = regmix_strengths(s)[which[first[pick]]]
    return DrawnSwarm(rows / rows.sum(axis=1, keepdims=True), {"strengths": strengths.tolist()})


def draw_swarm(
    sampling: str,
    natural: np.ndarray,
    tokens: np.ndarray,
    proxy_tokens: int,
    size: int,
    seed: int,
    settings: SwarmSettings | RegMixSamplingSettings,
) -> DrawnSwarm:
    """A swarm by the named sampler (:data:`SAMPLER_NAMES`) with its settings."""
    if sampling == "olmix" and isinstance(settings, SwarmSettings):
        return DrawnSwarm(dirichlet_swarm(natural, tokens, proxy_tokens, size, seed, settings), {})
    if sampling == "regmix" and isinstance(settings, RegMixSamplingSettings):
        return regmix_swarm(natural, size, seed, settings)
    raise ValueError(
        f"unknown sampling '{sampling}' (or settings {type(settings).__name__}); choose from {SAMPLER_NAMES}"
    )
