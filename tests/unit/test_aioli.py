"""Aioli: LearnParams on a planted linear dynamic law, the A solve, EG, step accounting, exact batches."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline_lib.config import ConfigError, build_method_config
from pipeline_lib.config.methods import AioliConfig
from pipeline_lib.lmo import smoothed_one_hot
from pipeline_lib.lmo.dynamic import aioli_A, normalize_A
from pipeline_lib.methods import NO_INPUTS, RunInputs, make_policy
from pipeline_lib.methods.aioli import learn_params, lp_order


def solve_A(beta: np.ndarray, cfg: AioliConfig) -> np.ndarray:
    return aioli_A(beta, cfg.one_hot_factor, cfg.diagonal)


A_TRUE = np.array([[0.020, 0.004, 0.001], [0.006, 0.015, 0.002], [0.001, 0.003, 0.030]])


class LinearEnv:
    """Losses follow L <- L - A q (+ noise) per step; a stand-in for the trainer's RunPort."""

    def __init__(self, A: np.ndarray, noise: float = 0.0, seed: int = 0, steps: int = 1000) -> None:
        self.A, self.noise, self.rng = A, noise, np.random.default_rng(seed)
        self.L = np.full(A.shape[0], 5.0)
        self.step, self.p = 0, np.full(A.shape[0], 1 / A.shape[0])
        self.total_steps, self.seed, self.warmup_steps = steps, 0, 0
        self.calls: list[tuple[tuple[float, ...], bool]] = []

    def train(self, q: np.ndarray, steps: int, exact: bool = False) -> np.ndarray:
        for _ in range(steps):
            self.train_step(q, exact)
        return np.asarray(q, dtype=float)  # a stationary, continuous stand-in: batches realise q

    def train_step(self, q: np.ndarray | None = None, exact: bool = False) -> float:
        q = self.p if q is None else q
        self.calls.append((tuple(np.round(q, 6)), exact))
        self.L = self.L - self.A @ q
        self.step += 1
        return float(self.L.mean())

    def evaluate(self, split: str = "val") -> np.ndarray:
        return self.L + self.rng.normal(0, self.noise, size=self.L.shape)


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_learn_params_recovers_a_planted_law_exactly_without_noise():
    cfg = AioliConfig(lp_rounds=3, lp_steps=4, one_hot_factor=0.625)
    env = LinearEnv(A_TRUE)
    beta, realised = learn_params(env.train, env.evaluate, 3, cfg, np.random.default_rng(0))
    W = smoothed_one_hot(3, 0.625)
    np.testing.assert_allclose(realised, W)
    np.testing.assert_allclose(beta, 4 * A_TRUE @ W.T, rtol=1e-9)  # beta = s A W^T
    np.testing.assert_allclose(solve_A(beta, cfg), 4 * A_TRUE, rtol=1e-9)
    np.testing.assert_allclose(normalize_A(solve_A(beta, cfg)), A_TRUE / A_TRUE.sum(), rtol=1e-9)


def test_learn_params_under_noise_reaches_high_similarity():
    cfg = AioliConfig(lp_rounds=6, lp_steps=4, one_hot_factor=0.625)
    sims = []
    for seed in range(5):
        env = LinearEnv(A_TRUE, noise=0.002, seed=seed)
        beta, _ = learn_params(env.train, env.evaluate, 3, cfg, np.random.default_rng(seed))
        sims.append(_similarity(normalize_A(solve_A(beta, cfg)), A_TRUE))
    # noise sd 0.002 on losses that drop ~0.02-0.12 per LearnParams block: cosine similarity >= 0.97
    assert min(sims) > 0.97, sims


def test_diagonal_variant_and_normalisation():
    beta = np.array([[0.4, 0.1], [0.2, 0.6]])
    cfg = AioliConfig(one_hot_factor=0.5, diagonal=True)
    np.testing.assert_allclose(solve_A(beta, cfg), np.diag([0.8, 1.2]))
    A = normalize_A(np.array([[0.2, -0.1], [0.3, 0.4]]))
    assert A.min() == 0 and A.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(A, np.array([[0.3, 0.0], [0.4, 0.5]]) / 1.2)


def test_lp_order_is_k_permutations():
    order = lp_order(4, 3, np.random.default_rng(1))
    assert len(order) == 12
    for r in range(3):
        assert sorted(order[4 * r : 4 * r + 4]) == [0, 1, 2, 3]


