"""Data-parallel runs (``--ranks N``, gloo on CPU): two ranks train as one process does, within float
tolerance, for the default objective and for the methods with their own (Aioli, DoReMi, DoGE)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pipeline_lib.config.methods import DoremiConfig
from pipeline_lib.methods.doremi import DoremiProxy
from pipeline_lib.parallel import SINGLE, Ranks, group_means
from pipeline_lib.train.run import train_run
from pipeline_lib.train.trainer import Trainer
from tests.conftest import REPO
from tests.unit.test_checkpoint import CASES, _reference, _write_groups
from tests.unit.test_trainer import _groups, _spec

GROUPS = ("g0", "g1")


def test_one_process_is_the_identity():
    losses = torch.arange(12.0).reshape(4, 3).requires_grad_()
    groups = np.array([1, 0, 1, 1])
    ours, present = SINGLE.group_means(losses, groups, 3)
    theirs, _ = group_means(losses, groups, 3)
    values = [[None if v is None else v.item() for v in means] for means in (ours, theirs)]
    assert values[0] == values[1]
    assert present.tolist() == [True, True, False]
    assert SINGLE.share_mean(losses).item() == losses.mean().item()
    rows = torch.ones(3, 2)
    pooled, present = SINGLE.pool_means(rows, np.array([2, 0, 1]))
    assert pooled is rows and present.tolist() == [True, False, True]
    chunks = np.arange(10).reshape(5, 2)
    assert SINGLE.shard(chunks) is chunks and SINGLE.rows(8) == slice(0, 8)


def test_a_batch_splits_evenly_or_the_run_refuses():
    assert Ranks(1, 2).rows(8) == slice(4, 8) and Ranks(2, 3).shard(np.arange(7)).tolist() == [2, 5]
    with pytest.raises(ValueError, match="a batch of 4 rows cannot be split evenly over 3 ranks"):
        Trainer(_spec(), _groups(), ranks=Ranks(0, 3))


def test_doremi_reference_quirk_is_single_process_only(tmp_path):
    inputs = _reference(tmp_path)
    policy = DoremiProxy(GROUPS, DoremiConfig(reference_microbatch=True), inputs)
    with pytest.raises(ValueError, match=r"reference_microbatch .* resources\.gpus_per_run <= 1"):
        policy.start(SimpleNamespace(ranks=Ranks(0, 2)))


def _shares(rank: int, world: int, init: str, out: str) -> None:
    """Rank ``rank`` of a gloo group: its share of a batch through group_means, share_mean and pool_means."""
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    ranks = Ranks(rank, world)
    torch.manual_seed(0)
    w = torch.randn(5, requires_grad=True)
    x, groups = torch.randn(6, 4, 5), np.array([0, 2, 0, 0, 2, 2])
    mine = ranks.shard(np.arange(6))
    losses = (x[mine] @ w) ** 2  # (rows, 4) per-token losses
    means, present = ranks.group_means(losses, groups[mine], 3)
    loss = sum((j + 1) * v for j, v in enumerate(means) if v is not None) + ranks.share_mean(losses)
    (grad,) = torch.autograd.grad(loss, w)
    pooled, pooled_present = ranks.pool_means(torch.full((3, 2), float(rank + 1)), np.array([rank, 0, 1]))
    torch.save(
        {"means": [None if v is None else v.item() for v in means], "present": present, "loss": loss.item(),
         "grad": ranks.sum_(grad), "pooled": pooled, "pooled_present": pooled_present},
        f"{out}/rank{rank}.pt",
    )  # fmt: skip
    dist.destroy_process_group()


def test_shares_over_two_ranks_sum_to_the_whole_batch(tmp_path):
    mp.spawn(_shares, args=(2, f"file://{tmp_path}/rendezvous", str(tmp_path)), nprocs=2)
    torch.manual_seed(0)
    w = torch.randn(5, requires_grad=True)
    x, groups = torch.randn(6, 4, 5), np.array([0, 2, 0, 0, 2, 2])
    losses = (x @ w) ** 2
    means, _ = group_means(losses, groups, 3)
    whole = sum((j + 1) * v for j, v in enumerate(means) if v is not None) + losses.mean()
    (grad,) = torch.autograd.grad(whole, w)
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)
        assert got["means"][1] is None and got["present"].tolist() == [True, False, True]
        expected = [means[0].item(), means[2].item()]
        np.testing.assert_allclose([got["means"][0], got["means"][2]], expected, rtol=1e-6)
        assert got["loss"] == pytest.approx(whole.item(), rel=1e-6)  # each rank sees the global value
        torch.testing.assert_close(got["grad"], grad)  # the rank shares' sum: the whole batch's gradient
        # rank 0 holds 0 items of group 0 and 1 of group 2 (value 1); rank 1, 1 (value 2) and 1 (value 2)
        torch.testing.assert_close(got["pooled"], torch.tensor([[2.0, 2.0], [0.0, 0.0], [1.5, 1.5]]))
        assert got["pooled_present"].tolist() == [True, False, True]


PARALLEL_CASES = {  # Aioli trains through DDP (the default objective) and evaluates in LearnParams
    "aioli": CASES["aioli"][0],
    "doge_proxy": {"val_batch_size": 4},
    "doremi_proxy": {"mu": 1.0},
}


@pytest.mark.slow
@pytest.mark.parametrize("method", list(PARALLEL_CASES))
def test_two_ranks_train_as_one_process(tmp_path, method):
    import dataclasses

    data = _write_groups(tmp_path / "data")
    reference = _reference(tmp_path).reference if method == "doremi_proxy" else None
    spec = _spec(method, steps=16, **PARALLEL_CASES[method])
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, checkpoint_every=5, sync_every=3))
    single = train_run(spec, data, tmp_path / "one", inputs=_inputs(reference)).to_dict()
    command = [
        sys.executable, "-m", "pipeline_lib.train.ranks", "--spec", json.dumps(spec.to_dict()),
        "--data-dir", str(data), "--out-dir", str(tmp_path / "two"), "--threads", "1", "--ranks", "2",
        *(["--reference", reference] if reference else []),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "run.json").read_text())
    for key in ("test_loss", "val_loss", "final_mixture"):
        np.testing.assert_allclose(list(two[key].values()), list(single[key].values()), rtol=0, atol=2e-5)
    summary = single["method_summary"]
    for key in ("avg_domain_weights", "domain_weights"):
        if key in summary:
            np.testing.assert_allclose(two["method_summary"][key], summary[key], rtol=0, atol=2e-5)
    curves = [pd.read_csv(tmp_path / run / "curve.csv") for run in ("one", "two")]
    assert curves[0][["step", "group"]].equals(curves[1][["step", "group"]])
    np.testing.assert_allclose(curves[1]["val_loss"], curves[0]["val_loss"], rtol=0, atol=2e-5)
    assert two["tokens"] == single["tokens"] and two["steps"] == single["steps"]
    progress = (tmp_path / "two" / "progress.jsonl").read_text().splitlines()
    assert len(progress) == len(curves[0]) // len(GROUPS)  # rank 0 alone writes
    assert not (tmp_path / "two" / "checkpoint.pt").exists()


def _inputs(reference: str | None):
    from pipeline_lib.methods import RunInputs

    return RunInputs(reference=reference)


def test_the_data_parallel_launcher_starts_without_torch_and_needs_two_ranks():
    """A data-parallel job's own process only starts torchrun: it imports neither torch nor the trainer."""
    code = "import sys, pipeline_lib.train.ranks; print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert proc.stdout.strip() == "[]"
    one = [sys.executable, "-m", "pipeline_lib.train.ranks", "--ranks", "1", "--spec", "{}"]
    proc = subprocess.run(one, capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 2 and "a data-parallel run has 2 or more" in proc.stderr
    rank = [sys.executable, "-m", "pipeline_lib.train.run", "--ranks", "2", "--spec", "{}", "--data-dir", "d"]
    proc = subprocess.run([*rank, "--out-dir", "o"], capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 2 and "data-parallel run with python -m pipeline_lib.train.ranks" in proc.stderr
