"""Mixing laws: recovery of planted parameters from noisy synthetic losses, scores and serialisation."""

import json

import numpy as np
import pytest

from pipeline_lib.lmo.laws import FitReport, LinearDynamicLaw, LogLinearStaticLaw, r2_per_column

NOISE_SD = 0.005  # loss noise, about the run-to-run noise of a small LM's validation loss

# Planted static laws, written in the fit's gauge (mean off-diagonal entry of each row of A is 0),
# so fitted parameters are comparable entry by entry. m = 2 is the own-proportion form.
PLANTED_STATIC = {
    2: LogLinearStaticLaw([2.6, 3.0], [1.2, 0.9], [[2.5, 0.0], [0.0, 2.0]]),
    3: LogLinearStaticLaw(
        [2.5, 2.9, 3.2],
        [1.0, 1.3, 0.8],
        [[2.2, 0.4, -0.4], [0.3, 2.8, -0.3], [-0.5, 0.5, 1.8]],
    ),
}


def _noisy_static_data(law: LogLinearStaticLaw, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(law.m), n)
    return P, law.predict(P) + rng.normal(0.0, NOISE_SD, (n, law.m))


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).mean()))


@pytest.mark.parametrize("m", sorted(PLANTED_STATIC))
def test_static_law_recovers_planted_parameters(m: int) -> None:
    true = PLANTED_STATIC[m]
    P, L = _noisy_static_data(true, n=20, seed=7)
    law = LogLinearStaticLaw.fit(P, L, seed=0)

    held_out = np.random.default_rng(99).dirichlet(np.ones(m), 500)
    # held-out predictions: RMSE within 2x the noise sd, worst point within 0.05
    assert _rmse(law.predict(held_out), true.predict(held_out)) < 2 * NOISE_SD
    assert np.abs(law.predict(held_out) - true.predict(held_out)).max() < 0.05
    assert law.r2(P, L).min() > 0.99
    # identifiable parameters (in the shared gauge): c, b (relative) and A
    np.testing.assert_allclose(law.c, true.c, atol=0.06)
    np.testing.assert_allclose(law.b, true.b, rtol=0.08)
    np.testing.assert_allclose(law.A, true.A, atol=0.25)
    assert np.all(law.c >= 0) and np.all(law.c < L.min(axis=0))


def test_static_fit_is_deterministic_per_seed() -> None:
    P, L = _noisy_static_data(PLANTED_STATIC[3], n=20, seed=1)
    a = LogLinearStaticLaw.fit(P, L, seed=3).to_dict()
    assert a == LogLinearStaticLaw.fit(P, L, seed=3).to_dict()


def test_static_fit_huber_resists_an_outlier_run() -> None:
    true = PLANTED_STATIC[2]
    P, L = _noisy_static_data(true, n=20, seed=3)
    L[4, 0] += 0.5  # one broken run
    held_out = np.random.default_rng(5).dirichlet(np.ones(2), 200)
    robust = LogLinearStaticLaw.fit(P, L, seed=0, huber_delta=0.02)
    squared = LogLinearStaticLaw.fit(P, L, seed=0, huber_delta=10.0)  # delta >> residuals: least squares
    err_robust = _rmse(robust.predict(held_out), true.predict(held_out))
    err_squared = _rmse(squared.predict(held_out), true.predict(held_out))
    assert err_robust < 0.02
    assert err_robust < 0.5 * err_squared


def test_static_leave_one_out_predicts_unseen_runs() -> None:
    true = PLANTED_STATIC[2]
    P, L = _noisy_static_data(true, n=12, seed=11)
    loo = LogLinearStaticLaw.leave_one_out(P, L, seed=0, n_starts=3)  # 12 refits: keep it quick
    assert loo.shape == L.shape
    # every prediction comes from a fit that never saw that run: close to the truth, not equal to the data
    assert _rmse(loo, true.predict(P)) < 3 * NOISE_SD
    in_sample = LogLinearStaticLaw.fit(P, L, seed=0, n_starts=3).predict(P)
    assert _rmse(loo, L) > _rmse(in_sample, L)


def test_static_canonical_gauge_keeps_predictions() -> None:
    law = LogLinearStaticLaw([2.0, 2.5, 3.0], [1.0, 2.0, 0.5], [[1.0, 2.0, 0.5], [0.3, 1.5, 0.9], [0, 0, 2]])
    canon = law.canonical()
    P = np.random.default_rng(0).dirichlet(np.ones(3), 50)
    np.testing.assert_allclose(canon.predict(P), law.predict(P), rtol=1e-12)
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose([canon.A[i, off[i]].mean() for i in range(3)], 0.0, atol=1e-15)


