"""Final runs of offline methods: a static mixture read from the method's fit file."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from pipeline_lib.lmo.simplex import check_mixture
from pipeline_lib.methods.base import NO_INPUTS, MixturePolicy, RunInputs, RunPort
from pipeline_lib.records import FitRecord, Spent


class FittedStatic(MixturePolicy):
    """Trains on the proportions an offline step wrote to ``fits/<fit_name>/seed<n>.json`` (``--fit``).

    The fit (:class:`FitRecord`) carries ``groups``, ``proportions`` and ``extra_runs`` (what was spent to
    learn them)."""

    fit_name: ClassVar[str]

    def __init__(self, groups: tuple[str, ...], cfg, inputs: RunInputs = NO_INPUTS) -> None:
        super().__init__(groups, cfg, inputs)
        self.fit_path = inputs.need("fit", self.fit_name)
        self.fit = FitRecord.read(self.fit_path)
        self.proportions = list(self.fit.mixture_for(groups))

    def start(self, run: RunPort) -> np.ndarray:
        return check_mixture(self.proportions, self.m, f"{self.fit_name} fit proportions")

    @property
    def extra_runs(self) -> Spent:
        return self.fit.extra_runs

    def summary(self) -> dict:
        return {"fit_path": self.fit_path, "learned_proportions": self.proportions}
