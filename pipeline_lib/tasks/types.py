"""What a downstream task is: requests (a context and its gold continuation, optionally scored choices),
grouped into a named task of one family and one split, and named sets of tasks."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline_lib.data.documents import DataError

SPLITS = ("val", "test")
ACC_NORMS = ("none", "char", "token", "byte")
"""How RC accuracy normalises a choice's log-likelihood: ``none`` (the sum: olmo_eval's ``acc``), ``char``
(per character: olmo_eval's ``len_norm``, oe-eval's ``acc_per_char``), ``token`` (oe-eval's
``acc_per_token``) or ``byte`` (oe-eval's ``acc_per_byte``)."""


class TaskError(DataError):
    """A bad task name, task set or request file; the message names the file (and line) and the fix."""


@dataclass(frozen=True)
class Request:
    """One scored instance. ``continuation`` is the gold answer whose bits per byte are measured given
    ``context``. With ``choices``, the request is also a multiple-choice item (RC accuracy): ``gold`` indexes
    the choice equal to ``continuation``, and each choice follows ``choice_contexts[i]`` when given (the
    partial scoring of Winogrande: one continuation after different contexts), else ``context``."""

    context: str
    continuation: str
    choices: tuple[str, ...] = ()
    gold: int | None = None
    choice_contexts: tuple[str, ...] = ()
    doc_id: int | None = None

    def choice_context(self, i: int) -> str:
        return self.choice_contexts[i] if self.choice_contexts else self.context

    def problem(self) -> str | None:
        """What is wrong with this request (for an error message), or None."""
        for key in ("context", "continuation"):
            if not isinstance(getattr(self, key), str):
                return f"'{key}' must be a string"
        if not self.continuation:
            return "'continuation' is empty: there is nothing to score"
        if not self.choices:
            if self.gold is not None or self.choice_contexts:
                return "'gold' and 'choice_contexts' need 'choices'"
            return None
        if not all(isinstance(c, str) and c for c in self.choices):
            return "'choices' must be non-empty strings"
        if (
            not isinstance(self.gold, int)
            or isinstance(self.gold, bool)
            or not 0 <= self.gold < len(self.choices)
        ):
            return f"'gold' must be an index into the {len(self.choices)} choices, got {self.gold!r}"
        if self.choices[self.gold] != self.continuation:
            return "'continuation' must equal choices[gold] (the gold choice)"
        if self.choice_contexts and (
            len(self.choice_contexts) != len(self.choices)
            or not all(isinstance(c, str) for c in self.choice_contexts)
        ):
            return "'choice_contexts' must hold one context string per choice"
        if self.choice_contexts and self.choice_contexts[self.gold] != self.context:
            return "'context' must equal choice_contexts[gold] (the gold choice's context)"
        return None


@dataclass(frozen=True)
class Task:
    """A task's requests for one split.

    ``family`` is Olmix's task family (``math``, ``code``, ``qa``: its ``aggregate_task_families`` and
    ``obj_weights`` group by it); ``category`` is finer (``commonsense``, ``knowledge``, ...).
    ``acc_norm`` is the RC accuracy normalisation (:data:`ACC_NORMS`), None for a gold-only task.
    ``shared_split`` is True when the suite has one variant only, so ``val`` and ``test`` hold the same
    requests (unless the loader was asked for disjoint halves). ``source`` says where the requests came
    from (a file, or a wheel and its member)."""

    name: str
    family: str
    split: str
    requests: tuple[Request, ...]
    source: str
    acc_norm: str | None = None
    category: str = ""
    shared_split: bool = False

    @property
    def has_choices(self) -> bool:
        return any(r.choices for r in self.requests)


@dataclass(frozen=True)
class Column:
    """One metric of a task set: the macro-average BPB of ``tasks`` (one task, or a suite such as
    ``basic_skills``), in ``split`` when fixed by the set (Olmix's in-loop list fixes ARC and MMLU), else in
    the split the caller asks for."""

    name: str
    tasks: tuple[str, ...]
    family: str
    split: str | None = None


@dataclass(frozen=True)
class TaskSet:
    name: str
    description: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

    def resolve(self, split: str) -> list[tuple[str, str]]:
        """The distinct (task, split) pairs to score for the caller's ``split``, in column order."""
        if split not in SPLITS:
            raise TaskError(f"split '{split}' is unknown; use one of {', '.join(SPLITS)}")
        seen: dict[tuple[str, str], None] = {}
        for col in self.columns:
            for task in col.tasks:
                seen.setdefault((task, col.split or split), None)
        return list(seen)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for col in self.columns for t in col.tasks))
