"""Olmix's design-space experiment (``design:``): one large swarm of proxies per setting (a number of groups
m) and seed, then resampled fits of every regressor on K of its runs, scored on held-out runs, and every
workable (regressor, proposer) pair's proposal. Its swarms are the settings' own (the swarm step and rule
``train``); :mod:`pipeline_lib.olmix.design` is the analysis, ``rules/design.smk`` the rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipeline_lib.config.errors import ConfigError, FieldErrors
from pipeline_lib.config.ranges import ranged
from pipeline_lib.config.types import Checked
from pipeline_lib.config.units import PREDICTS_UNSEEN, PROPOSER_NAMES, REGRESSOR_NAMES, pairing_problem

DESIGN = "design"
"""The config block and the results directory of the per-swarm analyses (``design/<setting>/seed<n>/``)."""
ALL_REGRESSORS, ALL_PROPOSERS = REGRESSOR_NAMES, PROPOSER_NAMES


@dataclass(frozen=True)
class DesignConfig(Checked):
    """``design:``: the swarms (settings and seeds) and how the analysis resamples them."""

    settings: tuple[str, ...] = ()
    """The settings whose swarms are analysed (one per m); each swarm's size is its Olmix config's
    ``swarm_factor`` (m + 1), its proxies and the units' settings its ``methods.olmix`` block."""
    seeds: tuple[int, ...] = (0,)
    """One swarm per setting and seed (its draw and its proxies' initialisation)."""
    subsets: int = ranged(30, ge=1)
    """Random subsets per K (each a held-out reserve and a training pool, seeded by the swarm's seed)."""
    k_factors: tuple[float, ...] = (1.0, 3.0, 5.0)
    """K = c (m + 1) for each c (the paper's axis, c in 1..5), kept where the training pool (K_max minus the
    reserve) holds it; none fits: K is the whole pool."""
    holdout: float = ranged(1 / 3, gt=0, lt=1)
    """The held-out reserve: this fraction of the swarm (at least 3 runs), the same for every K."""
    threshold: float = ranged(0.8, gt=-1, lt=1)
    """The held-out Spearman a regressor must reach: K*(m) is the K where it does."""
    regressors: tuple[str, ...] = ALL_REGRESSORS
    proposers: tuple[str, ...] = ALL_PROPOSERS
    judge: str = "log_linear"
    """The regressor, fitted on the whole swarm, that predicts each proposal's objective."""
    scarce_fraction: float = ranged(0.5, gt=0, lt=1)
    """The scarce-group check: the group the free proposal weighs most gets tokens for a cap of this fraction
    of its free weight."""
    train_pairs: tuple[str, ...] = ()
    """``regressor+proposer`` pairs (of ``regressors`` and ``proposers``) whose proposals are trained as
    proxies (exact: with the config's kl_weight); none (the default): nothing is trained beyond the swarms."""
    train_k_factor: float = ranged(3.0, gt=0)
    """The K the trained proposals are fitted on: the grid's K nearest c (m + 1)."""
    train_subsets: int = ranged(4, ge=0)
    """The first subsets whose proposals are trained (each fitted on other K runs of the swarm)."""
    train_seeds: tuple[int, ...] = (1, 2)
    """The seeds each trained mixture (the proposals, natural, the swarm's best run) is trained with; other
    than the swarms' ``seeds``, so the best run's retrains are not the swarm's own run (whose value it was
    picked for: a winner's curse)."""

    def problems(self) -> list[tuple[str, str]]:
        out = [
            ("regressors", f"unknown regressor '{r}'; choose from {sorted(REGRESSOR_NAMES)}")
            for r in self.regressors
            if r not in REGRESSOR_NAMES
        ]
        out += [
            ("proposers", f"unknown proposer '{p}'; choose from {sorted(PROPOSER_NAMES)}")
            for p in self.proposers
            if p not in PROPOSER_NAMES
        ]
        if self.judge not in PREDICTS_UNSEEN:
            judges = sorted(PREDICTS_UNSEEN)
            out.append(("judge", f"'{self.judge}' cannot predict unseen mixtures; choose from {judges}"))
        if "log_linear" not in self.regressors:
            out.append(
                ("regressors", "must include 'log_linear' (the paper's law and the claims' reference)")
            )
        if not self.settings:
            out.append(("settings", "name at least one setting (settings.<name>.groups) to draw a swarm for"))
        if not self.seeds:
            out.append(("seeds", "give at least one seed"))
        out += self._training_problems()
        if not self.k_factors or min(self.k_factors) <= 0:
            out.append(("k_factors", f"give factors c > 0 (K = c (m + 1)), got {list(self.k_factors)}"))
        return out

    def _training_problems(self) -> list[tuple[str, str]]:
        out = []
        for pair in self.train_pairs:
            regressor, _, proposer = pair.partition("+")
            if regressor not in self.regressors or proposer not in self.proposers:
                out.append(
                    (
                        "train_pairs",
                        f"'{pair}' must be 'regressor+proposer' from design.regressors and design.proposers",
                    )
                )
            elif (why := pairing_problem(regressor, proposer)) is not None:
                out.append(("train_pairs", f"'{pair}': {why}"))
        if self.train_subsets > self.subsets:
            out.append(
                ("train_subsets", f"must not exceed subsets ({self.subsets}), got {self.train_subsets}")
            )
        if self.n_trained and not self.train_seeds:
            out.append(("train_seeds", "give at least one seed to train the proposals with"))
        if self.n_trained and (shared := sorted(set(self.train_seeds) & set(self.seeds))):
            out.append(
                (
                    "train_seeds",
                    f"{shared} are also swarm seeds (design.seeds): the best run retrained with its swarm's "
                    "seed is that run again, the value it was picked for; choose other seeds",
                )
            )
        return out

    @property
    def trained_pairs(self) -> list[tuple[str, str]]:
        """The (regressor, proposer) pairs whose proposals are trained."""
        return [tuple(pair.split("+", 1)) for pair in self.train_pairs]  # type: ignore[misc]

    @property
    def n_trained(self) -> int:
        """Mixtures trained per swarm: natural, the swarm's best run, then each pair's proposal of each of
        the first ``train_subsets`` subsets (none without pairs or subsets)."""
        n = len(self.train_pairs) * self.train_subsets
        return 2 + n if n else 0

    def train_k(self, m: int, k_max: int) -> int:
        """The K the trained proposals are fitted on: the grid's nearest to ``train_k_factor`` (m + 1)."""
        want = self.train_k_factor * (m + 1)
        return min(self.k_grid(m, k_max), key=lambda k: (abs(k - want), k))

    def for_swarm(self, setting: str, seed: int) -> DesignConfig:
        """The block as one swarm's analysis is given it: its own setting and seed, so that adding a setting
        or a seed leaves the other swarms' jobs (their parameters) as they were."""
        return replace(self, settings=(setting,), seeds=(seed,))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DesignConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{DESIGN}: unknown field(s) {unknown}; known: {sorted(known)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        try:
            return cls(**values)
        except FieldErrors as err:
            raise ConfigError(*(f"{DESIGN}.{f}: {message}" for f, message in err.fields)) from None

    def k_grid(self, m: int, k_max: int) -> tuple[int, ...]:
        """The training sizes K = round(c (m + 1)) >= 2 that the pool (K_max minus the reserve) holds."""
        top = k_max - self.n_holdout(k_max)
        grid = sorted({k for c in self.k_factors if 2 <= (k := round(c * (m + 1))) <= top})
        return tuple(grid) or (top,)

    def n_holdout(self, k_max: int) -> int:
        return max(3, round(self.holdout * k_max))

    def analysis_work(self, m: int, k_max: int) -> float:
        """One swarm's analysis, relative: its (subset, K) cells times m. A cell's fits and proposals cost
        about the same at every K of the grid (swarms of <= 64 runs) and grow with m, the weights each law
        fits: 0.77 to 0.87 s a unit from m = 2 to 7 (seed 0 of config/olmix-design.yaml, 2 cores)."""
        return float(self.subsets * len(self.k_grid(m, k_max)) * m)
