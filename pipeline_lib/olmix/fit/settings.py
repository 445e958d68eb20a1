"""Typed settings of the regressors and proposers (numpy-free: ``OlmixConfig`` nests them).

A unit's settings section in ``methods.olmix`` is named as the unit (``gp``, ``simulation``, ...). Each class
lists its problems as messages naming the field (:meth:`problems`); the config prefixes the section. The
log-linear regressor's settings are ``OlmixConfig``'s flat fields (``huber_delta``, ``ridge``, ``n_random``)
and the exact proposer's is ``kl_weight``, as before the units existed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LightGBMSettings:
    """RegMix's LightGBM per task (sail-sg/regmix, regression_fitting/regression.ipynb): gbdt, regression
    objective, metrics l1 and l2, learning rate 0.01, 1000 iterations, seed 42, early stopping after 3 rounds.
    olmix (fit/utils.py) keeps these but runs 10,000 iterations and stops on the training set; a swarm has
    no held-out mixtures, so the stopping rounds here watch the training set too."""

    num_iterations: int = 1000
    """Boosting rounds (RegMix 1000; olmix 10000)."""
    learning_rate: float = 0.01
    early_stopping_rounds: int = 3
    """Stop when the training l1 or l2 has not improved for this many rounds; 0: never stop early."""
    min_child_samples: int = 20
    """LightGBM's default, which both references keep: with fewer than 2x this many runs no tree splits,
    so the prediction is the swarm's mean (one reason the paper finds LightGBM needs > 118 runs)."""
    seed: int = 42

    def problems(self) -> list[str]:
        out = [] if self.num_iterations >= 1 else ["num_iterations must be >= 1"]
        out += [] if 0 < self.learning_rate <= 1 else ["learning_rate must be in (0, 1]"]
        out += [] if self.early_stopping_rounds >= 0 else ["early_stopping_rounds must be >= 0"]
        return out + ([] if self.min_child_samples >= 1 else ["min_child_samples must be >= 1"])


@dataclass(frozen=True)
class GPSettings:
    """A Gaussian process per task (olmix fit/utils.py): kernel C(constant_value) x RBF(length_scale) +
    White(noise_level), bounds (1e-3, 1e3), (1e-2, 1e2) and (1e-5, 10), ``n_restarts`` optimiser restarts
    seeded by the fit's seed, targets normalised."""

    n_restarts: int = 10
    normalize_y: bool = True
    constant_value: float = 1.0
    length_scale: float = 1.0
    noise_level: float = 0.1

    def problems(self) -> list[str]:
        out = [] if self.n_restarts >= 0 else ["n_restarts must be >= 0"]
        if not 1e-3 <= self.constant_value <= 1e3:
            out.append("constant_value must be in [1e-3, 1e3] (its bounds)")
        if not 1e-2 <= self.length_scale <= 1e2:
            out.append("length_scale must be in [1e-2, 1e2] (its bounds)")
        if not 1e-5 <= self.noise_level <= 10:
            out.append("noise_level must be in [1e-5, 10] (its bounds)")
        return out


@dataclass(frozen=True)
class BimixSettings:
    """BiMix's power law summed over domains (olmix fit/utils.py): ``f(p) = sum_j F_j p_j^(-alpha_j)``,
    ``F, alpha >= 0``, p clipped at ``eps``; scipy ``least_squares`` from F = mean(y) / m, alpha = 1."""

    max_nfev: int = 50_000
    eps: float = 1e-12

    def problems(self) -> list[str]:
        out = [] if self.max_nfev >= 1 else ["max_nfev must be >= 1"]
        return out + ([] if 0 < self.eps < 1 else ["eps must be in (0, 1)"])


@dataclass(frozen=True)
class AutoscaleSettings:
    """AutoScale's law (olmix fit/utils.py): ``f(p) = sum_j (N (alpha_j + p_j))^(-gamma_j) + L`` with
    ``alpha, gamma >= 1e-12`` and ``0 <= L <= min y``; scipy ``least_squares`` from alpha = 1/m, gamma = 0.5,
    L = min(y) / 10."""

    max_nfev: int = 50_000
    tokens: float | None = None
    """N; None: the target run's tokens R, as olmix passes them."""

    def problems(self) -> list[str]:
        out = [] if self.max_nfev >= 1 else ["max_nfev must be >= 1"]
        return out + ([] if self.tokens is None or self.tokens > 0 else ["tokens must be > 0 or null"])


@dataclass(frozen=True)
class ExactSettings:
    """The exact proposer: ``min_p sum_i w_i exp(t_i . p) + kl_weight KL(p || natural)`` on the capped
    simplex (olmix's LogLinearExactProposer; the paper's lambda = 0.05)."""

    kl_weight: float = 0.05

    def problems(self) -> list[str]:
        return [] if self.kl_weight >= 0 else ["kl_weight must be >= 0"]


@dataclass(frozen=True)
class SimulationSettings:
    """olmix's SimulationProposer: ``rounds`` rounds of ``samples`` Dirichlet(s x prior) mixtures, s
    log-uniform in [min_strength, max_strength] x growth (r + 1) in round r (r from 0); mixtures over the
    caps are dropped; the mean of those predicted within ``tolerance`` of the best is the round's answer,
    weights below ``min_weight`` zeroed; the next round's prior is (answer + prior) / 2."""

    rounds: int = 10
    samples: int = 100_000
    min_strength: float = 1.0
    max_strength: float = 100.0
    growth: float = 2.0
    tolerance: float = 1e-3
    """In the objective's units (bits per byte here)."""
    min_weight: float = 1e-5
    temperature: float | None = None
    """Sample around natural^temperature (renormalised); None: natural."""

    def problems(self) -> list[str]:
        out = [f"{n} must be >= 1" for n in ("rounds", "samples") if getattr(self, n) < 1]
        if not 0 < self.min_strength <= self.max_strength:
            out.append("min_strength must be > 0 and not above max_strength")
        out += [] if self.growth > 0 else ["growth must be > 0"]
        out += [] if self.tolerance >= 0 else ["tolerance must be >= 0"]
        out += [] if 0 <= self.min_weight < 1 else ["min_weight must be in [0, 1)"]
        if self.temperature is not None and self.temperature <= 0:
            out.append("temperature must be > 0 or null")
        return out
