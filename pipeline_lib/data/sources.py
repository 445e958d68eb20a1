"""Document sources. A source yields the documents of one group and split; the rest of the data stage
(tokenizer, packing) only sees this interface (:mod:`.documents`), so new corpora plug in here."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from pipeline_lib.config import DataConfig, SourceConfig, SplitConfig
from pipeline_lib.data.documents import DataError, Document, Source
from pipeline_lib.data.split import split_of

__all__ = ["DataError", "Document", "JsonlSource", "Source", "make_source"]
log = logging.getLogger(__name__)


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


class JsonlSource:
    """A local directory of JSON-lines files (optionally gzipped), one record per document.

    ``file_pattern`` maps a group to its file (``{group}.jsonl.gz``); records whose ``group_field`` differs
    from the group are skipped, so several groups may share one file. The split is a hash of ``id_field``
    (or of the text when there is no id field).
    """

    def __init__(self, cfg: SourceConfig, split: SplitConfig) -> None:
        self.cfg = cfg
        self.split = split
        self.root = Path(cfg.path)

    def _file(self, group: str) -> Path:
        return self.root / self.cfg.file_pattern.format(group=group)

    def input_files(self, group: str) -> list[Path]:
        return [self._file(group)]

    def _records(self, group: str) -> Iterator[dict]:
        path = self._file(group)
        if not path.is_file():
            available = sorted(p.name for p in self.root.glob("*.jsonl*")) if self.root.is_dir() else []
            raise DataError(
                f"group '{group}': corpus file {path} does not exist (data.source.path='{self.cfg.path}', "
                f"file_pattern='{self.cfg.file_pattern}'); files there: {available or 'none'}"
            )
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{lineno}: not valid JSON ({err})") from err
                if record.get(self.cfg.group_field, group) != group:
                    continue
                if not isinstance(record.get("text"), str):
                    raise DataError(f"{path}:{lineno}: record has no string field 'text'")
                yield record

    def _doc_id(self, record: dict) -> str:
        field = self.cfg.id_field
        if field and record.get(field) is not None:
            return str(record[field])
        return hashlib.sha1(record["text"].encode()).hexdigest()

    def iter_split(self, group: str, split: str) -> Iterator[Document]:
        cap = self.cfg.max_docs_per_group
        for taken, record in enumerate(self._records(group)):
            if cap is not None and taken >= cap:
                return
            doc = Document(self._doc_id(record), record["text"])
            if split_of(doc.id, self.split) == split:
                yield doc

    def check_group(self, group: str) -> None:
        for _ in self._records(group):
            return
        raise DataError(
            f"group '{group}' has no documents in {self._file(group)} "
            f"(records are matched on data.source.group_field='{self.cfg.group_field}')"
        )


def make_source(cfg: DataConfig) -> Source:
    """The source named by ``data.source.kind``."""
    if cfg.source.kind == "jsonl":
        return JsonlSource(cfg.source, cfg.split)
    if cfg.source.kind == "slimpajama":
        from pipeline_lib.data.slimpajama import SlimPajamaSource  # imports `datasets` only when used

        return SlimPajamaSource(cfg.source)
    raise DataError(f"data.source.kind '{cfg.source.kind}' is not supported; use 'jsonl' or 'slimpajama'")
