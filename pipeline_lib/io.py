"""Atomic file output: a killed job never leaves a file that looks finished.

Every output gets the mode a plain ``open(path, "w")`` gives (0666 less the umask: 0644 under umask 022), so
group members on a shared cluster can read results; ``tempfile.mkstemp`` would leave them 0600.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_NEW_FILE_MODE = 0o666  # less the umask, applied by the kernel (and any default ACL of the directory)


def _new_temp_file(path: Path, attempts: int = 100) -> Path:
    """Create an empty, uniquely named file next to ``path`` (``.<name>.<random>.tmp``) with the mode an
    ordinary new file gets; ``O_EXCL`` makes the name ours alone, as ``mkstemp`` does."""
    for _ in range(attempts):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _NEW_FILE_MODE))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name next to {path} after {attempts} attempts")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only if the block succeeds. The file
    ends with the process umask's mode for a new file (0644 under umask 022)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_temp_file(path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` only when the block exits cleanly."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON with sorted keys, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, allow_nan=False)
        fh.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_csv(path: str | os.PathLike, frame: Any, float_format: str | None = "%.6g") -> None:
    """Write a pandas DataFrame as CSV, atomically; ``float_format`` None writes each float in full (its
    shortest repr, which reads back bit for bit)."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False, float_format=float_format)


def write_rows_csv(path: str | os.PathLike, rows: list[dict[str, Any]], float_format: str = "%.6g") -> None:
    """Write rows of one shape (the same keys, in order) as CSV, atomically, byte for byte as
    :func:`write_csv` writes their DataFrame: floats by ``float_format``, NaN empty. Pandas-free, so the
    training entry point does not import pandas."""
    if not rows:
        raise ValueError(f"{path}: no rows to write")
    header = list(rows[0])
    if any(list(row) != header for row in rows):
        raise ValueError(f"{path}: rows differ in their keys (expected {header})")

    def cell(value: Any) -> Any:
        if isinstance(value, float):
            return "" if math.isnan(value) else float_format % value
        return value

    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([cell(v) for v in row.values()] for row in rows)


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short sha256 of the canonical JSON form of ``obj`` (config hashes, cache keys)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
