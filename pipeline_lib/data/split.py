"""Deterministic document-level train/val/test split by a hash of a stable document id."""

from __future__ import annotations

import hashlib

from pipeline_lib.config import SplitConfig


def split_of(doc_id: str, cfg: SplitConfig) -> str:
    """Map a document id to 'val', 'test' or 'train'; the same id always lands in the same split."""
    digest = hashlib.sha256(f"{cfg.salt}:{doc_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    if u < cfg.val_fraction:
        return "val"
    if u < cfg.val_fraction + cfg.test_fraction:
        return "test"
    return "train"
