"""Data-mixing methods at run time: the policies that steer the trainer, and the offline fit steps.

Which policy a method runs, its typed config and its fit file are the registry's
(:data:`pipeline_lib.config.METHODS`); :func:`make_policy` builds one for a training job.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from pipeline_lib.config import MethodConfig, build_method_config, method_entry
from pipeline_lib.methods.base import NO_INPUTS, MixturePolicy, RunInputs, RunPort


def policy_class(method: str) -> type[MixturePolicy]:
    """The policy class of a method, a proxy or ``aioli+<X>`` (imported on demand)."""
    module, name = method_entry(method).policy.split(":")
    return getattr(importlib.import_module(module), name)


def make_policy(
    method: str,
    groups: tuple[str, ...],
    params: MethodConfig | Mapping[str, Any] | None = None,
    inputs: RunInputs = NO_INPUTS,
) -> MixturePolicy:
    """The policy of ``method`` over ``groups``: ``params`` a typed config or its dict (defaults: {})."""
    if not isinstance(params, MethodConfig):
        params = build_method_config(method, params or {}, f"method_params of '{method}'")
    return policy_class(method)(groups, params, inputs)


__all__ = ["NO_INPUTS", "MixturePolicy", "RunInputs", "RunPort", "make_policy", "policy_class"]
