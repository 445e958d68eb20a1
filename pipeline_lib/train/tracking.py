"""Optional experiment tracking, fed from the same per-evaluation records as ``progress.jsonl``.

``train.tensorboard: true`` writes TensorBoard event files to ``<run>/tensorboard/`` (the ``tracking`` extra:
``pip install -e ".[tracking]"``); off by default, and nothing else needs it.
"""

from __future__ import annotations

from pathlib import Path


class TensorBoardTracker:
    """Validation losses per group and their mean, by step, as TensorBoard scalars."""

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # torch's module needs the tensorboard package
            raise RuntimeError(
                'train.tensorboard needs the tensorboard package: pip install -e ".[tracking]"'
            ) from err
        self.writer = SummaryWriter(str(log_dir))

    def __call__(self, step: int, tokens: int, val_loss: dict[str, float]) -> None:
        for group, value in val_loss.items():
            self.writer.add_scalar(f"val_loss/{group}", value, step)
        self.writer.add_scalar("val_loss/mean", sum(val_loss.values()) / len(val_loss), step)
        self.writer.add_scalar("tokens", tokens, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
