"""Olmix's design-space experiment (``design:``): one large swarm of proxies per setting (a number of groups
m) and seed, then resampled fits of every regressor on K of its runs, scored on held-out runs, and every
workable (regressor, proposer) pair's proposal. Its swarms are the settings' own (the swarm step and rule
``train``); :mod:`pipeline_lib.olmix.design` is the analysis, ``rules/design.smk`` the rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_lib.config.errors import ConfigError, FieldErrors
from pipeline_lib.config.ranges import ranged
from pipeline_lib.config.types import Checked
from pipeline_lib.config.units import PREDICTS_UNSEEN, PROPOSER_NAMES, REGRESSOR_NAMES

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
        if not self.k_factors or min(self.k_factors) <= 0:
            out.append(("k_factors", f"give factors c > 0 (K = c (m + 1)), got {list(self.k_factors)}"))
        return out

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
