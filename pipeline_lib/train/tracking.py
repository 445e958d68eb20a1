"""Optional experiment tracking through one interface: what a run logs, and where it goes.

A :class:`Tracker` takes ``log(step, metrics)``: the trainer sends the training loss and learning rate of
each step when it reads the loss back (``train/loss``, ``train/lr``), the mixture p^t whenever it changes
(``mixture/<group>``), and each evaluation's validation losses (``val_loss/<group>``, ``val_loss/mean``,
``tokens``). Backends, chosen by ``train.trackers`` (an execution setting: choosing one reruns nothing):

- ``tensorboard``: event files in ``<run>/tensorboard/`` (the ``tracking`` extra);
- ``wandb``: Weights & Biases in offline mode, files in ``<run>/wandb/`` (``wandb sync`` uploads them);
- ``mlflow``: an MLflow file store in ``<run>/mlruns/`` (``mlflow ui --backend-store-uri <run>/mlruns``).

Each imports its library only when chosen; a missing one is named with its install command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any


class Tracker:
    """Where a run's scalars go; subclasses write them to one backend."""

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and close (the run's end)."""


def _need(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RuntimeError(f"train.trackers needs {package}: pip install {package}") from err


class TensorBoardTracker(Tracker):
    """TensorBoard event files (torch's SummaryWriter)."""

    def __init__(self, log_dir: str | Path) -> None:
        writer = _need("torch.utils.tensorboard", "tensorboard").SummaryWriter
        self.writer = writer(str(log_dir))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbTracker(Tracker):
    """Weights & Biases, offline (nothing leaves the machine until ``wandb sync``)."""

    def __init__(self, run_dir: str | Path, name: str, config: Mapping[str, Any]) -> None:
        wandb = _need("wandb", "wandb")
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(mode="offline", dir=str(run_dir), name=name, config=dict(config), reinit=True)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run.log(dict(metrics), step=step)

    def close(self) -> None:
        self.run.finish()


class MLflowTracker(Tracker):
    """MLflow, to a file store beside the run (no tracking server)."""

    def __init__(self, store: str | Path, name: str, config: Mapping[str, Any]) -> None:
        self.mlflow = _need("mlflow", "mlflow-skinny")
        self.mlflow.set_tracking_uri(Path(store).resolve().as_uri())
        self.mlflow.start_run(run_name=name)
        self.mlflow.log_params({k: str(v)[:250] for k, v in config.items()})

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


class Trackers(Tracker):
    """Several trackers as one (each gets every record)."""

    def __init__(self, trackers: Sequence[Tracker]) -> None:
        self.trackers = list(trackers)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for tracker in self.trackers:
            tracker.log(step, metrics)

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()


BACKENDS: dict[str, Callable[[Path, str, Mapping[str, Any]], Tracker]] = {
    "tensorboard": lambda out, name, config: TensorBoardTracker(out / "tensorboard"),
    "wandb": lambda out, name, config: WandbTracker(out / "wandb", name, config),
    "mlflow": lambda out, name, config: MLflowTracker(out / "mlruns", name, config),
}
"""Every tracker backend by the name ``train.trackers`` lists."""


def make_tracker(names: Sequence[str], out: Path, name: str, config: Mapping[str, Any]) -> Tracker | None:
    """The run's trackers (None: none chosen)."""
    return Trackers([BACKENDS[n](out, name, config) for n in names]) if names else None
