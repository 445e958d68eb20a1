"""Names that become paths, wildcards and command-line words: settings, groups (and views), tasks and
methods match one pattern, checked when the configuration loads, so none can leave its folder or reach a
shell as anything but a word. The results directory is resolved and checked the same way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline_lib.config.types import Project

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A name: a letter or digit, then up to 63 letters, digits, ``_``, ``.`` or ``-`` (no ``/``, no space)."""
RULE = "start with a letter or digit and use only letters, digits, '_', '.', '-' (at most 64 characters)"


def bad_name(name: object) -> bool:
    return not isinstance(name, str) or NAME.fullmatch(name) is None


def name_problems(project: Project) -> list[str]:
    """Every setting, group, view and task name that breaks the pattern, with where it is defined."""
    found: dict[str, str] = {}
    for s in project.settings.values():
        if not s.view:
            found.setdefault(s.name, f"settings.{s.name}")
    for group in project.tokenizer_groups:
        found.setdefault(group, "a group (settings.<s>.groups, data.tokenizer.groups or a method's tasks)")
    for view in project.data.views if project.data else ():
        found.setdefault(view, f"data.views.{view}")
    return [f"{where}: name {name!r} is not allowed; names must {RULE}" for name, where in found.items()
            if bad_name(name)]  # fmt: skip


SHELL_CHARACTERS = "$`"
"""Characters of a results_dir that a shell would have expanded: a config file's value is never expanded."""


def results_dir_problems(results: str, workdir: Path) -> list[str]:
    """A results directory must not hold ``$`` or a backtick (a shell's expansion the YAML never gets), nor
    be a file, the working directory or one of its parents (outputs and cleaning would mix with the
    workflow's own files)."""
    if shell := sorted(set(results) & set(SHELL_CHARACTERS)):
        return [
            f"results_dir: '{results}' holds {' '.join(shell)}: an unexpanded shell variable or command? It "
            "would be taken literally; write the path out (e.g. on the command line, --config "
            'results_dir="$SCRATCH/results" lets the shell expand it)'
        ]
    path = (workdir / results).resolve()
    if path.exists() and not path.is_dir():
        return [f"results_dir: '{results}' ({path}) is a file; give a directory"]
    if path == workdir.resolve() or path in workdir.resolve().parents:
        return [
            f"results_dir: '{results}' resolves to {path}, the working directory or one of its parents; "
            "give a directory of its own (e.g. results)"
        ]
    return []
