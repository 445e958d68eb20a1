"""The tokenised task set of a workflow, cached once per results directory (the ``task_rows`` data rule).

Every training job that scores the downstream tasks used to read the request files and tokenise them again;
the ``task_rows`` rule now does it once per split, into ``<results>/data/tasks/<set>/<split>/``, and the
jobs read that (:func:`read_encoded`), packing rows for their model's window (cheap). Plain files, no
pickle:

- ``tokens.npy``: int32, every item's context ids (the ``bos`` token included) then its continuation ids,
  item after item;
- ``items.npy``: int64 ``(items, 8)``: task index, request, choice, gold, continuation bytes, characters,
  context length, continuation length;
- ``tasks.json`` (written last: the rule's marker): the format, the key (the ``tasks:`` block, the split, the
  ``bos`` token, the tokenizer's sha256) and each task's name, family, split, source, RC normalisation,
  requests and whether its choices are scored.

A job checks the key against its own request and its tokenizer file, so a stale cache stops it with the fix.
Run by the rule::

    python -m pipeline_lib.tasks.cache --downstream '<json>' --out-dir results/data/tasks/shipped/test
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_lib.config.tasks import TasksConfig
from pipeline_lib.io import atomic_path, file_sha256, read_json, write_json
from pipeline_lib.logs import setup_logging
from pipeline_lib.tasks.batching import EncodedTask, encode_task
from pipeline_lib.tasks.types import TaskError

log = logging.getLogger(__name__)

FORMAT = 1
_COLUMNS = ("task", "request", "choice", "gold", "bytes", "chars", "context", "continuation")


@dataclass(frozen=True)
class Downstream:
    """What a job scores (``--downstream``'s JSON): the task set (the ``tasks:`` block), the split, the run's
    tokenizer, the token put before every context (the end-of-text token when documents end with it), and
    the cache of the tokenised set (None: tokenise in the job)."""

    tasks: TasksConfig
    split: str
    tokenizer: str
    bos: str | None
    cache: str | None = None

    @classmethod
    def from_json(cls, text: str) -> Downstream:
        raw = json.loads(text)
        return cls(
            TasksConfig.from_dict(raw["tasks"]),
            raw["split"],
            raw["tokenizer"],
            raw.get("bos"),
            raw.get("cache"),
        )

    def key(self) -> dict[str, Any]:
        """What the tokenised set depends on (the tokenizer by its file's sha256)."""
        return {
            "tasks": self.tasks.to_dict(),
            "split": self.split,
            "bos": self.bos,
            "tokenizer_sha256": file_sha256(self.tokenizer),
        }


def encode_tasks(job: Downstream) -> list[EncodedTask]:
    """Read the task set's request files for ``job.split`` and tokenise them (the slow part)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(job.tokenizer)
    bos_id = None
    if job.bos is not None:
        bos_id = tokenizer.token_to_id(job.bos)
        if bos_id is None:
            raise ValueError(f"{job.tokenizer}: has no token {job.bos!r} to put before each task context")
    return [encode_task(t, tokenizer, bos_id, job.tasks.choices) for t in job.tasks.load(job.split)]


def write_encoded(out_dir: str | Path, tasks: Sequence[EncodedTask], key: dict[str, Any]) -> None:
    """The cache files of ``tasks`` in ``out_dir`` (each written atomically, ``tasks.json`` last)."""
    out = Path(out_dir)
    rows, pieces = [], []
    for t_index, task in enumerate(tasks):
        for i, (ctx, cont) in enumerate(zip(task.contexts, task.continuations, strict=True)):
            rows.append((t_index, task.item_request[i], task.item_choice[i], task.item_gold[i],
                         task.item_bytes[i], task.item_chars[i], len(ctx), len(cont)))  # fmt: skip
            pieces += [ctx, cont]
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    if tokens.size and tokens.max() > np.iinfo(np.int32).max:
        raise ValueError("a token id does not fit int32")
    for name, array in (("tokens.npy", tokens.astype(np.int32)), ("items.npy", np.asarray(rows, np.int64))):
        with atomic_path(out / name) as tmp, open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
    meta = [
        {"name": t.task, "family": t.family, "split": t.split, "source": t.source, "acc_norm": t.acc_norm,
         "n_requests": t.n_requests, "with_choices": t.with_choices}
        for t in tasks
    ]  # fmt: skip
    write_json(out / "tasks.json", {"format": FORMAT, "key": key, "columns": list(_COLUMNS), "tasks": meta})


def read_encoded(cache_dir: str | Path, key: dict[str, Any] | None = None) -> list[EncodedTask]:
    """The cached tasks of ``cache_dir``; with ``key``, a cache built for another request (another task set,
    split, bos token or tokenizer) stops with the fix."""
    where = Path(cache_dir)
    meta = read_json(where / "tasks.json")
    if meta.get("format") != FORMAT or meta.get("columns") != list(_COLUMNS):
        raise TaskError(f"{where}/tasks.json: format {meta.get('format')!r}, not {FORMAT}; delete {where}")
    if key is not None and meta["key"] != key:
        differ = sorted(k for k in key if meta["key"].get(k) != key[k])
        raise TaskError(
            f"{where}: tokenised for another {', '.join(differ)} than this job's; delete {where} and rerun "
            "(the task_rows rule rebuilds it)"
        )
    tokens = np.load(where / "tokens.npy", allow_pickle=False).astype(np.int64)
    items = np.load(where / "items.npy", allow_pickle=False).reshape(-1, len(_COLUMNS))
    ends = np.cumsum(items[:, 6] + items[:, 7])
    if (ends[-1] if len(ends) else 0) != len(tokens):
        raise TaskError(f"{where}: items.npy covers {ends[-1] if len(ends) else 0} tokens, tokens.npy has "
                        f"{len(tokens)}; delete {where} and rerun")  # fmt: skip
    starts = ends - items[:, 6] - items[:, 7]
    out = []
    for t_index, task in enumerate(meta["tasks"]):
        sel = np.flatnonzero(items[:, 0] == t_index)
        part = items[sel]
        out.append(EncodedTask(
            task=task["name"], family=task["family"], split=task["split"], source=task["source"],
            contexts=tuple(tokens[s : s + c] for s, c in zip(starts[sel], part[:, 6], strict=True)),
            continuations=tuple(tokens[s + c : s + c + n] for s, c, n in zip(starts[sel], *part[:, 6:8].T,
                                                                            strict=True)),
            item_request=part[:, 1].copy(), item_choice=part[:, 2].copy(), item_gold=part[:, 3].astype(bool),
            item_bytes=part[:, 4].copy(), item_chars=part[:, 5].copy(), n_requests=int(task["n_requests"]),
            acc_norm=task["acc_norm"], with_choices=bool(task["with_choices"]),
        ))  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--downstream", required=True, help="the training jobs' --downstream JSON (cache unset)")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    job = Downstream.from_json(args.downstream)
    try:
        encoded = encode_tasks(job)
    except TaskError as err:
        raise SystemExit(f"TaskError: {err}") from None
    write_encoded(args.out_dir, encoded, job.key())
    items = sum(len(t.contexts) for t in encoded)
    log.info(
        "%d tasks (%s), %d scored items, tokenised into %s", len(encoded), job.split, items, args.out_dir
    )


if __name__ == "__main__":
    main()
