"""The policy interface: how a data-mixing method steers the one trainer.

A method is (mixing law, parameter estimator, solver). At run time it is a :class:`MixturePolicy`: the
trainer asks it for the initial mixture, lets it react before each step and after each evaluation, and
stores its trace. Online methods (Skill-It, Aioli, ...) implement the hooks; static ones need only
:meth:`MixturePolicy.start`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import torch

    from pipeline_lib.train.trainer import Trainer


def check_mixture(p: Any, m: int, where: str) -> np.ndarray:
    """Return p as a float array, or raise if it is not m non-negative weights summing to 1."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.shape != (m,) or np.any(arr < 0) or not np.isclose(arr.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{where}: a mixture needs {m} non-negative weights summing to 1, got {p}")
    return arr / arr.sum()


class MixturePolicy:
    """Base policy: a fixed mixture. Subclasses override the hooks they need.

    ``fit_name``: the offline step whose output ``fits/<fit_name>/seed<n>.json`` this policy reads; the
    workflow makes that file an input of the run and passes its path as ``params["fit_path"]``."""

    fit_name: ClassVar[str | None] = None

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

    def backward(self, trainer: Trainer, batch: torch.Tensor, groups: np.ndarray) -> float:
        """Leave this step's gradient in the model and return the loss to log.

        ``batch`` is (B, T + 1) tokens, ``groups`` each sequence's group index. The default is the mean token
        loss; proxy objectives (DoReMi's weighted excess loss, DoGE's aligned gradients) override it. The
        trainer clips and steps the optimizer afterwards."""
        return trainer.backward_mean(batch, groups)

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
