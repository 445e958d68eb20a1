"""Document sources. A source yields the documents of one group and split; the rest of the data stage
(tokenizer, packing) only sees this interface (:mod:`.documents`), so new corpora plug in here."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import math
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from pipeline_lib.config import DataConfig, SourceConfig, SplitConfig
from pipeline_lib.config.types import ViewConfig
from pipeline_lib.data.documents import DataError, Document, LongDocuments, Source
from pipeline_lib.data.split import split_of

__all__ = ["DataError", "Document", "JsonlSource", "Source", "make_source"]

SCAN_LIMIT_BYTES = 16 << 20
"""``check_group`` reads a corpus file whole (every line, the split of every document) up to this size on
disk: ~0.15 s for the shipped 7-group corpus (4 MB). A larger file gets the first-record check only, and
the data jobs report a bad line (file and line) when they reach it."""


def _open_bytes(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


SKIP_CHUNK_BYTES = 1 << 20
"""An over-long line is skipped in reads of this many bytes: it is never held in memory."""


def _skip_rest_of_line(fh: IO[bytes]) -> int:
    """Read past the end of the current line in bounded pieces; the number of bytes read."""
    n = 0
    while True:
        rest = fh.readline(SKIP_CHUNK_BYTES)
        n += len(rest)
        if not rest or rest.endswith(b"\n"):
            return n


def _lines(path: Path, max_bytes: int) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of each line of ``path``; None for a line longer than ``max_bytes`` (read past in
    pieces, never held whole: a read holds at most ~2 x ``max_bytes``). A line that is not
    UTF-8, or a damaged file, is a :class:`DataError` naming the file, the line and (for bad bytes) the byte
    offset."""
    where = "of the uncompressed text" if path.suffix == ".gz" else "of the file"
    offset, lineno = 0, 0
    try:
        fh = _open_bytes(path)
    except OSError as err:
        raise DataError(f"{path}: cannot be opened ({err.strerror}); check its permissions") from None
    with fh:
        while True:
            try:
                raw = fh.readline(max_bytes + 1)
                long = len(raw) > max_bytes and not raw.endswith(b"\n")
                skipped = _skip_rest_of_line(fh) if long else 0
            except (OSError, EOFError, zlib.error) as err:
                raise DataError(
                    f"{path}: unreadable after line {lineno} ({type(err).__name__}: {err}); the file is "
                    "damaged (a truncated download?): copy or compress it again"
                ) from None
            if not raw:
                return
            lineno += 1
            if long:
                offset += len(raw) + skipped
                yield lineno, None
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{path}:{lineno}: not valid UTF-8 at byte {offset + err.start} {where} "
                    f"(byte {raw[err.start : err.start + 1].hex()}: {err.reason}); save the file as UTF-8 "
                    "(e.g. `iconv -f latin1 -t utf-8`) or remove the line"
                ) from None
            offset += len(raw)
            yield lineno, text


def _parse_record(path: Path, lineno: int, line: str) -> dict | None:
    """The JSON object on one line (None for a blank line); anything else is a :class:`DataError`."""
    if not line.strip():
        return None
    try:
        record = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as err:
        at = err.msg if err.msg.endswith(" at") else f"{err.msg} at"  # "Expecting value", "... starting at"
        raise DataError(
            f"{path}:{lineno}: not valid JSON ({at} column {err.colno}); each line must be one JSON object: "
            "fix or remove the line"
        ) from None
    if not isinstance(record, dict):
        raise DataError(
            f"{path}:{lineno}: a JSON {type(record).__name__}, not an object; each line must be one JSON "
            'object with the document in "text": fix or remove the line'
        )
    return record