def _policy(method="aioli", inputs=NO_INPUTS, **params):
    base = dict(lp_rounds=2, lp_steps=3, update_steps=50, eta=1.0, one_hot_factor=0.625)
    if method.startswith("aioli+"):
        prior = method.removeprefix("aioli+")
        params = {"aioli": {**base, **params}, "prior_method": prior, "prior": {}}
        return make_policy(method, ("a", "b", "c"), params, inputs)
    return make_policy(method, ("a", "b", "c"), {**base, **params})


def test_policy_moves_p_towards_the_largest_column_sum_and_accounts_steps():
    env = LinearEnv(A_TRUE, steps=200)
    policy = _policy()
    env.p = policy.start(env)
    while env.step < env.total_steps:  # the trainer's loop, reduced to what Aioli sees
        new = policy.before_step(env)
        if new is not None:
            env.p = new
        if env.step < env.total_steps:
            env.train_step()
    lp_per_round = 2 * 3 * 3
    assert len(policy.rounds) == 4 and [r["step"] for r in policy.rounds] == [0, 50, 100, 150]
    assert policy.summary()["lp_steps"] == 4 * lp_per_round
    assert len(env.calls) == 200  # LearnParams steps are part of the 200-step budget
    exact = [q for q, is_exact in env.calls if is_exact]
    assert len(exact) == 4 * lp_per_round
    assert set(exact) == {tuple(np.round(row, 6)) for row in smoothed_one_hot(3, 0.625)}
    # column sums of A_TRUE: 0.027, 0.022, 0.033 -> group c gains most, then a
    p = np.asarray(policy.rounds[-1]["p"])
    assert np.argmax(p) == 2 and p[0] > p[1]


def test_ema_update_is_not_cumulative():
    env = LinearEnv(A_TRUE, steps=200)
    policy = _policy(ema=0.0)  # gamma 0: p depends only on this round's A
    env.p = policy.start(env)
    first = policy.before_step(env)
    env.step = 50
    env.p = first
    second = policy.before_step(env)
    np.testing.assert_allclose(first, second, rtol=1e-6)  # same A each round -> same p, not compounding


def test_static_ablation_runs_one_round_and_prior_resets_to_uniform():
    env = LinearEnv(A_TRUE, steps=120)
    static = _policy("aioli_static")
    env.p = static.start(env)
    static.before_step(env)
    env.step = 50
    assert static.before_step(env) is None and len(static.rounds) == 1
    prior = _policy(prior_steps=10, prior=[0.8, 0.1, 0.1])
    env = LinearEnv(A_TRUE, steps=120)
    np.testing.assert_allclose(prior.start(env), [0.8, 0.1, 0.1])
    assert prior.before_step(env) is None  # no round before the prior phase ends
    env.step = 10
    env.p = np.array([0.8, 0.1, 0.1])
    p = prior.before_step(env)
    expected = np.exp(np.asarray(prior.rounds[0]["A"]).sum(0))  # EG from uniform, eta 1
    np.testing.assert_allclose(p, expected / expected.sum(), rtol=1e-6)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="one_hot_factor"):
        AioliConfig(one_hot_factor=1.5)
    with pytest.raises(ConfigError, match=r"methods\.aioli: unknown parameter\(s\) \['lp_round'\]"):
        build_method_config("aioli", {"lp_round": 2}, "methods.aioli")
    with pytest.raises(ConfigError, match=r"methods\.aioli\.eta: must be float, got '0\.2'"):
        build_method_config("aioli", {"eta": "0.2"}, "methods.aioli")
    with pytest.raises(ValueError, match=r"one_hot_factor = 0\.5 is not above 1/m"):
        make_policy("aioli", ("a", "b"), {"one_hot_factor": 0.5})


def test_ablations_are_overrides_of_the_user_settings():
    static = build_method_config("aioli_static", {"update_steps": 40, "eta": 0.3}, "methods.aioli_static")
    diagonal = build_method_config("aioli_diagonal", {"eta": 0.3}, "methods.aioli_diagonal")
    assert static.update_steps is None and static.eta == 0.3 and not static.diagonal
    assert diagonal.diagonal and diagonal.update_steps == 250


def test_round_guard_rejects_learnparams_as_long_as_a_round():
    cfg = AioliConfig(lp_rounds=3, lp_steps=3, update_steps=18)  # 3 x 3 x m=2 = 18 LearnParams steps
    from pipeline_lib.config import TrainConfig

    assert any("not fewer than a round (18 steps)" in p for p in cfg.setting_problems(2, TrainConfig()))
    assert not AioliConfig(lp_rounds=3, lp_steps=3, update_steps=19).setting_problems(2, TrainConfig())


