"""The mixture sampler: each sequence's group is drawn from p, then the group's next training chunk is taken.

Each group's training stream is cut into chunks of ``context + 1`` tokens (consecutive chunks share one
token, so every token is a target once). A group walks through its chunks in a seeded random order and
reshuffles when it runs out (an epoch). Group draws and chunk orders use separate seeded generators, so the
same seed gives the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline_lib.lmo.simplex import check_mixture


class GroupStream:
    """Cycles through one group's training chunks in a freshly shuffled order each epoch."""

    def __init__(self, tokens: np.ndarray, context: int, rng: np.random.Generator, name: str = "") -> None:
        n_chunks = (len(tokens) - 1) // context
        if n_chunks < 1:
            raise ValueError(
                f"group '{name}' has {len(tokens)} training tokens, fewer than one sequence of "
                f"{context + 1}; use a smaller model.context or more data"
            )
        self.tokens, self.context, self.rng, self.n_chunks = tokens, context, rng, n_chunks
        self.epoch, self._order, self._pos = 0, rng.permutation(n_chunks), 0

    def next(self) -> np.ndarray:
        if self._pos == self.n_chunks:
            self.epoch += 1
            self._order, self._pos = self.rng.permutation(self.n_chunks), 0
        start = int(self._order[self._pos]) * self.context
        self._pos += 1
        return np.asarray(self.tokens[start : start + self.context + 1], dtype=np.int64)


def exact_counts(p: np.ndarray, n: int) -> np.ndarray:
    """Integer counts summing to ``n`` closest to ``p * n`` (largest remainder; ties to the lower index)."""
    p = np.asarray(p, dtype=np.float64)
    raw = p * n
    counts = np.floor(raw).astype(np.int64)
    short = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


class MixtureSampler:
    """Draws training batches whose groups follow a mixture p over the groups."""

    def __init__(
        self, train_tokens: Sequence[np.ndarray], context: int, seed: int, names: Sequence[str] | None = None
    ) -> None:
        seeds = np.random.SeedSequence(seed).spawn(len(train_tokens) + 1)
        self.group_rng = np.random.default_rng(seeds[0])
        names = list(names) if names is not None else [str(i) for i in range(len(train_tokens))]
        self.streams = [
            GroupStream(tok, context, np.random.default_rng(s), name)
            for tok, s, name in zip(train_tokens, seeds[1:], names, strict=True)
        ]
        self.m = len(self.streams)

    def draw_groups(self, p: np.ndarray, batch_size: int) -> np.ndarray:
        """I.i.d. group indices from p."""
        return self.group_rng.choice(self.m, size=batch_size, p=check_mixture(p, self.m, "sampler mixture"))

    def exact_groups(self, p: np.ndarray, batch_size: int) -> np.ndarray:
        """Group indices whose counts realise p as closely as integers allow, in a shuffled order."""
        groups = np.repeat(np.arange(self.m), exact_counts(p, batch_size))
        return self.group_rng.permutation(groups)

    def state(self) -> dict:
        """RNG states and stream positions, for checkpoint/resume."""
        return {
            "group_rng": self.group_rng.bit_generator.state,
            "streams": [
                {
                    "rng": s.rng.bit_generator.state,
                    "epoch": s.epoch,
                    "order": s._order.tolist(),
                    "pos": s._pos,
                }
                for s in self.streams
            ],
        }

    def load_state(self, state: dict) -> None:
        self.group_rng.bit_generator.state = state["group_rng"]
        for stream, saved in zip(self.streams, state["streams"], strict=True):
            stream.rng.bit_generator.state = saved["rng"]
            stream.epoch, stream._pos = saved["epoch"], saved["pos"]
            stream._order = np.asarray(saved["order"], dtype=np.int64)

    def batch(self, groups: np.ndarray) -> np.ndarray:
        """A (B, context + 1) int64 array: one chunk from each listed group."""
        return np.stack([self.streams[g].next() for g in groups])

    def sample(self, p: np.ndarray, batch_size: int, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        groups = self.exact_groups(p, batch_size) if exact else self.draw_groups(p, batch_size)
        return self.batch(groups), groups


def eval_chunks(tokens: np.ndarray, context: int, limit: int | None = None) -> np.ndarray:
    """Non-overlapping (context + 1)-token chunks of a val/test stream: (N, context + 1). With ``limit`` below
    the number of chunks, ``limit`` chunks evenly spaced over the whole stream (the first one at its start),
    so every part of the split, and so every document of any size, is represented; the first chunks alone
    would be part of one document."""
    total = len(tokens) // (context + 1)
    chunks = np.asarray(tokens[: total * (context + 1)], dtype=np.int64).reshape(total, context + 1)
    if limit is None or limit >= total:
        return chunks
    return chunks[(np.arange(limit) * total) // limit]
