"""Helpers shared by the benchmark scripts (run as ``python bench/<script>.py``)."""

from __future__ import annotations

import numpy as np

from pipeline_lib.data.tokens import GroupTokens


def fake_groups(
    vocab: int, context: int, n_tokens: int, m: int = 2, eval_sequences: int = 4
) -> list[GroupTokens]:
    """m groups of random tokens: throughput does not depend on the text."""
    rng = np.random.default_rng(0)
    dtype = np.uint16 if vocab <= 65536 else np.uint32
    meta = {"vocab_size": vocab, "dtype": np.dtype(dtype).name}
    return [
        GroupTokens(
            name=f"g{i}",
            train=rng.integers(0, vocab, n_tokens, dtype=dtype),
            val=rng.integers(0, vocab, eval_sequences * (context + 1), dtype=dtype),
            test=rng.integers(0, vocab, eval_sequences * (context + 1), dtype=dtype),
            meta={**meta, "group": f"g{i}"},
        )
        for i in range(m)
    ]


# Dense bf16 peak FLOP/s by device name (the longest matching key wins), for MFU.
PEAK_FLOPS = {
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "H200": 989e12,
    "GH200": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "RTX 6000 Ada": 364e12,
}


def peak_flops(device_name: str) -> float | None:
    """The dense bf16 peak of a device from its name (``torch.cuda.get_device_name()``), or None."""
    keys = [k for k in PEAK_FLOPS if k in device_name]
    return PEAK_FLOPS[max(keys, key=len)] if keys else None
