"""Helpers shared by the benchmark scripts (run as ``python bench/<script>.py``)."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Sequence
from pathlib import Path

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


SAMPLE_GROUPS = ("arxiv", "book", "dictionary", "github", "manpages", "stackexchange", "wikipedia")


def without_tqdm() -> None:
    """The pack step's and the trainer's progress bars come from tqdm: a silent stand-in where it is not
    installed (a bare GPU image)."""
    if importlib.util.find_spec("tqdm") is None:
        sys.modules["tqdm"] = types.SimpleNamespace(tqdm=lambda it=None, **kw: it)


def pack_sample(
    out_dir: str | Path,
    groups: Sequence[str] = ("arxiv", "stackexchange"),
    vocab: int = 2048,
    tokenizer_groups: Sequence[str] = SAMPLE_GROUPS,
    max_docs: int | None = None,
) -> dict[str, dict[str, int]]:
    """``groups`` of the shipped corpus (data/sample) as the demo packs them (config.yaml's data block: the
    same split, a byte-level BPE of ``vocab`` trained on all seven groups), by the project's own tokenizer
    and pack steps, into ``out_dir/<group>``; returns each group's token count per split. ``max_docs``: the
    first documents of each group only (a quick mode's smaller splits)."""
    without_tqdm()
    from pipeline_lib.config import DataConfig
    from pipeline_lib.data.pack import pack_group
    from pipeline_lib.data.tokenizer import build_tokenizer

    repo = Path(__file__).resolve().parents[1]
    cfg = DataConfig.from_dict(
        {
            "source": {
                "kind": "jsonl",
                "path": str(repo / "data" / "sample"),
                "group_field": "domain",
                "file_pattern": "{group}.jsonl.gz",
                "id_field": "source",
                "max_docs_per_group": max_docs,
            },
            "split": {"val_fraction": 0.05, "test_fraction": 0.05, "salt": "mixpipe"},
            "tokenizer": {"kind": "bpe", "vocab_size": vocab, "append_eot": True},
        }
    )
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    build_tokenizer(cfg, tokenizer_groups, str(root / "tokenizer.json"))
    out = {}
    for group in groups:
        meta = pack_group(cfg, group, str(root / "tokenizer.json"), str(root / group), None, 0)
        out[group] = {split: meta["splits"][split]["tokens"] for split in ("train", "val", "test")}
    return out


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
