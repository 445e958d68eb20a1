"""One workflow at a time per results directory: the lock file's holder is named to the second one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_lib.results_lock import LOCK_FILE, ResultsDirLocked, lock_results_dir

REPO = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys\nfrom pipeline_lib.results_lock import lock_results_dir\n"
    "lock_results_dir(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
)


def hold_lock(results: Path, cwd: Path) -> subprocess.Popen:
    """Another process (its own working directory) that takes the lock and holds it until its stdin closes."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", HOLD, str(results)]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


def release(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    results, elsewhere = tmp_path / "results", tmp_path / "other"
    elsewhere.mkdir()
    holder = hold_lock(results, elsewhere)
    try:
        with pytest.raises(ResultsDirLocked) as err:
            lock_results_dir(results)
        recorded = json.loads((results / LOCK_FILE).read_text())
        assert recorded["pid"] == holder.pid and recorded["cwd"] == str(elsewhere)
        assert str(err.value).startswith(
            f"results_dir {results} is in use by another workflow: {results / LOCK_FILE} is held by pid "
            f"{holder.pid} on host {socket.gethostname()}, working directory {elsewhere}, since "
        )
        assert "wait for it to finish (or stop it), or give this workflow another results_dir" in str(
            err.value
        )
    finally:
        release(holder)
    second = hold_lock(results, tmp_path)  # released with its holder: nothing to delete
    release(second)


def test_the_lock_is_held_once_per_process(tmp_path):
    """Taking it again in the same process (the Snakefile parsed twice) is not a conflict."""
    code = (
        "import sys\nfrom pipeline_lib.results_lock import lock_results_dir\n"
        "a = lock_results_dir(sys.argv[1]); b = lock_results_dir(sys.argv[1]); assert a == b"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], env=env, check=True)
