"""``run_if``: skip a test unless the machine has what it needs (as litgpt's ``RunIf``), and mark it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from pipeline_lib.model.gpt import flash_available


def run_if(min_cuda_gpus: int = 1, flash_attn: bool = False, bf16: bool = False) -> Callable:
    """Mark a test ``cuda`` and skip it without ``min_cuda_gpus`` CUDA devices (or flash-attn, or bf16)."""
    reasons = []
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < min_cuda_gpus:
        reasons.append(f"needs {min_cuda_gpus} CUDA device(s), found {count}")
    if flash_attn and not flash_available():
        reasons.append("needs flash-attn (pip install --no-build-isolation flash-attn)")
    if bf16 and count and not torch.cuda.is_bf16_supported():
        reasons.append("needs a bf16-capable GPU")

    def mark(fn: Callable) -> Callable:
        fn = pytest.mark.cuda(fn)
        return pytest.mark.skipif(bool(reasons), reason="; ".join(reasons))(fn)

    return mark
