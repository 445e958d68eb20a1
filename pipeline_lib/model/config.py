"""Model shape configuration (no torch import: cheap to load from the Snakefile)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# Named shapes. "pythia-160m" is the paper's model (GPT-NeoX: rotary on 25% of each head,
# parallel residual, untied embeddings); the small ones keep the same structure for CPU runs.
PRESETS: dict[str, dict[str, Any]] = {
    "nano": dict(n_layer=1, n_head=2, d_model=64, context=128),  # Olmix's CPU proxy
    "tiny": dict(n_layer=2, n_head=4, d_model=128, context=128),
    "small": dict(n_layer=4, n_head=4, d_model=256, context=256),
    "pythia-14m": dict(  # Olmix's proxy for a pythia-160m target
        n_layer=6,
        n_head=4,
        d_model=128,
        context=2048,
        rotary_pct=0.25,
        parallel_residual=True,
        tie_embeddings=False,
        pad_vocab_multiple=128,
    ),
    "pythia-160m": dict(
        n_layer=12,
        n_head=12,
        d_model=768,
        context=2048,
        rotary_pct=0.25,
        parallel_residual=True,
        tie_embeddings=False,
        pad_vocab_multiple=128,
    ),
}


def find_multiple(n: int, k: int) -> int:
    return n if n % k == 0 else n + k - n % k


@dataclass(frozen=True)
class ModelConfig:
    """GPT shape. ``vocab_size`` is the tokenizer's; ``padded_vocab`` is what the embedding holds."""

    n_layer: int = 2
    n_head: int = 4
    d_model: int = 128
    context: int = 128
    vocab_size: int = 4096
    rotary_pct: float = 1.0
    parallel_residual: bool = False
    tie_embeddings: bool = True
    bias: bool = True
    mlp_ratio: int = 4
    pad_vocab_multiple: int = 64

    def __post_init__(self) -> None:
        problems = []
        if self.d_model % self.n_head:
            problems.append(
                f"model.d_model ({self.d_model}) must be divisible by model.n_head ({self.n_head})"
            )
        if not 0.0 <= self.rotary_pct <= 1.0:
            problems.append(f"model.rotary_pct must be in [0, 1], got {self.rotary_pct}")
        for name in ("n_layer", "n_head", "d_model", "context", "vocab_size"):
            if getattr(self, name) < 1:
                problems.append(f"model.{name} must be positive")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def padded_vocab(self) -> int:
        return find_multiple(self.vocab_size, self.pad_vocab_multiple)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> ModelConfig:
        """Build from a config block: ``{preset: tiny, n_layer: 3, ...}`` (fields override the preset)."""
        spec = dict(spec)
        preset = spec.pop("preset", None)
        fields = {}
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"model.preset '{preset}' is unknown; choose one of {sorted(PRESETS)}")
            fields.update(PRESETS[preset])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"model: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        fields.update(spec)
        return cls(**fields)

    def with_preset(self, preset: str) -> ModelConfig:
        """This config reshaped to ``preset`` (a proxy), keeping its context and vocabulary."""
        shape = {k: v for k, v in PRESETS[preset].items() if k != "context"}
        return dataclasses.replace(self, **shape)

    def n_params(self, include_embedding: bool = True) -> int:
        """Parameter count, computed from the shape (matches the module's)."""
        d, v = self.d_model, self.padded_vocab
        b = 1 if self.bias else 0
        attn = d * 3 * d + 3 * d * b + d * d + d * b
        mlp = d * self.mlp_ratio * d + self.mlp_ratio * d * b + self.mlp_ratio * d * d + d * b
        norms = 2 * 2 * d
        body = self.n_layer * (attn + mlp + norms) + 2 * d
        emb = v * d * (1 if self.tie_embeddings else 2)
        return body + (emb if include_embedding else 0)

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6 N (non-embedding + head) + attention (PaLM appendix B)."""
        n = self.n_params(include_embedding=False) + self.padded_vocab * self.d_model
        return 6.0 * n + 12.0 * self.n_layer * self.d_model * self.context
