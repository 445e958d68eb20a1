"""SlimPajama-6B through `datasets`: the paper's corpus, one group per ``meta.redpajama_set_name``.

``data.source.path`` is the hub id (``DKYoon/SlimPajama-6B``) or a local directory laid out like the hub
repository (``data/{train,validation,test}-*.parquet``); both go through the same ``load_dataset`` call.

* **train**: the dataset's ``train`` split, streamed in dataset order and filtered to the group; the pack
  step stops once its token budget is met, so a run never reads more than it needs.
* **val / test**: both come from the dataset's ``test`` split, as the paper's code does: the group's rows
  (in dataset order) are shuffled with seed 42; even positions go to validation, odd ones to test. The
  dataset's ``validation`` split is unused.

A document's id is ``<dataset split>:<row>`` (its position in the whole split), so the ``doc_ids_sha256`` in
``meta.json`` proves which rows were taken. A document over ``data.source.max_document_bytes`` (UTF-8) is
skipped with a warning and counted in ``meta.json``, as the jsonl reader skips a long line: `datasets` has
read it, but packing it would need ~175x its size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_lib.config import SourceConfig
from pipeline_lib.data.documents import DataError, Document, LongDocuments

HUB_ID = "DKYoon/SlimPajama-6B"
SET_NAMES: dict[str, str] = {
    "arxiv": "RedPajamaArXiv",
    "book": "RedPajamaBook",
    "c4": "RedPajamaC4",
    "cc": "RedPajamaCommonCrawl",
    "github": "RedPajamaGithub",
    "stackexchange": "RedPajamaStackExchange",
    "wikipedia": "RedPajamaWikipedia",
}
HOLDOUT_SPLIT = "test"  # the dataset split that val and test are both drawn from
HOLDOUT_SEED = 42
SPLIT_FILES = "data/{split}-*.parquet"  # the hub repo's layout, and a local copy's


def holdout_positions(n_rows: int, split: str, seed: int = HOLDOUT_SEED) -> np.ndarray:
    """Positions among a group's ``n_rows`` holdout rows that form ``split`` ('val' or 'test').

    The permutation is ``np.random.default_rng(seed).permutation(n_rows)``, which is what
    ``datasets.Dataset.shuffle(seed=seed)`` applies; val takes its even indices, test its odd ones.
    """
    if split not in ("val", "test"):
        raise ValueError(f"holdout split must be 'val' or 'test', got '{split}'")
    order = np.random.default_rng(seed).permutation(n_rows)
    return order[0::2] if split == "val" else order[1::2]


def offline_options(path: str) -> str:
    return (
        "Offline options: (1) a local copy laid out like the hub repo (data/{train,test,...}-*.parquet, "
        f"e.g. `hf download {HUB_ID} --repo-type dataset --local-dir /data/slimpajama-6b`), then set "
        "data.source.path to that directory; (2) a copy in the Hugging Face cache (`hf download` without "
        "--local-dir fetches into HF_HOME): set data.source.path to its snapshot directory, "
        "<HF_HOME>/hub/datasets--DKYoon--SlimPajama-6B/snapshots/<revision>; (3) the local JSON-lines "
        "source: data.source.kind: jsonl with data.source.path a directory of <group>.jsonl.gz files "
        f"(data/sample ships one). data.source.path was '{path}'."
    )


class SlimPajamaSource:
    """The :class:`~pipeline_lib.data.sources.Source` for SlimPajama-6B (hub id or local copy)."""

    def __init__(self, cfg: SourceConfig) -> None:
        self.cfg = cfg
        self.path = cfg.path
        self.is_local = Path(cfg.path).is_dir()
        self.set_names = {**SET_NAMES, **cfg.group_names}
        self._holdout: tuple[Any, list[str]] | None = None
        self.long = LongDocuments(cfg.max_document_bytes)  # by group

    # -- loading ------------------------------------------------------------------------------------
    def _load(self, split: str, streaming: bool) -> Any:
        import datasets  # lazy: the Snakefile builds this source at parse time

        try:
            # data_files: only this split's shards (a plain load would download and prepare all 6B)
            return datasets.load_dataset(
                self.path,
                data_files={split: SPLIT_FILES.format(split=split)},
                split=split,
                streaming=streaming,
                cache_dir=self.cfg.cache_dir,
            )
        except (OSError, ValueError) as err:
            if self.is_local:
                raise DataError(
                    f"data.source.path '{self.path}' could not be read as SlimPajama (split '{split}'): "
                    f"{err}. It must be laid out like the hub repo: "
                    "data/{train,validation,test}-*.parquet with fields text, meta.redpajama_set_name."
                ) from err
            raise DataError(
                f"could not load the dataset '{self.path}' (data.source.path, split '{split}') from the "
                f"Hugging Face hub: {type(err).__name__}: {err}. {offline_options(self.path)}"
            ) from err

    def _holdout_split(self) -> tuple[Any, list[str]]:
        """The dataset's test split (small: kept in the cache) and each row's set name."""
        if self._holdout is None:
            ds = self._load(HOLDOUT_SPLIT, streaming=False)
            names = [m["redpajama_set_name"] for m in ds["meta"]]
            self._holdout = (ds, names)
        return self._holdout

    # -- groups ---------------------------------------------------------------------------------------
    def set_name(self, group: str) -> str:
        if group not in self.set_names:
            raise DataError(
                f"group '{group}' is not a SlimPajama group; known: {sorted(self.set_names)}. Map another "
                f"name with data.source.group_names: {{{group}: RedPajama...}}"
            )
        return self.set_names[group]

    def existing_groups(self) -> list[str]:
        """'group (set name)' for every set name present in the holdout split."""
        _, names = self._holdout_split()
        back = {v: k for k, v in self.set_names.items()}
        return [f"{back[n]} ({n})" if n in back else n for n in sorted(set(names))]

    def _group_rows(self, group: str) -> list[int]:
        """The group's row numbers in the holdout split, in dataset order; a missing group is an error."""
        name = self.set_name(group)
        _, names = self._holdout_split()
        rows = [i for i, n in enumerate(names) if n == name]
        if not rows:
            raise DataError(
                f"group '{group}' (meta.redpajama_set_name '{name}') has no documents in '{self.path}'; "
                f"groups there: {', '.join(self.existing_groups())}. Choose settings from these, or fix "
                "data.source.group_names."
            )
        return rows

    def check_group(self, group: str) -> None:
        """The name must map to a set name; a local copy must also hold it. The hub is not contacted here
        (this runs when the workflow is parsed); the pack step checks the group before streaming."""
        self.set_name(group)
        if self.is_local:
            self._group_rows(group)

    def skipped_long_documents(self, group: str) -> int:
        """The group's documents skipped so far as over ``data.source.max_document_bytes``."""
        return self.long.count(group)

    def _kept(self, group: str, doc: Document) -> bool:
        """Whether ``doc`` fits ``data.source.max_document_bytes``; a longer one is noted and warned of."""
        limit, n = self.long.limit, len(doc.text)
        if 4 * n <= limit or (n <= limit and len(doc.text.encode()) <= limit):
            return True  # a character is at most 4 UTF-8 bytes: most documents are never encoded here
        self.long.skip(group, doc.id, f"{self.path} row {doc.id} (group {group})")
        return False

    def input_files(self, group: str) -> list[Path]:
        if not self.is_local:
            return []
        root = Path(self.path)
        return sorted(root.glob("data/*.parquet")) or sorted(root.rglob("*.parquet"))

    # -- documents ------------------------------------------------------------------------------------
    def iter_split(self, group: str, split: str) -> Iterator[Document]:
        rows = self._group_rows(group)  # fails fast on a missing group, before any streaming
        if split == "train":
            yield from self._train_docs(group)
        elif split in ("val", "test"):
            ds, _ = self._holdout_split()
            for pos in holdout_positions(len(rows), split):
                row = rows[int(pos)]
                doc = Document(f"{HOLDOUT_SPLIT}:{row}", ds[row]["text"])
                if self._kept(group, doc):
                    yield doc
        else:
            raise ValueError(f"unknown split '{split}'")

    def _train_docs(self, group: str) -> Iterator[Document]:
        name = self.set_name(group)
        stream = self._load("train", streaming=True)
        taken = 0
        for row, record in enumerate(stream):
            if record["meta"]["redpajama_set_name"] != name:
                continue
            if self.cfg.max_docs_per_group is not None and taken >= self.cfg.max_docs_per_group:
                return
            doc = Document(f"train:{row}", record["text"])
            if self._kept(group, doc):
                taken += 1
                yield doc
