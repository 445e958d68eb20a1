"""The policy interface: how a data-mixing method steers the one trainer.

A method is (mixing law, parameter estimator, solver). At run time it is a :class:`MixturePolicy`: the
trainer asks it for the initial mixture, lets it react before each step and after each evaluation, and
stores its trace. Online methods (Skill-It, Aioli, ...) implement the hooks; static ones need only
:meth:`MixturePolicy.start`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pipeline_lib.train.trainer import Trainer


def check_mixture(p: Any, m: int, where: str) -> np.ndarray:
    """Return p as a float array, or raise if it is not m non-negative weights summing to 1."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.shape != (m,) or np.any(arr < 0) or not np.isclose(arr.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{where}: a mixture needs {m} non-negative weights summing to 1, got {p}")
    return arr / arr.sum()


class MixturePolicy:
    """Base policy: a fixed mixture. Subclasses override the hooks they need."""

    def __init__(self, groups: tuple[str, ...], params: dict[str, Any]) -> None:
        self.groups = groups
        self.m = len(groups)
        self.params = params

    def start(self, trainer: Trainer) -> np.ndarray:
        """The mixture for the first step."""
        raise NotImplementedError

    def before_step(self, trainer: Trainer) -> np.ndarray | None:
        """Called before every training step; return a new mixture or None to keep the current one.

        A policy may itself call ``trainer.train_step`` / ``trainer.evaluate`` here (Aioli's LearnParams);
        those steps count toward the run's budget."""
        return None

    def after_eval(self, trainer: Trainer, val_losses: np.ndarray) -> np.ndarray | None:
        """Called after each scheduled validation; return a new mixture or None."""
        return None

    def summary(self) -> dict[str, Any]:
        """Method-specific facts for run.json (learned parameters, traces)."""
        return {}

    @property
    def extra_runs(self) -> dict[str, float]:
        """Training spent before this run (pilots, proxies), for the compute accounting."""
        return {"runs": 0, "tokens": 0}
