"""A GPT-NeoX-style decoder: rotary attention (on a fraction of each head), optional parallel residual.

Attention (``attention``): ``auto`` runs flash-attn when it is installed and the inputs are bf16/fp16 on
CUDA, otherwise ``torch.nn.functional.scaled_dot_product_attention`` (which picks a fused kernel itself);
``sdpa`` always SDPA; ``flash`` always flash-attn (an error where it cannot run). ``loss_chunk`` > 0
computes the head and the cross-entropy over that many tokens at a time (:class:`ChunkedHeadLoss`), so the
(tokens x vocabulary) fp32 logits of a 50k vocabulary are never held whole.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

from pipeline_lib.model.config import ModelConfig

try:  # optional extra: pip install --no-build-isolation flash-attn
    from flash_attn import flash_attn_func
except ImportError:  # pragma: no cover - depends on the machine
    flash_attn_func = None

log = logging.getLogger(__name__)
ATTENTION = ("auto", "sdpa", "flash")


def flash_available() -> bool:
    """Whether the flash-attn package is importable here."""
    return flash_attn_func is not None


def rotary_tables(rot_dim: int, context: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables of shape (context, rot_dim) for rotary position embedding."""
    inv_freq = 1.0 / base ** (torch.arange(0, rot_dim, 2, dtype=torch.float32) / rot_dim)
    angles = torch.outer(torch.arange(context, dtype=torch.float32), inv_freq)  # (T, rot_dim/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, rot_dim)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first ``cos.shape[-1]`` channels of x (B, H, T, D); the rest pass through."""
    rot = cos.shape[-1]
    x_rot, x_pass = x[..., :rot], x[..., rot:]
    half = rot // 2
    rotated = torch.cat([-x_rot[..., half:], x_rot[..., :half]], dim=-1)
    return torch.cat([x_rot * cos + rotated * sin, x_pass], dim=-1)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig, attention: str = "auto") -> None:
        super().__init__()
        if attention not in ATTENTION:
            raise ValueError(f"attention must be one of {ATTENTION}, got '{attention}'")
        if attention == "flash" and flash_attn_func is None:
            raise ValueError(
                "attention 'flash' needs flash-attn: pip install --no-build-isolation flash-attn"
            )
        self.attention = attention
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.bias)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        rot_dim = int(cfg.head_dim * cfg.rotary_pct) // 2 * 2
        cos, sin = rotary_tables(rot_dim, cfg.context) if rot_dim else (torch.zeros(0), torch.zeros(0))
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).unbind(dim=2)  # each (B, T, H, D)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        if self.cos.numel():
            cos, sin = self.cos[:T].to(q.dtype), self.sin[:T].to(q.dtype)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if self._use_flash(q):
            y = flash_attn_func(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=True
            )  # (B,T,H,D)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2)  # (B, T, H, D)
        return self.proj(y.reshape(B, T, C))

    def _use_flash(self, q: torch.Tensor) -> bool:
        """flash-attn for ``flash``, and for ``auto`` where it can run (installed, CUDA, half precision)."""
        runnable = flash_attn_func is not None and q.is_cuda and q.dtype in (torch.bfloat16, torch.float16)
        if self.attention == "flash" and not runnable:
            raise RuntimeError(f"attention 'flash' needs CUDA bf16/fp16 inputs, got {q.dtype} on {q.device}")
        return runnable and self.attention != "sdpa"


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.up = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model, bias=cfg.bias)
        self.down = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, attention: str = "auto") -> None:
        super().__init__()
        self.parallel = cfg.parallel_residual
        self.ln_attn = nn.LayerNorm(cfg.d_model)
        self.ln_mlp = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg, attention)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.parallel:  # GPT-NeoX: x + attn(ln1(x)) + mlp(ln2(x))
            return x + self.attn(self.ln_attn(x)) + self.mlp(self.ln_mlp(x))
        x = x + self.attn(self.ln_attn(x))
        return x + self.mlp(self.ln_mlp(x))


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig, attention: str = "auto", loss_chunk: int = 0) -> None:
        super().__init__()
        if loss_chunk < 0:
            raise ValueError(f"loss_chunk must be >= 0, got {loss_chunk}")
        self.cfg = cfg
        self.loss_chunk = loss_chunk
        self.embed = nn.Embedding(cfg.padded_vocab, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, attention) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.padded_vocab, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.embed.weight
        self.apply(self._init_weights)
        # GPT-2: scale the residual projections by 1/sqrt(2 * n_layer)
        for name, param in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx (B, T) -> logits (B, T, V); with targets, also the per-token losses (B, T). With
        ``loss_chunk`` and targets, the logits are not formed: (None, losses)."""
        if idx.shape[1] > self.cfg.context:
            raise ValueError(f"sequence length {idx.shape[1]} exceeds model.context {self.cfg.context}")
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)
        if targets is not None and self.loss_chunk:
            return None, chunked_losses(self.ln_f(x), self.head.weight, targets, self.loss_chunk)
        logits = self.head(self.ln_f(x))
        if targets is None:
            return logits, None
        losses = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")
        return logits, losses.view_as(targets)

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: matrices decay; biases, norms (1-D tensors) do not."""
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def chunked_losses(x: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:
    """Per-token losses (B, T) of hidden states x (B, T, d) under the head ``weight`` (V, d), ``chunk`` tokens
    at a time, in the autocast dtype when autocast is on (as the plain head's matmul)."""
    dtype = x.dtype
    if torch.is_autocast_enabled(x.device.type):
        dtype = torch.get_autocast_dtype(x.device.type)
    flat = x.reshape(-1, x.shape[-1]).to(dtype)
    losses = ChunkedHeadLoss.apply(flat, weight.to(dtype), targets.reshape(-1), chunk)
    return losses.view_as(targets)


class ChunkedHeadLoss(torch.autograd.Function):
    """Cross-entropy of ``x @ weight.T`` row by row in chunks; the backward recomputes each chunk's logits
    (softmax - one-hot, scaled by the incoming gradient) instead of keeping them."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight, targets)
        ctx.chunk = chunk
        losses = torch.empty(x.shape[0], dtype=torch.float32, device=x.device)
        with torch.autocast(x.device.type, enabled=False):
            for s in range(0, x.shape[0], chunk):
                logits = (x[s : s + chunk] @ weight.t()).float()  # (c, V)
                losses[s : s + chunk] = F.cross_entropy(logits, targets[s : s + chunk], reduction="none")
        return losses

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None]:
        x, weight, targets = ctx.saved_tensors
        grad_x = torch.empty_like(x)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        with torch.autocast(x.device.type, enabled=False):
            for s in range(0, x.shape[0], ctx.chunk):
                xs, ts = x[s : s + ctx.chunk], targets[s : s + ctx.chunk]
                d_logits = torch.softmax((xs @ weight.t()).float(), dim=-1)  # (c, V)
                d_logits[torch.arange(len(ts), device=ts.device), ts] -= 1.0
                d_logits = (d_logits * grad[s : s + ctx.chunk, None]).to(x.dtype)
                grad_x[s : s + ctx.chunk] = d_logits @ weight
                grad_w += (d_logits.t() @ xs).float()
        return grad_x, grad_w.to(weight.dtype), None, None