class JsonlSource:
    """A local directory of JSON-lines files (optionally gzipped), one record per document.

    ``file_pattern`` maps a group to its file (``{group}.jsonl.gz``); records whose ``group_field`` differs
    from the group are skipped, so several groups may share one file. The split is a hash of ``id_field``
    (or of the text when there is no id field). A view (``data.views``) reads its parent's records that it
    keeps, so a document has the same split in the view as in its parent.
    """

    def __init__(
        self, cfg: SourceConfig, split: SplitConfig, views: Mapping[str, ViewConfig] | None = None
    ) -> None:
        self.cfg = cfg
        self.split = split
        self.root = Path(cfg.path)
        self.views = dict(views or {})
        self.long = LongDocuments(cfg.max_document_bytes)  # by file: a long line's group is unknown

    def skipped_long_documents(self, group: str) -> int:
        """How many lines of the group's file were skipped so far as longer than
        ``data.source.max_document_bytes`` (their group is unknown: they were not parsed)."""
        return self.long.count(self._file(group))

    def _file(self, group: str) -> Path:
        group = self.views[group].of if group in self.views else group
        return self.root / self.cfg.file_pattern.format(group=group)

    def input_files(self, group: str) -> list[Path]:
        return [self._file(group)]

    def _existing_file(self, group: str) -> Path:
        path = self._file(group)
        if not path.is_file():
            available = sorted(p.name for p in self.root.glob("*.jsonl*")) if self.root.is_dir() else []
            raise DataError(
                f"group '{group}': corpus file {path} does not exist (data.source.path='{self.cfg.path}', "
                f"file_pattern='{self.cfg.file_pattern}'); files there: {available or 'none'}. Point "
                "data.source.path at the corpus directory, or drop the group from the settings"
            )
        return path

    def _group_lines(self, path: Path, group: str) -> Iterator[tuple[int, dict]]:
        """(line number, record) of each record of ``group`` (a view: of its parent, kept by its filter) in
        ``path``; every line read is parsed."""
        view = self.views.get(group)
        parent = view.of if view is not None else group
        for lineno, line in _lines(path, self.cfg.max_document_bytes):
            if line is None:
                self.long.skip(path, lineno, f"{path}:{lineno}", "a line", " or split the document")
                continue
            record = _parse_record(path, lineno, line)
            if record is None or record.get(self.cfg.group_field, parent) != parent:
                continue
            if view is None or view.keeps(record):
                yield lineno, record

    def check_partition(self, parent: str, parts: Sequence[str]) -> None:
        """Every document of ``parent`` must fall in exactly one of ``parts``: a :class:`DataError` counts
        the documents left out and those in several parts, with examples of their filtered field."""
        path = self._existing_file(parent)
        missed, doubled = Counter(), Counter()
        for _, record in self._group_lines(path, parent):
            hits = [p for p in parts if self.views[p].keeps(record)]
            fields = {self.views[p].field for p in parts} - {None}
            key = (
                " ".join(str(record.get(f, ""))[:60] for f in sorted(fields))
                or f"{len(record['text'])} chars"
            )
            if not hits:
                missed[key] += 1
            elif len(hits) > 1:
                doubled[f"{key} -> {hits}"] += 1
        if missed or doubled:
            raise DataError(
                f"data.partitions.{parent}: {sum(missed.values())} document(s) in no part "
                f"(e.g. {[k for k, _ in missed.most_common(3)]}) and {sum(doubled.values())} in several "
                f"(e.g. {[k for k, _ in doubled.most_common(3)]}); the parts {list(parts)} must cover "
                f"'{parent}' exactly once: widen or narrow their filters"
            )

    def _records(self, group: str) -> Iterator[dict]:
        """The group's records, in file order, each checked for a string ``text``; at most
        ``max_docs_per_group`` of them (no line after the last one taken is read)."""
        path = self._existing_file(group)
        records = self._group_lines(path, group)
        for lineno, record in itertools.islice(records, self.cfg.max_docs_per_group):
            if not isinstance(record.get("text"), str):
                raise DataError(
                    f'{path}:{lineno}: record has no string field "text" (fields: {sorted(record)}); every '
                    "record needs its document there: fix or remove the line"
                )
            yield record

    def _doc_id(self, record: dict) -> str:
        field = self.cfg.id_field
        if field and record.get(field) is not None:
            return str(record[field])
        return hashlib.sha1(record["text"].encode()).hexdigest()

    def iter_split(self, group: str, split: str) -> Iterator[Document]:
        for record in self._records(group):
            doc = Document(self._doc_id(record), record["text"])
            if split_of(doc.id, self.split) == split:
                yield doc

    def check_group(self, group: str) -> None:
        """The group's file must exist and hold documents of the group. A file of up to
        :data:`SCAN_LIMIT_BYTES` is read whole: every line must be a UTF-8 JSON object, every record of the
        group needs a string ``text``, and each split must get at least one document."""
        path = self._existing_file(group)
        if path.stat().st_size <= SCAN_LIMIT_BYTES:
            counts = Counter(split_of(self._doc_id(r), self.split) for r in self._records(group))
            self._check_counts(group, path, counts)
        elif next(self._records(group), None) is None:
            self._check_counts(group, path, Counter())

    def _check_counts(self, group: str, path: Path, counts: Counter) -> None:
        """A :class:`DataError` naming the group and the fix when it, or one of its splits, is empty."""
        if not counts:
            raise DataError(
                f"group '{group}' has no documents in {path}: no record there has "
                f"data.source.group_field '{self.cfg.group_field}' equal to '{group}' (records without the "
                "field belong to every group); fix the records' field, data.source.group_field, or drop the "
                "group from the settings"
            )
        n = sum(counts.values())
        for split in ("train", "val", "test"):
            if not counts[split]:
                raise DataError(
                    f"group '{group}': none of its {n} document(s) in {path} falls in the {split} split (a "
                    f"hash of each document's id with data.split.salt '{self.split.salt}' decides); "
                    + self._empty_split_fix(split, n)
                )

    def _empty_split_fix(self, split: str, n: int) -> str:
        """What to change when none of a group's ``n`` documents falls in ``split``."""
        if split == "train":
            fix = "lower data.split.val_fraction and data.split.test_fraction"
        else:
            frac = getattr(self.split, f"{split}_fraction")
            fix = (
                f"add documents (a {split} fraction of {frac:g} needs ~{math.ceil(1 / frac)} on average) or "
                f"raise data.split.{split}_fraction"
            )
        if n == self.cfg.max_docs_per_group:
            fix = f"raise data.source.max_docs_per_group ({n}), {fix}"
        return fix


def make_source(cfg: DataConfig) -> Source:
    """The source named by ``data.source.kind``."""
    if cfg.source.kind == "jsonl":
        return JsonlSource(cfg.source, cfg.split, cfg.views)
    if cfg.source.kind == "slimpajama":
        from pipeline_lib.data.slimpajama import SlimPajamaSource  # imports `datasets` only when used

        return SlimPajamaSource(cfg.source)
    raise DataError(f"data.source.kind '{cfg.source.kind}' is not supported; use 'jsonl' or 'slimpajama'")
