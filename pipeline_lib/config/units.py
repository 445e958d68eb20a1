"""Olmix's regressors and proposers as declared to the config: their names, what each can pair with, and
their typed settings (numpy-free: ``OlmixConfig`` nests them; :mod:`pipeline_lib.olmix.fit` implements the
units under the same names).

A unit's settings section in ``methods.olmix`` is named as the unit (``gp``, ``simulation``, ...). Each class
is a :class:`~pipeline_lib.config.types.Checked` section: its ranges are declared on its fields and checked
as it is built, an error naming ``methods.olmix.<section>.<field>``. The log-linear regressor's settings are
``OlmixConfig``'s flat fields (``huber_delta``, ``ridge``, ``n_random``) and the exact proposer's is
``kl_weight``, as before the units existed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_lib.config.ranges import ranged
from pipeline_lib.config.types import Checked


@dataclass(frozen=True)
class LightGBMSettings(Checked):
    """RegMix's LightGBM per task (sail-sg/regmix, regression_fitting/regression.ipynb): gbdt, regression
    objective, metrics l1 and l2, learning rate 0.01, 1000 iterations, seed 42, early stopping after 3 rounds.
    olmix (fit/utils.py) keeps these but runs 10,000 iterations and stops on the training set; a swarm has
    no held-out mixtures, so the stopping rounds here watch the training set too."""

    num_iterations: int = ranged(1000, ge=1)
    """Boosting rounds (RegMix 1000; olmix 10000)."""
    learning_rate: float = ranged(0.01, gt=0, le=1)
    early_stopping_rounds: int = ranged(3, ge=0)
    """Stop when the training l1 or l2 has not improved for this many rounds; 0: never stop early."""
    min_child_samples: int = ranged(20, ge=1)
    """LightGBM's default, which both references keep: with fewer than 2x this many runs no tree splits,
    so the prediction is the swarm's mean (one reason the paper finds LightGBM needs > 118 runs)."""
    seed: int = 42


@dataclass(frozen=True)
class GPSettings(Checked):
    """A Gaussian process per task (olmix fit/utils.py): kernel C(constant_value) x RBF(length_scale) +
    White(noise_level), bounds (1e-3, 1e3), (1e-2, 1e2) and (1e-5, 10), ``n_restarts`` optimiser restarts
    seeded by the fit's seed, targets normalised. Each initial value must lie within its bounds."""

    n_restarts: int = ranged(10, ge=0)
    normalize_y: bool = True
    constant_value: float = ranged(1.0, ge=1e-3, le=1e3)
    length_scale: float = ranged(1.0, ge=1e-2, le=1e2)
    noise_level: float = ranged(0.1, ge=1e-5, le=10)


@dataclass(frozen=True)
class BimixSettings(Checked):
    """BiMix's power law summed over domains (olmix fit/utils.py): ``f(p) = sum_j F_j p_j^(-alpha_j)``,
    ``F, alpha >= 0``, p clipped at ``eps``; scipy ``least_squares`` from F = mean(y) / m, alpha = 1."""

    max_nfev: int = ranged(50_000, ge=1)
    eps: float = ranged(1e-12, gt=0, lt=1)


@dataclass(frozen=True)
class AutoscaleSettings(Checked):
    """AutoScale's law (olmix fit/utils.py): ``f(p) = sum_j (N (alpha_j + p_j))^(-gamma_j) + L`` with
    ``alpha, gamma >= 1e-12`` and ``0 <= L <= min y``; scipy ``least_squares`` from alpha = 1/m, gamma = 0.5,
    L = min(y) / 10."""

    max_nfev: int = ranged(50_000, ge=1)
    tokens: float | None = ranged(None, gt=0)
    """N; None: the target run's tokens R, as olmix passes them."""


@dataclass(frozen=True)
class ExactSettings(Checked):
    """The exact proposer: ``min_p sum_i w_i exp(t_i . p) + kl_weight KL(p || natural)`` on the capped
    simplex (olmix's LogLinearExactProposer; the paper's lambda = 0.05)."""

    kl_weight: float = ranged(0.05, ge=0)


@dataclass(frozen=True)
class SimulationSettings(Checked):
    """olmix's SimulationProposer: ``rounds`` rounds of ``samples`` Dirichlet(s x prior) mixtures, s
    log-uniform in [min_strength, max_strength] x growth (r + 1) in round r (r from 0); mixtures over the
    caps are dropped; the mean of those predicted within ``tolerance`` of the best is the round's answer,
    weights below ``min_weight`` zeroed; the next round's prior is (answer + prior) / 2."""

    rounds: int = ranged(10, ge=1)
    samples: int = ranged(100_000, ge=1)
    min_strength: float = ranged(1.0, gt=0)
    max_strength: float = ranged(100.0, gt=0)
    growth: float = ranged(2.0, gt=0)
    tolerance: float = ranged(1e-3, ge=0)
    """In the objective's units (bits per byte here)."""
    min_weight: float = ranged(1e-5, ge=0, lt=1)
    temperature: float | None = ranged(None, gt=0)
    """Sample around natural^temperature (renormalised); None: natural."""

    def problems(self) -> list[tuple[str, str]]:
        low, high = self.min_strength, self.max_strength
        return [] if low <= high else [("min_strength", f"must not exceed max_strength ({high}), got {low}")]


