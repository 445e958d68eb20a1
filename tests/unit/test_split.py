from __future__ import annotations

import math

from pipeline_lib.config import DataConfig, SplitConfig
from pipeline_lib.data.sources import JsonlSource
from pipeline_lib.data.split import split_of


def test_split_is_deterministic_and_salted():
    cfg = SplitConfig(val_fraction=0.1, test_fraction=0.1, salt="a")
    ids = [f"doc-{i}" for i in range(2000)]
    first = [split_of(i, cfg) for i in ids]
    assert first == [split_of(i, cfg) for i in ids]
    other = [split_of(i, SplitConfig(0.1, 0.1, salt="b")) for i in ids]
    assert first != other  # the salt changes the assignment


def test_split_fractions_within_binomial_bounds():
    cfg = SplitConfig(val_fraction=0.1, test_fraction=0.2)
    n = 20000
    splits = [split_of(f"id{i}", cfg) for i in range(n)]
    for name, frac in (("val", 0.1), ("test", 0.2), ("train", 0.7)):
        share = splits.count(name) / n
        assert abs(share - frac) < 5 * math.sqrt(frac * (1 - frac) / n), (name, share)


def test_source_splits_are_disjoint_and_cover_all_documents(corpus_dir):
    data = DataConfig.from_dict(
        {"source": {"path": str(corpus_dir)}, "split": {"val_fraction": 0.2, "test_fraction": 0.2}}
    )
    source = JsonlSource(data.source, data.split)
    ids = {s: [d.id for d in source.iter_split("alpha", s)] for s in ("train", "val", "test")}
    all_ids = [i for s in ids.values() for i in s]
    assert len(all_ids) == len(set(all_ids)) == 60
    assert all(ids[s] for s in ids)  # each split has documents
