"""What every document source yields and raises: the interface the data stage sees (no source imported)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class DataError(ValueError):
    """Bad or missing input data; the message says which file or group and what to do."""


@dataclass(frozen=True)
class Document:
    id: str
    text: str


def is_blank(text: str) -> bool:
    """An empty or whitespace-only document: not packed, nor trained on (counted in meta.json)."""
    return not text.strip()


class Source(Protocol):
    """What the data stage needs from a corpus."""

    def iter_split(self, group: str, split: str) -> Iterator[Document]:
        """Documents of ``group`` in ``split`` ('train', 'val' or 'test'), in a deterministic order."""
        ...

    def input_files(self, group: str) -> list[Path]:
        """Local files the group's documents are read from (Snakemake inputs); [] for remote sources."""
        ...

    def check_group(self, group: str) -> None:
        """Raise :class:`DataError` if the group is unknown or has no documents."""
        ...

    def skipped_long_documents(self, group: str) -> int:
        """Documents of the group's files skipped so far as too long (``data.source.max_document_bytes``)."""
        ...
