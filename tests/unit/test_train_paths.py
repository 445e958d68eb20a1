"""The throughput switches of the trainer (train.sync_every, pin_memory, attention, loss_chunk, compile,
eval_compile, precision) on CPU: each default leaves a run unchanged, each switch keeps its numbers."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest
import torch

from pipeline_lib.config import ConfigError, RunSpec, TrainConfig
from pipeline_lib.data.tokens import GroupTokens
from pipeline_lib.methods import make_policy
from pipeline_lib.model import GPT, ModelConfig
from pipeline_lib.model.gpt import flash_available
from pipeline_lib.train.evaluate import batch_to_device, group_losses
from pipeline_lib.train.trainer import DivergenceError, Trainer


def _groups(vocab: int = 40) -> list[GroupTokens]:
    rng = np.random.default_rng(1)
    out = []
    for g in range(2):
        stream = np.tile(rng.integers(0, vocab, 5 + g), 500).astype(np.uint16)
        meta = {"group": f"g{g}", "vocab_size": vocab, "dtype": "uint16"}
        out.append(GroupTokens(f"g{g}", stream[:2000], stream[2000:2400], stream[2400:2800], meta))
    return out


def _spec(method: str = "stratified", params: dict | None = None, **train) -> RunSpec:
    model = ModelConfig(n_layer=1, n_head=2, d_model=16, context=16, vocab_size=40)
    base = dict(steps=12, batch_size=4, warmup_steps=2, eval_every=4, val_sequences=4, lr=3e-3)
    return RunSpec("t", ("g0", "g1"), method, params or {}, 0, model, TrainConfig(**{**base, **train}))


def _run(spec: RunSpec) -> tuple[Trainer, np.ndarray]:
    trainer = Trainer(spec, _groups())
    return trainer, trainer.run(make_policy(spec.method, spec.groups, spec.method_params))


@pytest.mark.parametrize(
    ("method", "params"), [("stratified", {}), ("aioli", {"lp_rounds": 1, "lp_steps": 1, "update_steps": 4})]
)
def test_lazy_loss_reads_change_no_number(method, params):
    """sync_every only moves the host reads: curves, mixtures and test losses are bit-identical."""
    eager, test = _run(_spec(method, params))
    lazy, test_lazy = _run(_spec(method, params, sync_every=5))
    np.testing.assert_array_equal(test, test_lazy)
    assert eager.history.curve == lazy.history.curve and eager.history.mixture == lazy.history.mixture
    assert lazy.last_loss == eager.last_loss and not lazy._pending


def test_lazy_loss_reads_return_the_last_read_loss():
    trainer = Trainer(_spec(sync_every=3), _groups())
    trainer.set_mixture(np.array([0.5, 0.5]))
    assert [trainer.train_step() is None for _ in range(2)] == [True, True]  # not read yet
    third = trainer.train_step()
    assert isinstance(third, float) and math.isfinite(third) and trainer.train_step() == third


def test_lazy_loss_reads_still_stop_a_diverged_run():
    trainer = Trainer(_spec(sync_every=4, max_loss=0.01), _groups())
    trainer.set_mixture(np.array([0.5, 0.5]))
    for _ in range(3):
        trainer.train_step()  # not read yet: no check
    with pytest.raises(DivergenceError, match=r"at step 0 .* exceeds train\.max_loss"):
        trainer.train_step()


def test_switches_are_validated_with_their_field_names():
    with pytest.raises(ConfigError) as err:
        TrainConfig(sync_every=0, loss_chunk=-1, attention="xformers", compile_mode="fast")
    for field in ("train.sync_every", "train.loss_chunk", "train.attention", "train.compile_mode"):
        assert field in str(err.value)


def test_switches_round_trip_through_the_run_spec():
    spec = _spec(sync_every=10, pin_memory=True, attention="sdpa", loss_chunk=64, eval_compile=True)
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_pinned_batches_are_the_same_tensor_on_cpu():
    arr = np.arange(12, dtype=np.int64).reshape(3, 4)
    out = batch_to_device(arr, torch.device("cpu"), pin_memory=True)
    assert out.dtype == torch.int64 and out.tolist() == arr.tolist()
    _, a = _run(_spec())
    _, b = _run(_spec(pin_memory=True))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_chunked_loss_matches_the_plain_head_in_value_and_gradient(tied, precision):
    torch.manual_seed(0)
    cfg = ModelConfig(n_layer=1, n_head=2, d_model=16, context=12, vocab_size=70, tie_embeddings=tied)
    plain = GPT(cfg)
    chunked = GPT(cfg, loss_chunk=7)  # 7 does not divide 2 x 12 tokens: a short last chunk
    chunked.load_state_dict(plain.state_dict())
    idx = torch.randint(0, 70, (2, 13))
    weights = torch.rand(2, 12)  # a weighted objective, as DoReMi's, reaches the backward
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    out = []
    for model in (plain, chunked):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits, losses = model(idx[:, :-1], idx[:, 1:])
        (losses * weights).sum().backward()
        out.append((logits, losses, {n: p.grad for n, p in model.named_parameters()}))
    tol = dict(rtol=2e-2, atol=2e-2) if dtype == torch.bfloat16 else dict(rtol=1e-5, atol=1e-6)
    assert out[1][0] is None and out[1][1].dtype == torch.float32
    torch.testing.assert_close(out[1][1], out[0][1], **tol)
    for name, grad in out[0][2].items():
        torch.testing.assert_close(out[1][2][name], grad, **tol, msg=name)


def test_chunked_loss_trains_like_the_plain_path():
    _, a = _run(_spec())
    _, b = _run(_spec(loss_chunk=10))
    np.testing.assert_allclose(a, b, rtol=1e-4)


def test_sdpa_is_auto_on_cpu_and_flash_needs_its_package():
    _, a = _run(_spec())
    _, b = _run(_spec(attention="sdpa"))
    np.testing.assert_array_equal(a, b)
    if not flash_available():
        with pytest.raises(ValueError, match="pip install --no-build-isolation flash-attn"):
            Trainer(_spec(attention="flash"), _groups())


def test_bf16_autocast_on_cpu_trains_close_to_fp32():
    _, fp32 = _run(_spec(steps=8))
    trainer, bf16 = _run(_spec(steps=8, precision="bf16"))
    assert trainer.history.curve[0]["val_loss"] == pytest.approx(math.log(64), abs=0.3)  # padded
    np.testing.assert_allclose(bf16, fp32, rtol=0.03)


def test_device_accumulation_of_eval_sums_matches_a_host_accumulator():
    """group_losses sums batches on the device in float64: the same number as summing on the host."""
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=1, n_head=2, d_model=16, context=16, vocab_size=40))
    chunks = [np.random.default_rng(g).integers(0, 40, (7, 17)) for g in range(2)]
    got = group_losses(model, chunks, 3, torch.device("cpu"))
    for g, arr in enumerate(chunks):
        total = 0.0
        with torch.no_grad():
            for s in range(0, 7, 3):
                batch = torch.from_numpy(arr[s : s + 3])
                total += model(batch[:, :-1], batch[:, 1:])[1].sum().item()
        assert got[g] == total / (7 * 16)


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")
def test_compiled_training_and_evaluation_match_eager_on_cpu():
    """torch.compile (inductor + the C compiler) of the model, for training and evaluation: one training
    graph and one evaluation graph (every batch of one shape: a learning run, no test pass)."""
    spec = _spec(steps=2, eval_every=2, eval_batch_size=4, test_eval=False)
    eager, _ = _run(spec)
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, compile=True, eval_compile=True))
    compiled, _ = _run(spec)
    assert compiled._eval_model is compiled._forward and compiled._forward is not compiled.model
    np.testing.assert_allclose(compiled.val_history(), eager.val_history(), rtol=1e-4)


def test_compile_mode_reaches_torch_compile(monkeypatch):
    """``reduce-overhead`` (CUDA graphs) and the other modes go to torch.compile; the default passes none."""
    seen: list[dict] = []
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: seen.append(kwargs) or module)
    Trainer(_spec(compile=True, compile_mode="reduce-overhead"), _groups())
    Trainer(_spec(compile=True), _groups())
    Trainer(_spec(eval_compile=True, compile_mode="max-autotune"), _groups())
    assert seen == [{"mode": "reduce-overhead"}, {}, {"mode": "max-autotune"}]


def test_pythia_160m_shape_takes_a_step_on_cpu():
    """The paper's shape (12 x 768, untied 50304 vocabulary), one step at a short context, chunked loss."""
    torch.manual_seed(0)
    cfg = ModelConfig.from_dict({"preset": "pythia-160m", "vocab_size": 50277, "context": 64})
    model = GPT(cfg, loss_chunk=32)
    assert model.n_params() == cfg.n_params() and 160e6 < cfg.n_params() < 170e6
    opt = torch.optim.AdamW(model.param_groups(0.01), lr=1e-3, foreach=True)
    idx = torch.randint(0, 50277, (1, 65))
    _, losses = model(idx[:, :-1], idx[:, 1:])
    losses.mean().backward()
    opt.step()
    with torch.no_grad():
        after = model(idx[:, :-1], idx[:, 1:])[1].mean().item()
    assert abs(losses.mean().item() - math.log(50304)) < 0.5 and after < losses.mean().item()
