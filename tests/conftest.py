"""Shared fixtures. Nothing here (or in any test) reaches a model or data hub."""

from __future__ import annotations

import os

# Before numpy and torch load: one thread each. BLAS threads fighting over 2 cores slow scipy's fits ~10x, and
# torch's two OpenMP threads spin-wait on each other while the other pytest-xdist worker holds a core (a tiny
# model's killed-and-resumed runs: 2-5x slower beside a busy core). No hub, ever.
for _var, _value in {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_var, _value)

import gzip  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# Three synthetic groups with different vocabularies, so a model can tell them apart.
_VOCABS = {
    "alpha": "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split(" "),
    "beta": "def return import class self lambda yield async await print range len".split(" "),
    "gamma": "the quick brown fox jumps over a lazy dog while seven wizards hum".split(" "),
}


def write_corpus(root: Path, docs_per_group: int = 60, words: int = 120, seed: int = 0) -> Path:
    """A small JSONL corpus: ``root/<group>.jsonl.gz`` with text/domain/source/license records."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for group, vocab in _VOCABS.items():
        with gzip.open(root / f"{group}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for i in range(docs_per_group):
                text = " ".join(rng.choice(vocab, size=words))
                record = {"text": text, "domain": group, "source": f"synthetic:{group}#{i}", "license": "CC0"}
                fh.write(json.dumps(record) + "\n")
    return root


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The modules with a slow test first. Under `make test` (pytest-xdist, --dist loadscope) a module is one
    unit of work: the long ones start together and the short ones fill in after, so no worker is left running
    a long module alone at the end."""
    slow = {item.module.__name__ for item in items if item.get_closest_marker("slow") and item.module}
    items.sort(key=lambda item: getattr(item.module, "__name__", None) not in slow)
