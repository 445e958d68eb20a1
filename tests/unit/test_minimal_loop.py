"""bench/minimal_loop.py: the minimal loop has the trainer's shape (model, weights, optimizer, schedule,
batch), its pairs alternate and are compared pair by pair, and its whole-run command trains from a spec."""

from __future__ import annotations

import json
import math
import shlex
import sys

import numpy as np
import pytest
import torch

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import minimal_loop

from pipeline_lib.train.schedule import lr_at
from pipeline_lib.train.trainer import Trainer


@pytest.fixture(scope="module")
def data() -> list:
    return minimal_loop.load_data(None, 512, 128)


def test_the_minimal_loop_trains_the_trainers_model_optimizer_and_schedule(data):
    spec = minimal_loop.run_spec("tiny", 512, 30)
    trainer, minimal = Trainer(spec, data), minimal_loop.minimal_for(spec, data)
    assert type(minimal.model) is type(trainer.model)
    for (name, a), (_, b) in zip(
        trainer.model.state_dict().items(), minimal.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name  # the same seed gives the same initial weights
    for ga, gb in zip(trainer.optimizer.param_groups, minimal.opt.param_groups, strict=True):
        assert [p.shape for p in ga["params"]] == [p.shape for p in gb["params"]]
        for key in ("betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "fused"):
            assert ga[key] == gb[key], key
    assert [minimal.get_lr(i) for i in range(31)] == pytest.approx([lr_at(i, spec.train) for i in range(31)])
    batch = minimal.get_batch(np.array([0.5, 0.5]))
    assert batch.shape == (spec.train.batch_size, spec.model.context + 1) and batch.dtype == torch.int64
    assert len(minimal.val[0]) == spec.train.val_sequences


def test_pairs_alternate_and_ratios_are_taken_pair_by_pair():
    calls: list[str] = []
    a_times = iter([(2.0, 1.0), (4.0, 3.0), (6.0, 3.0)])
    b_times = iter([(1.0, 1.0), (1.0, 2.0), (3.0, 1.0)])

    def a() -> tuple[float, float]:
        calls.append("A")
        return next(a_times)

    def b() -> tuple[float, float]:
        calls.append("B")
        return next(b_times)

    out = minimal_loop.paired(a, b, 3)
    assert calls == ["A", "B", "B", "A", "A", "B"]
    assert out["wall"]["ratio"] == 2.0 and (out["wall"]["ratio_min"], out["wall"]["ratio_max"]) == (2.0, 4.0)
    assert out["cpu"]["ratio"] == 1.5 and out["cpu"]["trainer_s"] == 3.0 and out["pairs"] == 3


def test_the_run_command_trains_the_trainers_spec_from_packed_files(tmp_path, data, capsys):
    for g in data:
        (tmp_path / g.name).mkdir()
        for split in ("train", "val", "test"):
            getattr(g, split).tofile(tmp_path / g.name / f"{split}.bin")
        (tmp_path / g.name / "meta.json").write_text(json.dumps(g.meta))
    minimal_loop.main(["commands", "--preset", "tiny", "--vocab", "512", "--run-steps", "2",
                       "--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")])  # fmt: skip
    trainer_cmd, minimal_cmd = (shlex.split(line) for line in capsys.readouterr().out.splitlines())
    assert trainer_cmd[1:3] == ["-m", "pipeline_lib.train.run"] and minimal_cmd[2] == "run"
    spec = trainer_cmd[trainer_cmd.index("--spec") + 1]
    assert minimal_cmd[minimal_cmd.index("--spec") + 1] == spec  # one spec, both sides
    minimal_loop.main(["run", "--spec", spec, "--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "m")])
    losses = json.loads((tmp_path / "m" / "minimal.json").read_text())["test_loss"]
    assert len(losses) == 2 and all(abs(v - math.log(512)) < 0.5 for v in losses)  # random tokens: ~ln V
