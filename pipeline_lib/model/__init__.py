"""The GPT used for every run, from a CPU-sized toy to the Pythia-160M shape."""

from pipeline_lib.model.config import PRESETS, ModelConfig
from pipeline_lib.model.gpt import GPT

__all__ = ["GPT", "PRESETS", "ModelConfig"]