def test_static_total_and_gradient() -> None:
    law = PLANTED_STATIC[3]
    p = np.array([0.2, 0.5, 0.3])
    assert law.total(p) == pytest.approx(law.predict(p[None])[0].sum(), rel=1e-14)
    eps = 1e-6
    numeric = [(law.total(p + eps * e) - law.total(p - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(law.total_grad(p), numeric, rtol=1e-6)


def test_static_serialisation_round_trip_through_json() -> None:
    law = PLANTED_STATIC[3]
    d = json.loads(json.dumps(law.to_dict()))
    again = LogLinearStaticLaw.from_dict(d)
    assert (
        np.array_equal(again.A, law.A) and np.array_equal(again.b, law.b) and np.array_equal(again.c, law.c)
    )
    with pytest.raises(ValueError, match="log_linear_static"):
        LogLinearStaticLaw.from_dict({**d, "kind": "linear_dynamic"})


def test_static_fit_rejects_bad_input() -> None:
    P, L = _noisy_static_data(PLANTED_STATIC[3], n=20, seed=0)
    with pytest.raises(ValueError, match="at least m \\+ 1"):
        LogLinearStaticLaw.fit(P[:3], L[:3])
    with pytest.raises(ValueError, match="positive losses"):
        LogLinearStaticLaw.fit(P, L - 10)
    with pytest.raises(ValueError, match="sum to 1"):
        LogLinearStaticLaw.fit(P * 2, L)
    with pytest.raises(ValueError, match="shape"):
        LogLinearStaticLaw.fit(P, L[:, :2])
    with pytest.raises(ValueError, match="positive"):
        LogLinearStaticLaw([1.0, 1.0], [1.0, -1.0], np.eye(2))


def test_r2_argument_order_is_true_then_predicted() -> None:
    y = np.array([[1.0], [2.0], [3.0], [4.0]])
    pred = np.array([[1.5], [2.0], [3.0], [3.5]])
    # SS_res = 0.5, SS_tot(y) = 5 -> 0.9; swapped arguments would give 1 - 0.5 / 2.75
    np.testing.assert_allclose(r2_per_column(y, pred), [0.9], rtol=1e-14)
    rep = FitReport.from_predictions(np.hstack([y, 2 * y]), np.hstack([pred, 2 * y]))
    assert rep.r2 == pytest.approx((0.9, 1.0)) and rep.r2_mean == pytest.approx(0.95)
    assert rep.mse == pytest.approx((0.125, 0.0)) and rep.to_dict()["n_runs"] == 4


# ----------------------------------------------------------------------------------------------------------
# Linear dynamic law
# ----------------------------------------------------------------------------------------------------------
def _planted_dynamic(m: int) -> np.ndarray:
    rng = np.random.default_rng(m)
    return rng.uniform(0.0, 0.02, (m, m)) + np.diag(rng.uniform(0.05, 0.15, m))


def _noisy_dynamic_data(A: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = A.shape[0]
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(m), n)
    L_before = 3.0 + rng.normal(0.0, 0.05, (n, m))
    return L_before, P, L_before - P @ A.T + rng.normal(0.0, NOISE_SD, (n, m))


@pytest.mark.parametrize(("m", "n", "atol"), [(3, 30, 0.015), (7, 60, 0.03)])
def test_dynamic_law_recovers_planted_A(m: int, n: int, atol: float) -> None:
    A = _planted_dynamic(m)
    L_before, P, L_after = _noisy_dynamic_data(A, n, seed=2)
    law = LinearDynamicLaw.fit(L_before, P, L_after)
    np.testing.assert_allclose(law.A, A, atol=atol)  # planted entries are 0..0.17
    assert law.r2(L_before, P, L_after).min() > 0.95
    assert law.mse(L_before, P, L_after).max() < 2 * NOISE_SD**2
    huber = LinearDynamicLaw.fit(L_before, P, L_after, huber_delta=0.01)
    np.testing.assert_allclose(huber.A, A, atol=atol)


def test_dynamic_huber_resists_outliers() -> None:
    A = _planted_dynamic(3)
    L_before, P, L_after = _noisy_dynamic_data(A, 30, seed=4)
    L_after[[2, 9], 1] -= 0.3  # two broken evaluations
    ls = LinearDynamicLaw.fit(L_before, P, L_after)
    hub = LinearDynamicLaw.fit(L_before, P, L_after, huber_delta=0.01)
    assert np.abs(hub.A - A).max() < 0.02
    assert np.abs(hub.A - A).max() < 0.5 * np.abs(ls.A - A).max()


def test_dynamic_predict_serialise_and_reject_degenerate_mixtures() -> None:
    A = _planted_dynamic(3)
    law = LinearDynamicLaw(A)
    L_before = np.array([[3.0, 3.1, 2.9]])
    P = np.array([[0.5, 0.25, 0.25]])
    np.testing.assert_allclose(law.predict(L_before, P), L_before - P @ A.T, rtol=1e-14)
    again = LinearDynamicLaw.from_dict(json.loads(json.dumps(law.to_dict())))
    assert np.array_equal(again.A, A)
    same_mix = np.tile([0.2, 0.3, 0.5], (5, 1))
    with pytest.raises(ValueError, match="rank"):
        LinearDynamicLaw.fit(np.ones((5, 3)), same_mix, np.ones((5, 3)))
