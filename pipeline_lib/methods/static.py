"""Static methods: the mixture is fixed for the whole run (LMO: no law; the solver is the given p)."""

from __future__ import annotations

import numpy as np

from pipeline_lib.lmo.simplex import check_mixture
from pipeline_lib.methods.base import MixturePolicy, RunPort


class Stratified(MixturePolicy):
    """p = 1/m, the baseline every table compares against."""

    def start(self, run: RunPort) -> np.ndarray:
        return np.full(self.m, 1.0 / self.m)


class Static(MixturePolicy):
    """Proportions given in the config (``settings.<name>.static``) or a pilot's grid point."""

    def start(self, run: RunPort) -> np.ndarray:
        return check_mixture(self.cfg.proportions, self.m, "static proportions")
