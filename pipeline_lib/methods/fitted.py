"""Final runs of offline methods: a static mixture read from the method's fit file."""

from __future__ import annotations

import numpy as np

from pipeline_lib.io import read_json
from pipeline_lib.methods.base import MixturePolicy, check_mixture


class FittedStatic(MixturePolicy):
    """Trains on the proportions an offline step wrote to ``fits/<fit_name>/seed<n>.json``.

    The fit file carries ``groups``, ``proportions`` and ``extra_runs`` (what was spent to learn them)."""

    def __init__(self, groups: tuple[str, ...], params: dict) -> None:
        super().__init__(groups, params)
        if "fit_path" not in params:
            raise ValueError(f"method '{self.fit_name}' needs its fit file (method_params.fit_path)")
        self.fit = read_json(params["fit_path"])
        if tuple(self.fit["groups"]) != groups:
            raise ValueError(
                f"{params['fit_path']}: fit groups {self.fit['groups']} differ from {list(groups)}"
            )

    def start(self, trainer) -> np.ndarray:
        return check_mixture(self.fit["proportions"], self.m, f"{self.fit_name} fit proportions")

    @property
    def extra_runs(self) -> dict[str, float]:
        return dict(self.fit["extra_runs"])

    def summary(self) -> dict:
        return {"fit_path": self.params["fit_path"], "learned_proportions": self.fit["proportions"]}
