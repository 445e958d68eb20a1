"""Data-mixing methods. ``METHODS`` maps the config key (also the output directory name) to the policy."""

from pipeline_lib.methods.base import MixturePolicy
from pipeline_lib.methods.static import Static, Stratified

METHODS: dict[str, type[MixturePolicy]] = {
    "stratified": Stratified,
    "static": Static,
}

__all__ = ["METHODS", "MixturePolicy"]