@dataclass(frozen=True)
class TopKSettings(Checked):
    """RegMix's search (sail-sg/regmix, its regression notebook): ``samples`` mixtures drawn around the
    natural distribution (Dirichlet(s x natural), s log-uniform in [min_strength, max_strength], the swarm
    draw's range), each scored by the regressor; the proposal is the mean of the ``top_k`` best (RegMix
    averages its top 100). Mixtures over the caps are dropped first; seeded."""

    samples: int = ranged(100_000, ge=1)
    top_k: int = ranged(100, ge=1)
    min_strength: float = ranged(0.1, gt=0)
    max_strength: float = ranged(5.0, gt=0)

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if self.min_strength > self.max_strength:
            out.append(
                (
                    "min_strength",
                    f"must not exceed max_strength ({self.max_strength}), got {self.min_strength}",
                )
            )
        if self.top_k > self.samples:
            out.append(("top_k", f"must not exceed samples ({self.samples}), got {self.top_k}"))
        return out


@dataclass(frozen=True)
class RegMixSamplingSettings(Checked):
    """RegMix's swarm draw (sail-sg/regmix, mixture_config/synthesize_mixture.py; paper defaults): the prior
    is the natural (token) distribution raised to ``temperature`` and renormalised; each draw samples one
    Dirichlet(s x prior) for each of ``n_strengths`` concentrations s log-spaced in [min_strength,
    max_strength] and keeps one of them at random (so the concentration varies per sample); a draw with a
    weight above ``min(maximum_usage x natural_j, 1)`` is rejected; weights below ``minimum_weight`` are
    zeroed, the rest renormalised and rounded to the ``minimum_weight`` grid; ``sample_multiplier`` times the
    swarm's size is drawn, duplicates removed and the swarm is a seeded random subset of the rest."""

    temperature: float = ranged(0.5, gt=0, le=1)
    """prior = natural^temperature, renormalised (RegMix 0.5: it flattens a skewed distribution)."""
    min_strength: float = ranged(0.1, gt=0)
    max_strength: float = ranged(5.0, gt=0)
    n_strengths: int = ranged(15, ge=1)
    maximum_usage: float = ranged(15.0, gt=0)
    """The bound p_j <= maximum_usage x natural_j (RegMix 15: epochs of a domain at the target's scale when
    the target trains on as many tokens as the corpus holds)."""
    minimum_weight: float = ranged(2e-4, gt=0, lt=1)
    """Weights below this are zeroed; the grid the weights are rounded to (RegMix 2e-4)."""
    sample_multiplier: int = ranged(100, ge=1)

    def problems(self) -> list[tuple[str, str]]:
        low, high = self.min_strength, self.max_strength
        return [] if low <= high else [("min_strength", f"must not exceed max_strength ({high}), got {low}")]


SAMPLER_NAMES = ("olmix", "regmix")
"""How a swarm is drawn (``methods.<m>.sampling``): olmix (Dirichlet around the natural distribution, the
proxy-scale repetition bound; :class:`~pipeline_lib.lmo.swarm.SwarmSettings`) or regmix
(:class:`RegMixSamplingSettings`). Methods with the same sampling share one swarm."""


REGRESSOR_NAMES = ("linear", "log_linear", "lightgbm", "gp", "bimix", "autoscale", "search")
"""Every regressor (``methods.olmix.regressor``); :data:`pipeline_lib.olmix.fit.REGRESSORS` has them."""
PREDICTS_UNSEEN = frozenset(REGRESSOR_NAMES) - {"search"}
"""Regressors that predict mixtures they were not fitted on (search recalls observed runs only)."""
PROPOSER_NAMES = ("exact", "simulation", "search", "topk")
"""Every proposer (``methods.olmix.proposer``); :data:`pipeline_lib.olmix.fit.PROPOSERS` has them."""
SCORES_UNSEEN = frozenset({"simulation", "topk"})
"""Proposers that score sampled mixtures, so need a regressor of :data:`PREDICTS_UNSEEN`."""


def pairing_problem(regressor: str, proposer: str) -> str | None:
    """Why this pair cannot run (unknown names, or a proposer that cannot use the regressor); None: it can."""
    if regressor not in REGRESSOR_NAMES:
        return f"regressor '{regressor}' is not a regressor; choose from {sorted(REGRESSOR_NAMES)}"
    if proposer not in PROPOSER_NAMES:
        return f"proposer '{proposer}' is not a proposer; choose from {sorted(PROPOSER_NAMES)}"
    if proposer == "exact" and regressor != "log_linear":
        return (
            "proposer 'exact' solves the log-linear law's convex problem, so it needs regressor "
            f"'log_linear' (got '{regressor}'); choose proposer 'simulation' or 'search' for it"
        )
    if proposer in SCORES_UNSEEN and regressor not in PREDICTS_UNSEEN:
        return f"proposer '{proposer}' scores unseen mixtures, which regressor '{regressor}' cannot predict"
    return None
