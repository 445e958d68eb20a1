"""The policy interface: how a data-mixing method steers the one trainer, and what it may see of the run.

A method is (mixing law, parameter estimator, solver). At run time it is a :class:`MixturePolicy`: the
trainer asks it for the initial mixture, lets it react before each step and after each evaluation, and
stores its trace. Policies see the run only through :class:`RunPort` (the trainer implements it), never
the trainer itself; this module imports nothing of ``train/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from pipeline_lib.records import NO_RUNS, Spent

if TYPE_CHECKING:
    import torch

    from pipeline_lib.config import MethodConfig
    from pipeline_lib.model import ModelConfig
    from pipeline_lib.parallel import Ranks


class RunPort(Protocol):
    """What a policy sees of the run it steers."""

    step: int
    """Optimizer steps taken so far."""
    p: np.ndarray
    """The current mixture."""
    groups: tuple[str, ...]
    seed: int
    total_steps: int
    """The schedule's length (the run's budget; a policy's own training steps count toward it)."""
    eval_every: int
    warmup_steps: int
    lr: float
    """The learning rate of the current step."""
    grad_clip: float
    device: torch.device
    autocast: AbstractContextManager
    model_config: ModelConfig
    val_chunks: Sequence[np.ndarray]
    """Each group's fixed validation subset, (n, T + 1) token chunks."""
    ranks: Ranks
    """The run's data-parallel ranks: ``backward`` sees this rank's rows of the batch and builds global
    group means with ``ranks.group_means`` (the trainer sums gradients over ranks after it)."""

    def val_history(self) -> np.ndarray:
        """The scheduled validation losses so far, (evaluations, m), in step order."""

    def train(self, q: np.ndarray, steps: int, exact: bool = False) -> np.ndarray:
        """Train ``steps`` steps on mixture ``q`` (``exact``: each batch's counts are the integers closest to
        q x batch); returns the mixture the batches realised, averaged over the steps."""

    def evaluate(self, split: str = "val") -> np.ndarray:
        """Per-group mean loss on the validation subset ('val') or the whole test split ('test')."""

    # the gradient hook: a policy's ``backward`` leaves the step's gradient with these
    def forward_losses(self, batch: torch.Tensor) -> torch.Tensor:
        """Per-token losses (B, T) of a (B, T + 1) token batch, under the run's autocast."""

    def backward_mean(self, batch: torch.Tensor, groups: np.ndarray) -> float | torch.Tensor:
        """The default objective: backward of the mean token loss; returns it (a detached device scalar
        when the run reads losses lazily, ``train.sync_every`` > 1)."""

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters the optimizer steps, in a fixed order."""

    def set_gradient(self, flat: torch.Tensor) -> None:
        """Make ``flat`` (all trainable parameters, concatenated) the step's gradient, already the same on
        every rank."""


@dataclass(frozen=True)
class RunInputs:
    """Files the workflow hands a policy (command-line inputs of the training job, not parameters)."""

    fit: str | None = None
    """The fit file of an offline step (proportions, a skills graph)."""
    reference: str | None = None
    """DoReMi's proxy: the reference model's state.pt."""

    def need(self, name: str, method: str) -> str:
        path = getattr(self, name)
        if path is None:
            raise ValueError(f"method '{method}' needs its {name} file (train.run --{name})")
        return path


NO_INPUTS = RunInputs()


class MixturePolicy:
    """Base policy: a fixed mixture. Subclasses override the hooks they need.

    ``state_fields``: the attributes that change while the run trains; a mid-run checkpoint saves them and a
    resumed run restores them after :meth:`start`."""

    state_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, groups: tuple[str, ...], cfg: MethodConfig, inputs: RunInputs = NO_INPUTS) -> None:
        self.groups = groups
        self.m = len(groups)
        self.cfg = cfg
        self.inputs = inputs

    def start(self, run: RunPort) -> np.ndarray:
        """The mixture for the first step."""
        raise NotImplementedError

    def before_step(self, run: RunPort) -> np.ndarray | None:
        """Called before every training step; return a new mixture or None to keep the current one.

        A policy may itself call ``run.train`` / ``run.evaluate`` here (Aioli's LearnParams); those steps
        count toward the run's budget."""
        return None

    def backward(self, run: RunPort, batch: torch.Tensor, groups: np.ndarray) -> float | torch.Tensor:
        """Leave this step's gradient in the model and return the loss to log (a float, or a detached
        device scalar the trainer reads back later).

        ``batch`` is (B, T + 1) tokens, ``groups`` each sequence's group index. The default is the mean token
        loss; proxy objectives (DoReMi's weighted excess loss, DoGE's aligned gradients) override it. The
        trainer clips and steps the optimizer afterwards."""
        return run.backward_mean(batch, groups)

    def after_eval(self, run: RunPort, val_losses: np.ndarray) -> np.ndarray | None:
        """Called after each scheduled validation; return a new mixture or None."""
        return None

    def summary(self) -> dict[str, Any]:
        """Method-specific facts for run.json (learned parameters, traces)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.state_fields}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self.state_fields:
            setattr(self, name, state[name])

    @property
    def extra_runs(self) -> Spent:
        """Training spent before this run (pilots, proxies), for the compute accounting."""
        return NO_RUNS
