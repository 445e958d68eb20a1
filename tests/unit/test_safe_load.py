"""State files load without unpickling: a planted payload never runs, a damaged checkpoint never blocks a job,
and what is saved comes back bit for bit."""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from pipeline_lib.methods import RunInputs, make_policy
from pipeline_lib.records import RunRecord
from pipeline_lib.state_file import (
    STATE_FORMAT,
    TAG,
    UnreadableStateError,
    from_safe,
    open_state_file,
    read_state,
    to_safe,
    write_state_file,
)
from pipeline_lib.train.checkpoint import Checkpointer
from pipeline_lib.train.run import train_run
from pipeline_lib.train.trainer import Trainer
from tests.reliability.test_kill_resume import REPO
from tests.unit.test_checkpoint import CASES, GROUPS, _write_groups, killed_run
from tests.unit.test_trainer import _groups, _spec


class Payload:
    """Unpickling this creates ``marker``: the stand-in for code planted in a results folder."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(path, state: dict, field: str, marker) -> None:
    """Write ``state`` to ``path`` with ``field`` replaced by a payload, format and key left valid."""
    torch.save({**state, field: Payload(marker)}, path)


def _assert_live(path, marker) -> None:
    """The planted file does run code when unpickled (so the refusal is what kept the marker away)."""
    assert not marker.exists()
    torch.load(path, weights_only=False)
    assert marker.exists()


def _same(a, b, where: str = "state") -> None:
    """``a`` and ``b`` are equal in type, structure and every bit (NaN, -0.0, dtypes, generator states)."""
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        assert getattr(a, "_metadata", None) == getattr(b, "_metadata", None), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    elif isinstance(a, torch.Tensor):
        bits = [t.detach().reshape(-1).view(torch.uint8) for t in (a, b)]
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(*bits), where
    elif isinstance(a, np.random.Generator):
        _same(a.bit_generator.state, b.bit_generator.state, where)
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), where
    else:
        assert a == b, where


# -- exact round trip -------------------------------------------------------------------------------------
def test_every_kind_of_value_round_trips_bit_for_bit(tmp_path):
    drawn = np.random.default_rng(3)
    drawn.random(5)
    mt = np.random.Generator(np.random.MT19937(4))
    mt.integers(0, 10, 7)
    module_state = torch.nn.Linear(2, 2).state_dict()
    state = {
        "arrays": [np.array([0.1, -0.0, np.nan, np.inf]), np.arange(6).reshape(2, 3)[:, ::2], np.array(True)],
        "small": np.array([1.5, 2.5], dtype=np.float32),
        "scalars": (np.float64(0.1), np.int64(-3), np.bool_(False), np.uint64(2**64 - 1)),
        "generators": {"pcg": drawn, "mt": mt},
        "plain": {1: None, "x": (1, 2.5), "big": 2**127 + 1, "nan": math.nan, "s": "text"},
        "tensors": {"bf16": torch.randn(3).to(torch.bfloat16), "rng": torch.get_rng_state()},
        "module": module_state,
    }
    write_state_file(tmp_path / "s.pt", state)
    loaded = from_safe(open_state_file(tmp_path / "s.pt"))
    _same(loaded, state)
    assert loaded["generators"]["pcg"].random(3).tolist() == drawn.random(3).tolist()
    assert loaded["generators"]["mt"].integers(0, 10, 4).tolist() == mt.integers(0, 10, 4).tolist()
    torch.nn.Linear(2, 2).load_state_dict(loaded["module"])  # a module state keeps its version metadata


@pytest.mark.parametrize("method", sorted(CASES))
def test_a_methods_checkpoint_state_round_trips_exactly(tmp_path, method):
    params, make_inputs = CASES[method]
    inputs = make_inputs(tmp_path) if make_inputs else RunInputs()
    trainer = Trainer(_spec(method, steps=24, **params), _groups())
    policy = make_policy(method, GROUPS, params, inputs)
    trainer.run(policy, until=13)
    state = trainer.checkpoint(policy, next_eval=16)
    ckpt = Checkpointer(tmp_path / "checkpoint.pt", every=5, key="k")
    ckpt.save(state)
    loaded = ckpt.load()
    assert loaded is not None and loaded.pop("format") == "mixpipe.checkpoint/1" and loaded.pop("key") == "k"
    _same(loaded, state)


def test_what_a_state_file_cannot_hold_is_refused_at_save_naming_where(tmp_path):
    with pytest.raises(TypeError, match=r"state\['policy'\]\['f'\]: cannot store a set"):
        write_state_file(tmp_path / "s.pt", {"policy": {"f": {1, 2}}})
    with pytest.raises(TypeError, match=r"state\['x'\]: the key '__mixpipe_type__' is reserved"):
        to_safe({"x": {TAG: "ndarray"}})
    assert not (tmp_path / "s.pt").exists()


def test_a_malformed_tagged_entry_is_reported_not_trusted(tmp_path):
    torch.save({"format": STATE_FORMAT, "p": {TAG: "scalar", "dtype": "O", "value": 1}}, tmp_path / "s.pt")
    with pytest.raises(UnreadableStateError, match=r"s\.pt: a malformed 'scalar' entry"):
        read_state(tmp_path / "s.pt")
    torch.save({"format": STATE_FORMAT, "p": {TAG: "os.system"}}, tmp_path / "s.pt")
    with pytest.raises(UnreadableStateError, match=r"an entry of unknown kind 'os\.system'"):
        read_state(tmp_path / "s.pt")


# -- the mid-run checkpoint -------------------------------------------------------------------------------
def _without_timings(record: RunRecord) -> dict:
    return {k: v for k, v in record.to_dict().items() if k != "compute"}


@pytest.mark.parametrize("damage", ["payload", "truncated", "empty", "foreign"])
def test_an_unreadable_checkpoint_is_set_aside_and_the_run_restarts_and_completes(
    tmp_path, monkeypatch, caplog, damage
):
    spec, data, straight = killed_run(tmp_path, monkeypatch)
    path, marker = tmp_path / "killed" / "checkpoint.pt", tmp_path / "marker"
    if damage == "payload":  # inside an otherwise valid checkpoint of this very run (format and key intact)
        _plant(path, torch.load(path, weights_only=True), "policy", marker)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a state.pt copied over it: safe to read, but not a checkpoint
        torch.save(Trainer(spec, _groups()).state_dict(), path)
    planted = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="pipeline_lib.train.checkpoint"):
        resumed = train_run(spec, data, tmp_path / "killed")
    assert _without_timings(resumed) == _without_timings(straight)
    assert not marker.exists() and not path.exists()
    aside = tmp_path / "killed" / "checkpoint.pt.damaged"
    assert aside.read_bytes() == planted  # kept as evidence
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(path) in warning and f"moved it to {aside}; starting from step 0" in warning
    if damage == "payload":
        assert "refused" in warning and "io.open" in warning
        _assert_live(aside, marker)


def test_a_checkpoint_of_another_run_is_removed_before_its_tensors_are_read(tmp_path, monkeypatch):
    ckpt = Checkpointer(tmp_path / "checkpoint.pt", every=5, key="old")
    ckpt.save({"trainer": Trainer(_spec(), _groups()).state_dict()})

    def materialise(*args):
        raise AssertionError("a checkpoint of another run was materialised")

    monkeypatch.setattr("pipeline_lib.train.checkpoint.materialise", materialise)
    assert Checkpointer(ckpt.path, every=5, key="new").load() is None and not ckpt.path.exists()


def test_only_the_owner_rank_moves_a_damaged_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"PK\x03\x04 not a zip")
    assert Checkpointer(path, every=5, key="k", owner=False).load() is None and path.exists()
    assert Checkpointer(path, every=5, key="k").load() is None and not path.exists()
    assert (tmp_path / "checkpoint.pt.damaged").exists()


# -- state.pt: DoReMi's reference, a dynamic child's parent -----------------------------------------------
def test_a_doremi_reference_state_with_a_payload_is_refused(tmp_path):
    spec, marker = _spec("doremi_proxy"), tmp_path / "marker"
    path = tmp_path / "state.pt"
    name = re.escape(str(path))
    _plant(path, Trainer(spec, _groups()).state_dict(), "model", marker)
    trainer = Trainer(spec, _groups())
    policy = make_policy("doremi_proxy", GROUPS, {"mu": 1.0}, RunInputs(reference=str(path)))
    with pytest.raises(UnreadableStateError, match=rf"{name}: refused: .*io\.open.*rerun the job"):
        policy.start(trainer)
    _assert_live(path, marker)


def test_a_dynamic_parents_state_with_a_payload_is_refused(tmp_path):
    data = _write_groups(tmp_path / "data")
    spec, marker = _spec(steps=24), tmp_path / "marker"
    path = tmp_path / "parent" / "state.pt"
    name = re.escape(str(path))
    path.parent.mkdir()
    torch.save(Payload(marker), path)  # the whole file: the payload runs the moment it is unpickled
    with pytest.raises(UnreadableStateError, match=rf"{name}: refused: .*io\.open.*delete it"):
        train_run(spec, data, tmp_path / "child", init_state=path, until=20)
    assert not (tmp_path / "child" / "run.json").exists()
    job = subprocess.run(  # the training job: a one-line error naming the file, no traceback
        [
            sys.executable, "-m", "pipeline_lib.train.run", "--spec", json.dumps(spec.to_dict()),
            "--data-dir", str(data), "--out-dir", str(tmp_path / "child"), "--init-state", str(path),
            "--until", "20", "--threads", "1",
        ],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert job.returncode == 1 and f"ERROR __main__: {path}: refused" in job.stderr
    assert "Traceback" not in job.stderr
    _assert_live(path, marker)


def test_a_state_without_its_format_is_refused_naming_the_file_and_the_fix(tmp_path):
    path = tmp_path / "state.pt"
    name = re.escape(str(path))
    state = Trainer(_spec(), _groups()).state_dict()
    del state["format"]
    torch.save(state, path)
    with pytest.raises(UnreadableStateError, match=rf"{name}: its format is None, not 'mixpipe.state/1'"):
        read_state(path)
    path.write_bytes(pickle.dumps({"format": STATE_FORMAT}))  # a plain pickle, not torch's zip format
    with pytest.raises(UnreadableStateError, match=rf"{name}: cannot be read .*delete it and rerun"):
        read_state(path)


def test_a_child_continues_its_parents_state_exactly(tmp_path):
    """state.pt round-trips: a parent stopped at step 12 and a child resumed from its state.pt end where an
    uninterrupted run ends."""
    data = _write_groups(tmp_path / "data")
    spec = _spec(steps=24)
    straight = train_run(spec, data, tmp_path / "straight")
    train_run(spec, data, tmp_path / "parent", until=12, save_state=True)
    child = train_run(spec, data, tmp_path / "child", init_state=tmp_path / "parent" / "state.pt")
    assert child.start_step == 12 and child.tested.loss == straight.tested.loss
    assert child.val_loss == straight.val_loss and child.final_mixture == straight.final_mixture
