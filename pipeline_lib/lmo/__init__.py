"""Linear Mixing Optimization core: mixing laws, their solvers and the runs' mixtures.

Every data-mixing method is a mixing law (:mod:`.laws`; Olmix's per-task law in :mod:`.tasklaw`), a way to
set its parameters, and a solver (:mod:`.solvers`); :mod:`.grids` makes the pilot mixtures the offline
methods fit on, :mod:`.swarm` Olmix's Dirichlet swarm of proxy mixtures.
"""

from pipeline_lib.lmo.grids import (
    dirichlet_cover,
    grid_mixtures,
    one_hot_mixtures,
    smoothed_one_hot,
)
from pipeline_lib.lmo.laws import FitReport, LinearDynamicLaw, LogLinearStaticLaw
from pipeline_lib.lmo.solvers import (
    eg_from_scores,
    eg_step,
    minimize_on_simplex,
    minimize_static_law,
    minimize_task_law,
    project_to_capped_simplex,
    repetition_caps,
    two_group_closed_form,
)
from pipeline_lib.lmo.swarm import SwarmSettings, dirichlet_swarm
from pipeline_lib.lmo.tasklaw import FitSettings, TaskLogLinearLaw

__all__ = [
    "FitReport",
    "FitSettings",
    "LinearDynamicLaw",
    "LogLinearStaticLaw",
    "SwarmSettings",
    "TaskLogLinearLaw",
    "dirichlet_cover",
    "dirichlet_swarm",
    "eg_from_scores",
    "eg_step",
    "grid_mixtures",
    "minimize_on_simplex",
    "minimize_static_law",
    "minimize_task_law",
    "one_hot_mixtures",
    "project_to_capped_simplex",
    "repetition_caps",
    "smoothed_one_hot",
    "two_group_closed_form",
]
