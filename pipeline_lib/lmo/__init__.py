"""Linear Mixing Optimization core: mixing laws, their solvers and pilot-mixture grids.

Every data-mixing method is a mixing law (:mod:`.laws`), a way to set its parameters, and a solver
(:mod:`.solvers`); :mod:`.grids` makes the pilot mixtures the offline methods fit on.
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
    project_to_capped_simplex,
    two_group_closed_form,
)

__all__ = [
    "FitReport",
    "LinearDynamicLaw",
    "LogLinearStaticLaw",
    "dirichlet_cover",
    "eg_from_scores",
    "eg_step",
    "grid_mixtures",
    "minimize_on_simplex",
    "minimize_static_law",
    "one_hot_mixtures",
    "project_to_capped_simplex",
    "smoothed_one_hot",
    "two_group_closed_form",
]
