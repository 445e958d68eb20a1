"""Olmix (offline, static): a Dirichlet swarm of small proxies, one log-linear law per task, and the
KL-pulled, repetition-capped mixture (:mod:`pipeline_lib.olmix`). The final run trains on that mixture."""

from __future__ import annotations

import numpy as np

from pipeline_lib.lmo.simplex import check_mixture
from pipeline_lib.methods.base import NO_INPUTS, MixturePolicy, RunInputs, RunPort
from pipeline_lib.methods.fitted import FittedStatic
from pipeline_lib.records import SwarmFile


class Olmix(FittedStatic):
    """Trains on the mix proposed from the swarm's proxies (``fits/olmix/seed<n>.json``)."""

    fit_name = "olmix"


class OlmixPilots(FittedStatic):
    """Trains on Olmix's law and solve fitted on DML's pilots (``fits/olmix_pilots/seed<n>.json``)."""

    fit_name = "olmix_pilots"


class RegMix(FittedStatic):
    """RegMix (Liu et al. 2024) on Olmix's swarm: LightGBM per task and the mean of the best sampled mixtures
    (``fits/regmix/seed<n>.json``)."""

    fit_name = "regmix"


class SwarmProxy(MixturePolicy):
    """One proxy of the swarm: row ``index`` of the swarm file (``--fit``), fixed for the whole run."""

    def __init__(self, groups: tuple[str, ...], cfg, inputs: RunInputs = NO_INPUTS) -> None:
        super().__init__(groups, cfg, inputs)
        path = inputs.need("fit", "olmix_proxy")
        swarm = SwarmFile.read(path)
        if swarm.groups != groups:
            raise ValueError(f"{path}: swarm groups {list(swarm.groups)} differ from {list(groups)}")
        if not 0 <= cfg.index < len(swarm.mixtures):
            raise ValueError(f"{path}: no swarm mixture {cfg.index} (the swarm has {len(swarm.mixtures)})")
        self.p = check_mixture(swarm.mixtures[cfg.index], self.m, f"{path} mixture {cfg.index}")

    def start(self, run: RunPort) -> np.ndarray:
        return self.p
