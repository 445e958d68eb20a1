from __future__ import annotations

import numpy as np
import pytest

from pipeline_lib.data.sampler import MixtureSampler, eval_chunks, exact_counts


def _streams(m: int = 3, n: int = 5000) -> list[np.ndarray]:
    # group g's tokens are g*10000 + position, so a chunk reveals its group and offset
    return [np.arange(n, dtype=np.int64) + 10000 * g for g in range(m)]


def test_group_draws_follow_p_within_statistical_bound():
    sampler = MixtureSampler(_streams(), context=8, seed=1)
    p = np.array([0.2, 0.5, 0.3])
    n = 20000
    groups = sampler.draw_groups(p, n)
    counts = np.bincount(groups, minlength=3) / n
    bound = 5 * np.sqrt(p * (1 - p) / n)  # 5 sigma
    assert np.all(np.abs(counts - p) < bound), (counts, p)


def test_batches_are_contiguous_chunks_of_the_right_group():
    sampler = MixtureSampler(_streams(), context=8, seed=0)
    batch, groups = sampler.sample(np.array([0.3, 0.3, 0.4]), 64)
    assert batch.shape == (64, 9)
    assert np.all(batch // 10000 == groups[:, None])
    assert np.all(np.diff(batch, axis=1) == 1)  # consecutive tokens
    assert np.all(batch[:, 0] % 8 == 0)  # chunks start on the context grid


def test_a_group_visits_every_chunk_once_per_epoch():
    sampler = MixtureSampler(_streams(m=2, n=81), context=8, seed=3)  # 10 chunks per group
    starts = [sampler.batch(np.array([0]))[0, 0] for _ in range(10)]
    assert sorted(starts) == list(range(0, 80, 8))
    assert sampler.streams[0].epoch == 0
    sampler.batch(np.array([0]))
    assert sampler.streams[0].epoch == 1


def test_same_seed_same_batches_and_state_round_trip():
    p = np.array([0.5, 0.25, 0.25])
    a, b = MixtureSampler(_streams(), 8, seed=7), MixtureSampler(_streams(), 8, seed=7)
    assert np.array_equal(a.sample(p, 32)[0], b.sample(p, 32)[0])
    state = a.state()
    expected = a.sample(p, 32)[0]
    c = MixtureSampler(_streams(), 8, seed=99)
    c.load_state(state)
    assert np.array_equal(c.sample(p, 32)[0], expected)
    assert not np.array_equal(MixtureSampler(_streams(), 8, seed=8).sample(p, 32)[0], b.sample(p, 32)[0])


@pytest.mark.parametrize(
    "p,n", [([0.625, 0.375], 8), ([0.5, 0.25, 0.25], 8), ([1 / 7] * 7, 8), ([0.1, 0.9], 3)]
)
def test_exact_counts_sum_and_round(p, n):
    counts = exact_counts(np.array(p), n)
    assert counts.sum() == n
    assert np.all(np.abs(counts - np.array(p) * n) < 1)


def test_exact_batches_realise_the_mixture():
    sampler = MixtureSampler(_streams(), 8, seed=0)
    _, groups = sampler.sample(np.array([0.5, 0.25, 0.25]), 8, exact=True)
    assert np.bincount(groups, minlength=3).tolist() == [4, 2, 2]


def test_invalid_mixture_is_rejected():
    sampler = MixtureSampler(_streams(), 8, seed=0)
    with pytest.raises(ValueError, match="mixture"):
        sampler.draw_groups(np.array([0.5, 0.6, -0.1]), 4)


def test_eval_chunks_are_non_overlapping_and_limited():
    tokens = np.arange(100)
    chunks = eval_chunks(tokens, context=9)
    assert chunks.shape == (10, 10) and chunks[1, 0] == 10
    assert eval_chunks(tokens, context=9, limit=3).shape == (3, 10)


def test_a_limited_evaluation_subset_spans_the_whole_split():
    tokens = np.arange(1000, dtype=np.uint16)  # 100 chunks of 10 tokens
    chunks = eval_chunks(tokens, context=9, limit=4)
    assert chunks[:, 0].tolist() == [0, 250, 500, 750]  # evenly spaced, not the first four
    np.testing.assert_array_equal(chunks[1], np.arange(250, 260))  # whole, aligned chunks
    assert eval_chunks(tokens, context=9, limit=1000).shape == (100, 10)
