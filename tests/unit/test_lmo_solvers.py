"""Solvers: exponentiated gradient, (capped, KL-regularised) simplex minimisation, the m = 2 closed form."""

import itertools
import math

import numpy as np
import pytest

from pipeline_lib.lmo.laws import LogLinearStaticLaw
from pipeline_lib.lmo.solvers import (
    eg_from_scores,
    eg_step,
    minimize_on_simplex,
    minimize_static_law,
    project_to_capped_simplex,
    two_group_closed_form,
)


def _on_simplex(p: np.ndarray, atol: float = 1e-9) -> bool:
    return bool(p.min() >= 0 and abs(p.sum() - 1.0) < atol)


# ----------------------------------------------------------------------------------------------------------
# Exponentiated gradient
# ----------------------------------------------------------------------------------------------------------
def test_eg_step_hand_computed_two_groups() -> None:
    # column sums (1, 0); eta = ln 3 -> p ∝ (0.5 * 3, 0.5 * 1) = (0.75, 0.25)
    A = np.array([[0.4, 0.0], [0.6, 0.0]])
    np.testing.assert_allclose(eg_step([0.5, 0.5], A, math.log(3.0)), [0.75, 0.25], rtol=1e-14)
    # p = (0.2, 0.8), column sums (0.5, -0.5), eta = 2 -> p ∝ (0.2 e, 0.8 / e)
    A = np.array([[0.5, -0.5], [0.0, 0.0]])
    w = np.array([0.2 * math.e, 0.8 / math.e])
    np.testing.assert_allclose(eg_step([0.2, 0.8], A, 2.0), w / w.sum(), rtol=1e-14)


def test_eg_step_moves_mass_to_largest_column_sum_and_stays_on_simplex() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5))
    A = rng.normal(size=(5, 5))
    new = eg_step(p, A, 0.5)
    assert _on_simplex(new)
    ratio = new / p
    assert np.argmax(ratio) == np.argmax(A.sum(axis=0))
    assert np.argmin(ratio) == np.argmin(A.sum(axis=0))


def test_eg_eta_zero_is_identity_and_large_eta_is_stable() -> None:
    p = np.array([0.1, 0.6, 0.3])
    A = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(eg_step(p, A, 0.0), p, rtol=1e-14)
    big = eg_step(p, A, 1e4)  # exponents ~1e5: must not overflow to NaN
    np.testing.assert_allclose(big, [0.0, 0.0, 1.0], atol=1e-300)
    # a group at 0 stays at 0, even when it has the best score
    np.testing.assert_allclose(eg_from_scores([0.0, 0.5, 0.5], [10.0, 0.0, 1.0], 1.0)[0], 0.0)


def test_eg_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        eg_step([0.5, 0.5], np.ones((3, 3)), 0.1)
    with pytest.raises(ValueError, match="non-negative"):
        eg_from_scores([0.5, -0.5], [1.0, 1.0], 0.1)


# ----------------------------------------------------------------------------------------------------------
# Simplex minimisation
# ----------------------------------------------------------------------------------------------------------
def _quadratic(target: np.ndarray):
    target = np.asarray(target, dtype=float)
    return (lambda p: float(((p - target) ** 2).sum())), (lambda p: 2 * (p - target))


@pytest.mark.parametrize("use_jac", [True, False])
def test_minimize_on_simplex_finds_interior_and_projected_optima(use_jac: bool) -> None:
    f, g = _quadratic([0.2, 0.5, 0.3])
    p = minimize_on_simplex(f, 3, jac=g if use_jac else None)
    assert _on_simplex(p)
    np.testing.assert_allclose(p, [0.2, 0.5, 0.3], atol=1e-6)
    # target off the simplex: the answer is its Euclidean projection (drop the negative entry; 0.9 + 0.1 = 1)
    f, g = _quadratic([0.9, 0.1, -0.2])
    p = minimize_on_simplex(f, 3, jac=g if use_jac else None)
    assert _on_simplex(p)
    np.testing.assert_allclose(p, [0.9, 0.1, 0.0], atol=1e-6)


def test_minimize_on_simplex_respects_binding_caps() -> None:
    f, g = _quadratic([0.7, 0.2, 0.1])
    # without caps the optimum is (0.7, 0.2, 0.1); cap p_1 <= 0.5 and the other two share 0.5 equally shifted
    p = minimize_on_simplex(f, 3, jac=g, caps=[0.5, 1.0, 1.0])
    assert _on_simplex(p) and p[0] <= 0.5 + 1e-12
    np.testing.assert_allclose(p, [0.5, 0.3, 0.2], atol=1e-6)


def test_minimize_on_simplex_infeasible_caps_raise() -> None:
    f, g = _quadratic([0.3, 0.3, 0.4])
    with pytest.raises(ValueError, match="infeasible"):
        minimize_on_simplex(f, 3, jac=g, caps=[0.3, 0.3, 0.3])
    with pytest.raises(ValueError, match="infeasible"):  # kl_to = 0 forces p_3 = 0; remaining caps sum to 0.8
        minimize_on_simplex(f, 3, jac=g, caps=[0.4, 0.4, 1.0], kl_to=[0.5, 0.5, 0.0], kl_weight=1.0)


