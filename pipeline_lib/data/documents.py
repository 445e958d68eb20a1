"""What every document source yields and raises: the interface the data stage sees (no source imported)."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Bad or missing input data; the message says which file or group and what to do."""


@dataclass(frozen=True)
class Document:
    id: str
    text: str


class LongDocuments:
    """The documents a source skipped as over ``data.source.max_document_bytes``, by where they were counted
    (a file, a group): each warned about once, however often it is read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[Hashable, set[Hashable]] = {}

    def skip(self, where: Hashable, item: Hashable, at: str, kind: str = "a document", fix: str = "") -> None:
        """Note ``item`` of ``where``; the warning names it by ``at`` and ``kind``, and offers ``fix`` too."""
        seen = self._seen.setdefault(where, set())
        if item not in seen:
            seen.add(item)
            log.warning(
                "%s: skipped, %s longer than data.source.max_document_bytes (%d bytes); raise it to keep the "
                "document (packing it needs ~175x its size in memory)%s",
                at,
                kind,
                self.limit,
                fix,
            )

    def count(self, where: Hashable) -> int:
        """How many of ``where``'s documents were skipped so far."""
        return len(self._seen.get(where, ()))


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
