"""A training process killed with SIGKILL at a random moment, then rerun: the rerun continues from its last
checkpoint and writes the run.json of an uninterrupted run (every number but timings)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.unit.test_checkpoint import CASES, _write_groups
from tests.unit.test_trainer import _spec

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _command(spec, data: Path, out: Path, module: str = "pipeline_lib.train.run") -> list[str]:
    return [
        sys.executable, "-m", module, "--spec", json.dumps(spec.to_dict()),
        "--data-dir", str(data), "--out-dir", str(out), "--threads", "1",
    ]  # fmt: skip


def _two_ranks(spec, data: Path, out: Path) -> list[str]:
    """The run over two ranks, started as the workflow starts it (pipeline_lib/train/ranks.py)."""
    return [*_command(spec, data, out, "pipeline_lib.train.ranks"), "--ranks", "2"]


def _run(spec, data: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(_command(spec, data, out), check=True, capture_output=True, env=env, cwd=REPO)
    return json.loads((out / "run.json").read_text())


def _without_timings(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "compute"}


def test_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path):
    data = _write_groups(tmp_path / "data")
    params = CASES["aioli"][0]
    spec = _spec("aioli", steps=300, **params)
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, checkpoint_every=7))
    straight = _run(spec, data, tmp_path / "straight")

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(_command(spec, data, out), env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(float(np.random.default_rng().uniform(0.0, 0.5)))  # a random moment after a checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "run.json").exists()  # nothing that looks finished
    step = int(json.loads((out / "progress.jsonl").read_text().splitlines()[-1])["step"])
    resumed = _run(spec, data, out)
    assert _without_timings(resumed) == _without_timings(straight), f"killed near step {step}"
    for name in ("curve.csv", "mixture.csv"):
        assert (out / name).read_text() == (tmp_path / "straight" / name).read_text()
    assert not (out / "checkpoint.pt").exists()


def _alive(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (the run's output directory)."""
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_a_killed_data_parallel_run_leaves_no_rank_and_resumes(tmp_path):
    """SIGKILL to the launcher of a two-rank run (what a scheduler's kill does) takes torchrun and both
    ranks with it; the rerun continues from rank 0's checkpoint and ends as an uninterrupted two-rank run."""
    data = _write_groups(tmp_path / "data")
    spec = _spec("aioli", steps=100, **CASES["aioli"][0])
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, checkpoint_every=7))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    straight = tmp_path / "straight"
    subprocess.run(_two_ranks(spec, data, straight), check=True, capture_output=True, env=env, cwd=REPO)

    out = tmp_path / "killed"
    proc = subprocess.Popen(_two_ranks(spec, data, out), env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert len(_alive(str(out))) >= 3, "the launcher, torchrun and two ranks should be running"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while _alive(str(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(str(out)), "ranks outlived their killed launcher"
    assert not (out / "run.json").exists()
    subprocess.run(_two_ranks(spec, data, out), check=True, capture_output=True, env=env, cwd=REPO)
    resumed = json.loads((out / "run.json").read_text())
    assert resumed["start_step"] == 0  # one job: the checkpoint continues it, not a new start state
    assert _without_timings(resumed) == _without_timings(json.loads((straight / "run.json").read_text()))
    assert (out / "curve.csv").read_text() == (straight / "curve.csv").read_text()
