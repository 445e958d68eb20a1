"""The project configuration: typed (:mod:`.types`, :mod:`.methods`), its methods declared
(:mod:`.registry`), loaded and validated (:mod:`.load`).

Torch-free: the Snakefile imports it to validate the YAML and plan the jobs (:mod:`pipeline_lib.plan`).
"""

from pipeline_lib.config.load import load_project
from pipeline_lib.config.methods import MethodConfig
from pipeline_lib.config.registry import METHODS, build_method_config, method_entry
from pipeline_lib.config.types import (
    AIOLI_PLUS,
    RESTRICTED,
    SPLITS,
    ConfigError,
    DataConfig,
    PilotConfig,
    Project,
    RestrictedConfig,
    RunSpec,
    Setting,
    SourceConfig,
    SplitConfig,
    TokenizerConfig,
    TrainConfig,
)

__all__ = [
    "AIOLI_PLUS",
    "METHODS",
    "RESTRICTED",
    "SPLITS",
    "ConfigError",
    "DataConfig",
    "MethodConfig",
    "PilotConfig",
    "Project",
    "RestrictedConfig",
    "RunSpec",
    "Setting",
    "SourceConfig",
    "SplitConfig",
    "TokenizerConfig",
    "TrainConfig",
    "build_method_config",
    "load_project",
    "method_entry",
]
