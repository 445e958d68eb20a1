"""Mid-run checkpoints (a killed job continues bit-identically), the divergence guard, live progress."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from pipeline_lib.methods import RunInputs, make_policy
from pipeline_lib.records import RunRecord, SkillItFit, Spent, TestResult
from pipeline_lib.train.checkpoint import Checkpointer
from pipeline_lib.train.trainer import DivergenceError, Trainer
from tests.unit.test_trainer import _groups, _spec

GROUPS = ("g0", "g1")


class Killed(Exception):
    """Stands in for SIGKILL: the job stops between two steps, its checkpoint on disk."""


def _graph(tmp_path) -> RunInputs:
    path = tmp_path / "graph.json"
    graph = [[0.5, 0.1], [0.2, 0.3]]
    SkillItFit(method="skillit", groups=GROUPS, graph=graph, runs=[], extra_runs=Spent(2, 7)).write(path)
    return RunInputs(fit=str(path))


def _reference(tmp_path) -> RunInputs:
    path = tmp_path / "reference.pt"
    reference = Trainer(_spec("stratified", steps=24), _groups())
    for _ in range(3):
        reference.train_step()
    torch.save(reference.state_dict(), path)
    return RunInputs(reference=str(path))


CASES = {
    "aioli": ({"lp_rounds": 1, "lp_steps": 2, "update_steps": 8, "eta": 1.0, "ema": 0.5}, None),
    "skillit": ({"update_steps": 8, "window": 2}, _graph),
    "doremi_proxy": ({"mu": 1.0}, _reference),
    "doge_proxy": ({"val_batch_size": 2}, None),
}


def _train(method, params, inputs, checkpointer=None, kill_at=None):
    trainer = Trainer(_spec(method, steps=24, **params), _groups())
    policy = make_policy(method, GROUPS, params, inputs)
    if kill_at is not None:
        step = trainer.train_step

        def dying_step(*args, **kwargs):
            if trainer.step == kill_at:
                raise Killed
            return step(*args, **kwargs)

        trainer.train_step = dying_step
    test = trainer.run(policy, checkpointer=checkpointer)
    return trainer, policy, test


@pytest.mark.parametrize("method", sorted(CASES))
def test_a_killed_run_resumes_from_its_checkpoint_bit_identically(tmp_path, method):
    params, make_inputs = CASES[method]
    inputs = make_inputs(tmp_path) if make_inputs else RunInputs()
    straight, straight_policy, straight_test = _train(method, params, inputs)
    ckpt = Checkpointer(tmp_path / "checkpoint.pt", every=5, key="run-1")
    kill_at = int(np.random.default_rng(len(method)).integers(11, 20))  # after the checkpoint at step 10
    with pytest.raises(Killed):
        _train(method, params, inputs, ckpt, kill_at=kill_at)
    assert ckpt.path.exists() and torch.load(ckpt.path, weights_only=True)["trainer"]["step"] < kill_at
    resumed, resumed_policy, resumed_test = _train(method, params, inputs, ckpt)
    np.testing.assert_array_equal(resumed_test, straight_test)
    assert resumed.history.curve == straight.history.curve
    assert resumed.history.mixture == straight.history.mixture
    np.testing.assert_array_equal(resumed.p, straight.p)
    assert json.dumps(resumed_policy.summary(), default=str) == json.dumps(
        straight_policy.summary(), default=str
    )
    for a, b in zip(resumed.model.parameters(), straight.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_checkpoint_of_another_run_is_ignored(tmp_path):
    ckpt = Checkpointer(tmp_path / "checkpoint.pt", every=5, key="old")
    with pytest.raises(Killed):
        _train("stratified", {}, RunInputs(), ckpt, kill_at=12)
    other = Checkpointer(ckpt.path, every=5, key="new")
    assert other.load() is None and not ckpt.path.exists()


def test_divergence_stops_the_run_naming_step_and_lr():
    trainer = Trainer(_spec(steps=12), _groups())
    policy = make_policy("stratified", GROUPS)
    trainer.cfg = trainer.cfg.__class__(**{**trainer.cfg.__dict__, "max_loss": 1.0})  # every loss exceeds it
    with pytest.raises(
        DivergenceError, match=r"t/stratified seed 0: the training loss [\d.]+ at step 0 \(lr "
    ):
        trainer.run(policy)
    from pipeline_lib.methods.static import Stratified

    class NanAtStep5(Stratified):
        def backward(self, run, batch, groups):
            loss = super().backward(run, batch, groups)
            return float("nan") if run.step == 5 else loss

    trainer = Trainer(_spec(steps=12), _groups(), progress=None)
    with pytest.raises(DivergenceError, match=r"loss nan at step 5 \(lr [\d.e-]+\) is not finite"):
        trainer.run(NanAtStep5(GROUPS, None))
    assert trainer.step == 5  # stopped at that step, not at the end


def test_an_overflowing_perplexity_is_reported_not_raised():
    summary = TestResult.from_losses(GROUPS, np.array([2.0, 800.0])).to_dict()
    assert summary["test_ppl"]["g0"] == pytest.approx(math.exp(2.0)) and summary["test_ppl"]["g1"] is None
    assert summary["avg_test_ppl"] is None and summary["exp_mean_test_loss"] == pytest.approx(math.exp(401.0))
    assert TestResult.from_losses(GROUPS, np.array([800.0, 900.0])).exp_mean_loss is None
    assert "g1" in summary["overflow"]
    json.dumps(summary, allow_nan=False)  # run.json stays valid JSON


def test_progress_lines_follow_the_validation_curve(tmp_path):
    trainer = Trainer(_spec(steps=8), _groups(), progress=tmp_path / "progress.jsonl")
    trainer.run(make_policy("stratified", GROUPS))
    lines = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [0, 4, 8]
    assert {line["steps"] for line in lines} == {8}  # what pipeline_lib.progress shows as step/steps
    last = {r["group"]: r["val_loss"] for r in trainer.history.curve if r["step"] == 8}
    assert lines[-1]["val_loss"] == pytest.approx(last, abs=1e-4)
    assert lines[0]["train_loss"] is None  # no step trained yet
    assert lines[-1]["train_loss"] == pytest.approx(trainer.last_loss, abs=1e-4)


def _write_groups(root):
    """``_groups()`` as the pack step writes them: one folder per group with meta.json and .bin files."""
    for g in _groups():
        splits = {s: {"sha256": f"{g.name}-{s}"} for s in ("train", "val", "test")}
        dataclasses.replace(g, meta={**g.meta, "splits": splits}).save(root / g.name)
    return root


def killed_run(tmp_path, monkeypatch, method: str = "stratified"):
    """A train_run job killed at step 17 (its checkpoint at 15), and an uninterrupted run's record."""
    from pipeline_lib.train.run import train_run

    data = _write_groups(tmp_path / "data")
    spec = _spec(method, steps=24, **CASES.get(method, ({}, None))[0])
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, checkpoint_every=5))
    straight = train_run(spec, data, tmp_path / "straight")
    step = Trainer.train_step

    def dying_step(self, *args, **kwargs):
        if self.step == 17:
            raise Killed
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train_step", dying_step)
    with pytest.raises(Killed):
        train_run(spec, data, tmp_path / "killed")
    monkeypatch.setattr(Trainer, "train_step", step)
    return spec, data, straight


