"""One corpus per results directory: ``<results_dir>/data/data.json`` records which data its tokenizer and
packed groups were built from (the corpus source and the group list, hashed), and which config files said so.

The Snakefile checks it when it loads (a dry run included) and writes it when jobs are about to run (its
``onstart``, under the results directory's lock). A config whose data differ from the recorded ones is
refused, naming both configs and the fix, before it could overwrite another config's tokenizer and data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline_lib.config.types import SourceConfig
from pipeline_lib.io import read_json, stable_hash, write_json

DATA_FILE = "data.json"


class DataMismatch(RuntimeError):
    """The results directory holds another corpus's data; the message names both configs and the fix."""


def _portable(path: str, cwd: Path) -> str:
    """A corpus path as recorded: relative to the working directory when under it (so a moved checkout,
    or the same folder given absolute and relative, records the same data)."""
    if not os.path.isabs(path):
        return os.path.normpath(path)
    try:
        return str(Path(path).resolve().relative_to(cwd.resolve()))
    except ValueError:
        return os.path.normpath(path)


def data_identity(source: SourceConfig, groups: Sequence[str], cwd: Path | None = None) -> dict[str, Any]:
    """The corpus source (every field, its path made portable) and the groups, with their hash."""
    src = {k: v for k, v in source.as_dict().items() if k != "cache_dir"}  # where, not what
    if isinstance(src.get("path"), str):
        src["path"] = _portable(src["path"], cwd or Path.cwd())
    identity = {"source": src, "groups": list(groups)}
    return {"hash": stable_hash(identity), **identity}


def _describe(record: dict[str, Any]) -> str:
    src = record.get("source") or {}
    where = src.get("path") or src.get("name") or src.get("kind")
    configs = " ".join(record.get("configs") or ["?"])
    return f"{configs} (source {src.get('kind')} {where}, groups {', '.join(record.get('groups') or [])})"


def check_data_identity(results_dir: str | os.PathLike, identity: dict[str, Any], configs: list[str]) -> None:
    """Raise :class:`DataMismatch` when ``results_dir`` records other data than ``identity``; nothing when it
    records the same or nothing yet."""
    path = Path(results_dir) / "data" / DATA_FILE
    if not path.is_file():
        return
    recorded = read_json(path)
    if recorded.get("hash") == identity["hash"]:
        return
    ours = {**identity, "configs": configs}
    raise DataMismatch(
        f"results_dir {results_dir} holds the data of another configuration ({path}):\n"
        f"  recorded: {_describe(recorded)}\n"
        f"  this run: {_describe(ours)}\n"
        "Two configurations with different data cannot share a results_dir (the tokenizer and packed data "
        "of one would replace the other's): give this config its own results_dir (e.g. "
        f"results_dir: {Path(results_dir).parent / 'results-mine'}), or delete {path} to rebuild this "
        "results_dir's data from this config."
    )


def write_data_identity(results_dir: str | os.PathLike, identity: dict[str, Any], configs: list[str]) -> Path:
    """Record ``identity`` (and the config files naming it) in ``results_dir``; its path."""
    path = Path(results_dir) / "data" / DATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {**identity, "configs": configs})
    return path
