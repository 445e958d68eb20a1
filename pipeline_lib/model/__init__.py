"""The GPT used for every run, from a CPU-sized toy to the Pythia-160M shape.

``GPT`` is imported on first use, so the torch-free config (``ModelConfig``) loads without torch.
"""

from typing import Any

from pipeline_lib.model.config import PRESETS, ModelConfig

__all__ = ["GPT", "PRESETS", "ModelConfig"]


def __getattr__(name: str) -> Any:
    if name == "GPT":
        from pipeline_lib.model.gpt import GPT

        return GPT
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