def test_train_run_continues_a_killed_job_and_removes_its_checkpoint(tmp_path, monkeypatch):
    from pipeline_lib.train.run import train_run

    spec, data, straight = killed_run(tmp_path, monkeypatch, "aioli")
    assert (tmp_path / "killed" / "checkpoint.pt").exists() and not (
        tmp_path / "killed" / "run.json"
    ).exists()
    resumed = train_run(spec, data, tmp_path / "killed")
    assert dataclasses.replace(resumed, compute=None) == dataclasses.replace(straight, compute=None)
    assert RunRecord.read(tmp_path / "killed" / "run.json") == resumed
    assert not (tmp_path / "killed" / "checkpoint.pt").exists()
    for name in ("curve.csv", "mixture.csv"):
        assert (tmp_path / "killed" / name).read_text() == (tmp_path / "straight" / name).read_text()


def test_tensorboard_tracker_gets_the_progress_records(tmp_path, monkeypatch):
    """The tracker is fed every step's training loss and lr, the mixture, and the same per-evaluation
    records as progress.jsonl (a stand-in SummaryWriter: the tensorboard package is an optional extra the
    tests never need)."""
    import sys
    import types

    calls = []

    class Writer:
        def __init__(self, log_dir):
            calls.append(("dir", log_dir))

        def add_scalar(self, tag, value, step):
            calls.append((tag, round(value, 4), step))

        def flush(self):
            pass

        def close(self):
            calls.append(("closed",))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=Writer))
    from pipeline_lib.train.tracking import TensorBoardTracker

    tracker = TensorBoardTracker(tmp_path / "tb")
    trainer = Trainer(_spec(steps=8), _groups(), progress=tmp_path / "p.jsonl", tracker=tracker)
    trainer.run(make_policy("stratified", GROUPS))
    tracker.close()
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    logged = {(tag, step): value for tag, value, step in (c for c in calls if len(c) == 3)}
    for line in lines:
        for group, value in line["val_loss"].items():
            assert logged[(f"val_loss/{group}", line["step"])] == pytest.approx(value, abs=1e-4)
    assert sorted(step for tag, step in logged if tag == "train/loss") == list(range(8))
    assert sorted(step for tag, step in logged if tag == "train/lr") == list(range(8))
    assert all(logged[(f"mixture/{g}", 0)] == 0.5 for g in GROUPS)
    assert calls[0] == ("dir", str(tmp_path / "tb")) and calls[-1] == ("closed",)