def test_minimize_on_simplex_kl_matches_closed_form_and_pulls_toward_target() -> None:
    # min g.p + lam KL(p || q) on the simplex has the closed form p ∝ q exp(-g / lam)
    g = np.array([1.0, -0.5, 0.3])
    q = np.array([0.2, 0.5, 0.3])
    dists = []
    for lam in [0.1, 1.0, 10.0, 100.0]:
        p = minimize_on_simplex(lambda p: float(g @ p), 3, jac=lambda p: g, kl_to=q, kl_weight=lam)
        w = q * np.exp(-g / lam)
        np.testing.assert_allclose(p, w / w.sum(), atol=1e-5)
        dists.append(np.abs(p - q).sum())
    assert all(a > b for a, b in itertools.pairwise(dists))
    assert dists[-1] < 0.02


def test_minimize_on_simplex_raises_when_every_start_fails() -> None:
    with pytest.raises(RuntimeError, match="every start"):
        minimize_on_simplex(lambda p: float("nan"), 3)


def test_project_to_capped_simplex() -> None:
    np.testing.assert_allclose(project_to_capped_simplex([0.9, 0.1, -0.2]), [0.9, 0.1, 0.0], atol=1e-12)
    p = project_to_capped_simplex([5.0, 1.0, 0.0], caps=[0.6, 0.3, 1.0])
    np.testing.assert_allclose(p, [0.6, 0.3, 0.1], atol=1e-12)


# ----------------------------------------------------------------------------------------------------------
# Static law optimum
# ----------------------------------------------------------------------------------------------------------
def _paper_two_group_optimum(k1: float, b1: float, k2: float, b2: float) -> float:
    """The paper's m = 2 DML optimum for L_i = c_i + exp(k_i p_i + b_i) (aioli-spec section B, DML m = 2)."""
    return (k2 + b2 - b1 + math.log(k2 / k1)) / (k1 + k2)


TWO_GROUP_LAWS = [
    LogLinearStaticLaw([2.6, 3.0], [1.2, 0.9], [[2.5, 0.0], [0.0, 2.0]]),  # own-proportion form
    LogLinearStaticLaw([2.0, 2.2], [0.8, 1.6], [[3.0, 0.0], [0.0, 1.2]]),
    LogLinearStaticLaw([2.0, 2.2], [0.8, 1.6], [[3.0, 0.7], [-0.4, 1.2]]),  # off-diagonal entries too
]


@pytest.mark.parametrize("law", TWO_GROUP_LAWS)
def test_two_group_numeric_optimum_matches_closed_form(law: LogLinearStaticLaw) -> None:
    closed = two_group_closed_form(law)
    numeric = minimize_static_law(law)
    np.testing.assert_allclose(numeric, closed, atol=1e-4)
    grid = np.linspace(0, 1, 100_001)
    totals = law.predict(np.column_stack([grid, 1 - grid])).sum(axis=1)
    assert abs(grid[int(np.argmin(totals))] - closed[0]) <= 2e-5  # grid step 1e-5


@pytest.mark.parametrize("law", TWO_GROUP_LAWS)
def test_closed_form_agrees_with_paper_formula(law: LogLinearStaticLaw) -> None:
    # paper parameterisation: k_i = -a_i and b_i(paper) = ln b_i, with a_i the own-proportion coefficient
    own = law.canonical()  # for m = 2: off-diagonal entries 0
    assert own.A[0, 1] == 0 and own.A[1, 0] == 0
    k1, k2 = -own.A[0, 0], -own.A[1, 1]
    beta1, beta2 = math.log(own.b[0]), math.log(own.b[1])
    paper = _paper_two_group_optimum(k1, beta1, k2, beta2)
    assert 0 < paper < 1  # interior, so clipping plays no part
    assert two_group_closed_form(law)[0] == pytest.approx(paper, abs=1e-12)


def test_closed_form_handles_monotone_cases() -> None:
    # group 1's loss rises with its own share (a1 < 0) while group 2 benefits from its share: p_1 = 0
    law = LogLinearStaticLaw([2.0, 2.0], [1.0, 1.0], [[-1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(two_group_closed_form(law), [0.0, 1.0])
    np.testing.assert_allclose(minimize_static_law(law), [0.0, 1.0], atol=1e-6)
    law = LogLinearStaticLaw([2.0, 2.0], [1.0, 1.0], [[2.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(two_group_closed_form(law), [1.0, 0.0])
    with pytest.raises(ValueError, match="m = 2"):
        two_group_closed_form(LogLinearStaticLaw([1, 1, 1], [1, 1, 1], np.eye(3)))


def test_minimize_static_law_three_groups_beats_dense_grid_and_respects_caps() -> None:
    law = LogLinearStaticLaw(
        [2.5, 2.9, 3.2], [1.0, 1.3, 0.8], [[2.2, 0.4, -0.4], [0.3, 2.8, -0.3], [-0.5, 0.5, 1.8]]
    )
    p = minimize_static_law(law, seed=1)
    assert _on_simplex(p)
    ticks = np.linspace(0, 1, 201)
    grid = np.array([[a, b, 1 - a - b] for a in ticks for b in ticks if a + b <= 1 + 1e-12])
    grid_best = law.predict(np.clip(grid, 0, 1)).sum(axis=1).min()
    assert law.total(p) <= grid_best + 1e-9
    capped = minimize_static_law(law, caps=[1.0, 0.2, 1.0])
    assert p[1] > 0.2 + 1e-3  # so the cap binds
    assert capped[1] == pytest.approx(0.2, abs=1e-7) and _on_simplex(capped)
