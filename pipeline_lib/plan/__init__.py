"""Planning: what a project runs and where it writes. :class:`Planner` makes the jobs; :mod:`.paths` is the
results layout; :mod:`.learning` the learning runs by kind; :mod:`.reuse` the reuse experiment's part."""

from pipeline_lib.plan.jobs import TrainJob
from pipeline_lib.plan.planner import Planner

__all__ = ["Planner", "TrainJob"]
