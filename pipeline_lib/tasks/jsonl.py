"""Request files: one JSON object per line, plain or gzipped, as shipped in ``data/tasks`` and as a user
gives their own task::

    {"context": "Question: 2 + 2 =\\nAnswer:", "continuation": " 4"}
    {"context": "...", "continuation": " red", "choices": [" blue", " red"], "gold": 1}

Keys: ``context`` and ``continuation`` (the gold answer) are required; ``choices`` with ``gold`` (the index
of the choice equal to ``continuation``) make the request multiple-choice; ``choice_contexts`` (one context
per choice, the gold one equal to ``context``) is for tasks scored after different contexts (Winogrande);
``doc_id`` (an integer) and ``meta`` (anything) are kept for provenance. Any other key is an error, so a
misspelt ``choices`` does not silently make a task gold-only."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from pipeline_lib.tasks.types import ACC_NORMS, Request, Task, TaskError

KEYS = ("context", "continuation", "choices", "gold", "choice_contexts", "doc_id", "meta")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line; an unreadable file or bad UTF-8 is a :class:`TaskError`."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise TaskError(f"{path}: no such request file") from None
    except (OSError, EOFError, zlib.error) as err:
        raise TaskError(
            f"{path}: cannot be read ({type(err).__name__}: {err}); copy or rebuild the file"
        ) from None
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        try:
            yield lineno, line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise TaskError(
                f"{path}:{lineno}: not valid UTF-8 ({err.reason}); save the file as UTF-8"
            ) from None


def parse_request(record: object) -> Request:
    """A :class:`Request` from one decoded JSON line; a bad record is a ``ValueError`` saying what is
    wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"a request must be a JSON object, got {type(record).__name__}")
    extra = sorted(set(record) - set(KEYS))
    if extra:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, extra))}; allowed: {', '.join(KEYS)}")
    missing = [k for k in ("context", "continuation") if k not in record]
    if missing:
        raise ValueError(f"missing {' and '.join(map(repr, missing))}")
    for key in ("choices", "choice_contexts"):
        if not isinstance(record.get(key, []), list):
            raise ValueError(f"'{key}' must be a list of strings")
    doc_id = record.get("doc_id")
    if doc_id is not None and (not isinstance(doc_id, int) or isinstance(doc_id, bool)):
        raise ValueError(f"'doc_id' must be an integer, got {doc_id!r}")
    request = Request(
        context=record["context"],
        continuation=record["continuation"],
        choices=tuple(record.get("choices", ())),
        gold=record.get("gold"),
        choice_contexts=tuple(record.get("choice_contexts", ())),
        doc_id=doc_id,
    )
    problem = request.problem()
    if problem:
        raise ValueError(problem)
    return request


def read_requests(path: str | Path) -> list[Request]:
    """Every request of a request file; a malformed line is a :class:`TaskError` naming the file and line."""
    path = Path(path)
    requests = []
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise TaskError(
                f"{path}:{lineno}: not valid JSON ({err.msg} at column {err.colno}); each line "
                "must be one JSON object: fix or remove the line"
            ) from None
        try:
            requests.append(parse_request(record))
        except ValueError as err:
            raise TaskError(f"{path}:{lineno}: {err}; fix or remove the line") from None
    if not requests:
        raise TaskError(f"{path}: holds no requests; a task needs at least one")
    return requests


def request_record(request: Request) -> dict:
    """The JSON object of a request (keys in a fixed order; empty optional fields left out)."""
    record: dict = {"context": request.context, "continuation": request.continuation}
    if request.choices:
        record["choices"] = list(request.choices)
        record["gold"] = request.gold
    if request.choice_contexts:
        record["choice_contexts"] = list(request.choice_contexts)
    if request.doc_id is not None:
        record["doc_id"] = request.doc_id
    return record


def write_requests(path: str | Path, requests: Sequence[Request]) -> bytes:
    """Write a request file (gzipped when the name ends in ``.gz``, with no timestamp, so the same requests
    give the same bytes); return the bytes written."""
    text = "".join(json.dumps(request_record(r), ensure_ascii=False) + "\n" for r in requests).encode("utf-8")
    if str(path).endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            gz.write(text)
        text = buf.getvalue()
    Path(path).write_bytes(text)
    return text


def load_jsonl_task(
    path: str | Path,
    name: str | None = None,
    family: str = "custom",
    split: str = "val",
    acc_norm: str = "char",
) -> Task:
    """A user's task from a request file. ``name`` defaults to the file name without ``.jsonl(.gz)``;
    ``acc_norm`` applies when the requests have choices (:data:`~pipeline_lib.tasks.types.ACC_NORMS`)."""
    path = Path(path)
    if acc_norm not in ACC_NORMS:
        raise TaskError(f"acc_norm '{acc_norm}' is unknown; use one of {', '.join(ACC_NORMS)}")
    requests = read_requests(path)
    with_choices = sum(bool(r.choices) for r in requests)
    if 0 < with_choices < len(requests):
        raise TaskError(
            f"{path}: {with_choices} of {len(requests)} requests have choices; a task's requests "
            "must all have choices (RC accuracy) or none (gold BPB only)"
        )
    stem = path.name.removesuffix(".gz").removesuffix(".jsonl")
    return Task(name or stem, family, split, tuple(requests), str(path), acc_norm if with_choices else None)