def test_aioli_plus_x_runs_x_for_the_prefix_then_aioli_from_uniform(tmp_path):
    """Aioli + DML: DML's mixture for prior_steps, then p resets to uniform and Aioli's rounds start."""
    from pipeline_lib.records import FitRecord, Spent

    mixture = (0.6, 0.3, 0.1)
    FitRecord(method="dml", groups=("a", "b", "c"), proportions=mixture, extra_runs=Spent(9, 90)).write(
        tmp_path / "dml.json"
    )
    policy = _policy("aioli+dml", inputs=RunInputs(fit=str(tmp_path / "dml.json")), prior_steps=20)
    env = LinearEnv(A_TRUE, steps=120)
    np.testing.assert_allclose(policy.start(env), [0.6, 0.3, 0.1])
    env.step = 19
    assert policy.before_step(env) is None and not policy.rounds  # still in the prefix
    env.step, env.p = 20, np.array([0.6, 0.3, 0.1])
    p = policy.before_step(env)
    assert [r["step"] for r in policy.rounds] == [20]
    expected = np.exp(np.asarray(policy.rounds[0]["A"]).sum(0))  # EG from uniform (eta 1), not from X's p
    np.testing.assert_allclose(p, expected / expected.sum(), rtol=1e-6)
    assert policy.extra_runs == Spent(9, 90)  # X's learning runs are Aioli + X's cost
    assert policy.summary()["prior"]["steps"] == 20
    with pytest.raises(ConfigError, match="not a baseline"):
        make_policy("aioli+aioli", ("a", "b", "c"), {"aioli": {}, "prior_method": "aioli"})


class RampEnv:
    """Non-stationary and discrete: each step's batch of B sequences realises q rounded to whole sequences
    (the trainer's exact counts), the loss drop scales with a learning rate that rises linearly over the
    warm-up, and every group's loss also falls by a trend that does not depend on the mixture."""

    def __init__(self, A: np.ndarray, batch: int, warmup: int, trend: float = 0.003) -> None:
        from pipeline_lib.data.sampler import exact_counts

        self.A, self.batch, self.warmup_steps, self.trend = A, batch, warmup, trend
        self.counts = exact_counts
        self.L, self.step, self.seed, self.total_steps = np.full(A.shape[0], 5.0), 0, 0, 10_000

    def lr(self) -> float:
        return min(1.0, (self.step + 1) / self.warmup_steps)

    def train(self, q: np.ndarray, steps: int, exact: bool = False) -> np.ndarray:
        realised = self.counts(q, self.batch) / self.batch
        for _ in range(steps):
            self.L = self.L - self.lr() * (self.A @ realised) - self.trend
            self.step += 1
        return realised

    def evaluate(self, split: str = "val") -> np.ndarray:
        return self.L.copy()


def _centred_error(A: np.ndarray, truth: np.ndarray) -> float:
    """Relative error up to a constant shift (a mixture-independent trend adds one to every entry of A, which
    moves every column sum alike, so EG's mixture does not see it)."""
    a, t = A - A.mean(), truth - truth.mean()
    return float(np.linalg.norm(a - t) / np.linalg.norm(t))


def test_learn_params_on_a_ramp_with_m7_and_an_uneven_batch_recovers_A():
    rng = np.random.default_rng(3)
    A7 = np.diag(rng.uniform(0.01, 0.03, 7)) + rng.uniform(0.0, 0.004, (7, 7))
    cfg = AioliConfig(lp_rounds=2, lp_steps=2, one_hot_factor=0.75)
    s = cfg.lp_steps

    def estimate(start_after_warmup: bool, use_realised: bool) -> float:
        env = RampEnv(A7, batch=8, warmup=40)  # 8 x 0.75 = 6 on the hot group, 2 left for 6 others
        if start_after_warmup:
            env.train(np.full(7, 1 / 7), env.warmup_steps)
        beta, W = learn_params(env.train, env.evaluate, 7, cfg, np.random.default_rng(0))
        A = aioli_A(beta, cfg.one_hot_factor, W=W if use_realised else None) / s
        return _centred_error(A, A7)

    assert estimate(start_after_warmup=True, use_realised=True) < 1e-9  # exact up to the trend
    assert estimate(start_after_warmup=True, use_realised=False) > 0.1  # the assumed 1/24 per other group
    assert estimate(start_after_warmup=False, use_realised=True) > 0.3  # inside the warm-up: visit order


def test_first_round_waits_for_the_warmup_when_asked():
    env = LinearEnv(A_TRUE, steps=200)
    env.warmup_steps = 30
    policy = _policy(lp_after_warmup=True)
    env.p = policy.start(env)
    assert policy.before_step(env) is None  # step 0: still warming up
    env.step = 30
    assert policy.before_step(env) is not None and policy.rounds[0]["step"] == 30
