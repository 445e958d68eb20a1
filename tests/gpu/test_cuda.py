"""The GPU path on a CUDA device: bf16 steps, fused AdamW, compile, flash-attn, slot pinning, resume, and
two data-parallel ranks (with two GPUs).

Skipped on a machine without CUDA (``run_if``); ``bench/gpu_check.py`` runs them on a GPU machine.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from pipeline_lib.config import RunSpec, TrainConfig
from pipeline_lib.data.tokens import GroupTokens
from pipeline_lib.methods import make_policy
from pipeline_lib.model import GPT, ModelConfig
from pipeline_lib.model.gpt import CausalSelfAttention
from pipeline_lib.train.checkpoint import Checkpointer
from pipeline_lib.train.trainer import Trainer
from tests.conftest import REPO
from tests.gpu.runif import run_if

CUDA = torch.device("cuda")


def _groups(vocab: int = 256, context: int = 64) -> list[GroupTokens]:
    rng = np.random.default_rng(0)
    out = []
    for g in range(2):
        stream = np.tile(rng.integers(0, vocab, 11 + g), 6000).astype(np.uint16)
        n = 40 * (context + 1)
        meta = {"group": f"g{g}", "vocab_size": vocab, "dtype": "uint16"}
        out.append(
            GroupTokens(f"g{g}", stream[: 20 * n], stream[20 * n : 21 * n], stream[21 * n : 22 * n], meta)
        )
    return out


def _spec(method: str = "stratified", params: dict | None = None, **train) -> RunSpec:
    model = ModelConfig(n_layer=2, n_head=4, d_model=128, context=64, vocab_size=256)
    base = dict(steps=16, batch_size=8, warmup_steps=2, eval_every=4, val_sequences=8, lr=2e-3)
    base.update(device="cuda", precision="bf16")
    return RunSpec("gpu", ("g0", "g1"), method, params or {}, 0, model, TrainConfig(**{**base, **train}))


def _run(spec: RunSpec, checkpointer: Checkpointer | None = None) -> tuple[Trainer, np.ndarray]:
    trainer = Trainer(spec, _groups())
    return trainer, trainer.run(
        make_policy(spec.method, spec.groups, spec.method_params), checkpointer=checkpointer
    )


@run_if(bf16=True)
def test_bf16_training_step_keeps_fp32_weights_and_learns():
    trainer, test = _run(_spec(steps=40, eval_every=10))
    assert trainer.device.type == "cuda" and all(p.dtype == torch.float32 for p in trainer.model.parameters())
    with trainer.autocast:
        logits, _ = trainer.model(torch.zeros(1, 8, dtype=torch.long, device=CUDA))
    assert logits.dtype == torch.bfloat16
    first = np.array([r["val_loss"] for r in trainer.history.curve[:2]])
    assert np.all(np.isfinite(test)) and np.all(test < first - 0.5)


@run_if()
def test_the_optimizer_is_fused_adamw_and_matches_the_unfused_one():
    trainer = Trainer(_spec(), _groups())
    assert trainer.optimizer.defaults["fused"] is True
    torch.manual_seed(0)
    models = [GPT(_spec().model).to(CUDA) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [
        torch.optim.AdamW(models[0].param_groups(0.01), lr=1e-3, fused=True),
        torch.optim.AdamW(models[1].param_groups(0.01), lr=1e-3, foreach=True),
    ]
    idx = torch.randint(0, 256, (4, 65), device=CUDA)
    for _ in range(5):
        for model, opt in zip(models, opts, strict=True):
            model(idx[:, :-1], idx[:, 1:])[1].mean().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


@run_if(bf16=True)
def test_compiled_model_matches_eager_within_bf16_tolerance():
    eager, eager_test = _run(_spec(steps=8))
    compiled, compiled_test = _run(_spec(steps=8, compile=True, eval_compile=True))
    assert compiled._forward is not compiled.model
    np.testing.assert_allclose(compiled.val_history(), eager.val_history(), rtol=2e-2)
    np.testing.assert_allclose(compiled_test, eager_test, rtol=2e-2)


@run_if(flash_attn=True, bf16=True)
def test_flash_attn_branch_matches_sdpa_in_output_and_gradient():
    torch.manual_seed(0)
    cfg = ModelConfig(n_layer=1, n_head=4, d_model=128, context=64, rotary_pct=0.25)
    flash = CausalSelfAttention(cfg, "flash").to(CUDA)
    sdpa = CausalSelfAttention(cfg, "sdpa").to(CUDA)
    sdpa.load_state_dict(flash.state_dict())
    x = torch.randn(2, 64, 128, device=CUDA)
    outs, grads = [], []
    for attn in (flash, sdpa):
        xi = x.clone().requires_grad_(True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = attn(xi)
        y.float().square().mean().backward()
        outs.append(y.float())
        grads.append(xi.grad)
    torch.testing.assert_close(outs[0], outs[1], rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(grads[0], grads[1], rtol=5e-2, atol=5e-3)


@run_if(bf16=True)
def test_switches_on_cuda_keep_the_run_close_to_the_plain_path():
    """Lazy loss reads, pinned asynchronous batches and the chunked loss, together, on the GPU."""
    _, plain = _run(_spec())
    trainer, fast = _run(_spec(sync_every=5, pin_memory=True, loss_chunk=100))
    assert trainer.last_loss is not None and not trainer._pending
    np.testing.assert_allclose(fast, plain, rtol=2e-2)


@run_if(bf16=True)
def test_pythia_160m_step_at_8_by_2048_in_bf16():
    cfg = ModelConfig.from_dict({"preset": "pythia-160m", "vocab_size": 50277})
    torch.manual_seed(0)
    model = GPT(cfg).to(CUDA)
    opt = torch.optim.AdamW(model.param_groups(0.01), lr=5e-4, fused=True)
    idx = torch.randint(0, 50277, (8, 2049), device=CUDA)
    torch.cuda.reset_peak_memory_stats()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(idx[:, :-1], idx[:, 1:])[1].mean()
    loss.backward()
    opt.step()
    assert abs(loss.item() - math.log(cfg.padded_vocab)) < 0.5
    assert torch.cuda.max_memory_allocated() < 40 * 2**30


@run_if()
def test_slot_pinning_makes_the_process_see_only_its_gpu(tmp_path):
    """The train step's pinning, in a fresh process: CUDA then shows exactly the held device."""
    last = torch.cuda.device_count() - 1
    expected = str(torch.cuda.get_device_properties(last).uuid)
    script = textwrap.dedent(
        f"""
        import json
        from pipeline_lib.train.gpu_slot import acquire, pinned_gpu
        blocker = [acquire({last + 1}, {str(tmp_path)!r}) for _ in range({last})]  # every slot but the last
        with pinned_gpu({last + 1}, {str(tmp_path)!r}) as device:
            import torch  # CUDA starts after the pinning
            print(json.dumps({{"device": device, "count": torch.cuda.device_count(),
                               "uuid": str(torch.cuda.get_device_properties(0).uuid)}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"device": str(last), "count": 1, "uuid": expected}


class Killed(Exception):
    """Stands in for SIGKILL between two steps."""


@run_if(bf16=True)
def test_a_killed_gpu_run_resumes_from_its_checkpoint(tmp_path):
    """The checkpoint keeps the CUDA RNG and the optimizer state on the device; the resumed run matches an
    uninterrupted one (within the run-to-run noise of GPU kernels)."""
    params = {"lp_rounds": 1, "lp_steps": 2, "update_steps": 8}
    spec = _spec("aioli", params, steps=16)
    straight, straight_test = _run(spec)
    ckpt = Checkpointer(tmp_path / "checkpoint.pt", every=5, key="gpu")
    dying = Trainer(spec, _groups())
    step = dying.train_step

    def die_at_12(*args, **kwargs):
        if dying.step == 12:
            raise Killed
        return step(*args, **kwargs)

    dying.train_step = die_at_12
    with pytest.raises(Killed):
        dying.run(make_policy("aioli", spec.groups, params), checkpointer=ckpt)
    saved = torch.load(ckpt.path, weights_only=True)
    assert 0 < saved["trainer"]["step"] < 12 and saved["cuda_rng"] is not None
    resumed, resumed_test = _run(spec, ckpt)
    assert [r["step"] for r in resumed.history.curve] == [r["step"] for r in straight.history.curve]
    assert next(iter(resumed.optimizer.state.values()))["exp_avg"].is_cuda
    np.testing.assert_allclose(resumed_test, straight_test, rtol=1e-2)
    np.testing.assert_allclose(resumed.p, straight.p, atol=0.05)


@run_if(min_cuda_gpus=2, bf16=True)
@pytest.mark.parametrize("method", ["aioli", "doge_proxy"])
def test_two_ranks_over_nccl_train_as_one_gpu(tmp_path, method):
    """``--ranks 2`` on two GPUs (NCCL, DDP) against one process on one GPU, within bf16 noise."""
    from pipeline_lib.train.ranks import entry_point
    from tests.unit.test_data_parallel import PARALLEL_CASES

    data = tmp_path / "data"
    for g in _groups():  # as the pack step writes them
        splits = {s: {"sha256": f"{g.name}-{s}"} for s in ("train", "val", "test")}
        dataclasses.replace(g, meta={**g.meta, "splits": splits}).save(data / g.name)
    spec = _spec(method, PARALLEL_CASES[method], steps=16)
    records = {}
    for ranks in (1, 2):
        out = tmp_path / f"ranks{ranks}"
        command = [
            sys.executable, "-m", entry_point(ranks), "--spec", json.dumps(spec.to_dict()),
            "--data-dir", str(data), "--out-dir", str(out), "--ranks", str(ranks),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        records[ranks] = json.loads((out / "run.json").read_text())
    one, two = records[1], records[2]
    assert two["compute"]["device"] == "cuda:0" and two["tokens"] == one["tokens"]
    np.testing.assert_allclose(list(two["test_loss"].values()), list(one["test_loss"].values()), rtol=1e-2)
    mixtures = [list(r["final_mixture"].values()) for r in (one, two)]
    np.testing.assert_allclose(mixtures[1], mixtures[0], atol=0.05)
