"""One workflow at a time per results directory: an exclusive ``flock`` on ``<results_dir>/.mixpipe.lock``.

The Snakefile takes it when the workflow starts running jobs (its ``onstart``: not for a dry run,
``--list``, ``--report``, nor in the jobs Snakemake spawns, which run with ``--no-hooks``) and holds it for
the life of the Snakemake process: the kernel releases it when the process ends, however it ends, so a lock
file left behind blocks nothing. The file records its holder (pid, host, working directory, start time) for
the message a second workflow gets. Snakemake's own lock (``.snakemake/locks``) is per working directory:
two working directories with one ``results_dir`` would otherwise write the same files at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO

LOCK_FILE = ".mixpipe.lock"

_held: dict[Path, IO[str]] = {}
"""The lock files this process holds, kept open (closing one would release its lock)."""


class ResultsDirLocked(RuntimeError):
    """Another process holds the results directory's lock; the message names it and what to do."""


def lock_results_dir(results_dir: str | os.PathLike) -> Path:
    """Take the lock of ``results_dir`` (created if missing) for the rest of this process's life, or raise
    :class:`ResultsDirLocked` naming its holder; the lock file's path. Taking it again is a no-op."""
    path = Path(results_dir).resolve() / LOCK_FILE
    if path in _held:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # not "w": the holder's record stays until the lock is ours; kept open past this function (no `with`)
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read()
        fh.close()
        raise ResultsDirLocked(_locked_message(Path(results_dir), path, holder)) from None
    except BaseException:
        fh.close()
        raise
    fh.seek(0)
    fh.truncate()
    since = time.strftime("%Y-%m-%d %H:%M:%S %z")
    record = {"pid": os.getpid(), "host": socket.gethostname(), "cwd": os.getcwd(), "since": since}
    fh.write(json.dumps(record) + "\n")
    fh.flush()
    _held[path] = fh
    return path


def _locked_message(results_dir: Path, path: Path, holder: str) -> str:
    try:
        h = json.loads(holder)
        who = f"pid {h['pid']} on host {h['host']}, working directory {h['cwd']}, since {h['since']}"
    except (ValueError, TypeError, KeyError):
        who = "a process that has not recorded itself yet (it is starting)"
    return (
        f"results_dir {results_dir} is in use by another workflow: {path} is held by {who}. Two workflows "
        "writing one results directory would overwrite each other's files: wait for it to finish (or stop "
        "it), or give this workflow another results_dir. The lock goes with its process, however that ends: "
        "there is nothing to delete"
    )
