"""Reading packed token files: one flat memmap per group and split, described by ``meta.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline_lib.io import read_json, write_json


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds every token id."""
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


def open_tokens(path: str | Path, dtype: np.dtype) -> np.ndarray:
    """A read-only memmap of a packed token file (an empty array for an empty file)."""
    path = Path(path)
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


@dataclass(frozen=True)
class GroupTokens:
    """The packed splits of one group."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    meta: dict

    @classmethod
    def load(cls, group_dir: str | Path) -> GroupTokens:
        group_dir = Path(group_dir)
        meta = read_json(group_dir / "meta.json")
        dtype = np.dtype(meta["dtype"])
        splits = {s: open_tokens(group_dir / f"{s}.bin", dtype) for s in ("train", "val", "test")}
        return cls(name=meta["group"], meta=meta, **splits)

    def save(self, group_dir: str | Path) -> Path:
        """Write the splits and ``meta.json`` as :meth:`load` reads them (fixtures, benchmarks); returns
        the folder."""
        group_dir = Path(group_dir)
        group_dir.mkdir(parents=True, exist_ok=True)
        for split in ("train", "val", "test"):
            np.asarray(getattr(self, split)).tofile(group_dir / f"{split}.bin")
        write_json(group_dir / "meta.json", self.meta)
        return group_dir
