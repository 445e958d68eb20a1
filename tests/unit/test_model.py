from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pipeline_lib.model import GPT, ModelConfig
from pipeline_lib.model.gpt import CausalSelfAttention, apply_rotary


def tiny(**kw) -> ModelConfig:
    return ModelConfig(**{"n_layer": 2, "n_head": 2, "d_model": 16, "context": 12, "vocab_size": 50, **kw})


def test_shapes_padded_vocab_and_param_count():
    cfg = tiny(pad_vocab_multiple=64)
    model = GPT(cfg)
    idx = torch.randint(0, 50, (3, 12))
    logits, losses = model(idx, idx)
    assert logits.shape == (3, 12, 64) and losses.shape == (3, 12)
    assert model.n_params() == cfg.n_params()
    untied = tiny(tie_embeddings=False, parallel_residual=True)
    assert GPT(untied).n_params() == untied.n_params()


def test_initial_loss_near_log_vocab():
    torch.manual_seed(0)
    model = GPT(tiny(vocab_size=64, pad_vocab_multiple=64))
    idx = torch.randint(0, 64, (8, 13))
    _, losses = model(idx[:, :-1], idx[:, 1:])
    assert abs(losses.mean().item() - math.log(64)) < 0.1


@pytest.mark.parametrize("parallel", [False, True])
def test_loss_falls_on_a_repeated_batch(parallel):
    torch.manual_seed(0)
    model = GPT(tiny(parallel_residual=parallel))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    idx = torch.randint(0, 50, (4, 12))
    first = None
    for _ in range(60):
        _, losses = model(idx[:, :-1], idx[:, 1:])
        loss = losses.mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first  # memorised


def test_attention_is_causal_and_matches_a_manual_softmax():
    torch.manual_seed(0)
    cfg = tiny(rotary_pct=0.0)
    attn = CausalSelfAttention(cfg)
    x = torch.randn(2, 12, 16)
    y = attn(x)
    q, k, v = attn.qkv(x).view(2, 12, 3, 2, 8).unbind(dim=2)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(8)
    scores = scores.masked_fill(torch.triu(torch.ones(12, 12, dtype=torch.bool), 1), float("-inf"))
    manual = (F.softmax(scores, -1) @ v).transpose(1, 2).reshape(2, 12, 16)
    torch.testing.assert_close(y, attn.proj(manual), atol=1e-5, rtol=1e-5)
    x2 = x.clone()
    x2[:, 6:] = torch.randn(2, 6, 16)  # the future must not change the past
    torch.testing.assert_close(attn(x2)[:, :6], y[:, :6])


def test_rotary_preserves_norm_and_encodes_relative_position():
    torch.manual_seed(0)
    from pipeline_lib.model.gpt import rotary_tables

    cos, sin = rotary_tables(8, 16)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    rq = apply_rotary(q.expand(1, 1, 16, 8), cos, sin)
    rk = apply_rotary(k.expand(1, 1, 16, 8), cos, sin)
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1).expand(1, 1, 16))
    dots = (rq[0, 0, :, None] * rk[0, 0, None, :]).sum(-1)  # (16, 16)
    torch.testing.assert_close(dots[3, 1], dots[9, 7])  # same offset, same score


def test_too_long_input_is_rejected():
    with pytest.raises(ValueError, match="context"):
        GPT(tiny())(torch.zeros(1, 13, dtype=torch.long))


def test_bad_shape_is_reported():
    with pytest.raises(ValueError, match="divisible"):
        tiny(d_model=15)
