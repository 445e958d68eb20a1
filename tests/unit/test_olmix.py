"""Olmix: the per-task law, the swarm, the constrained solve, the CSV layout, bits per byte."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline_lib.config.methods import OlmixConfig
from pipeline_lib.lmo import (
    FitSettings,
    LogLinearStaticLaw,
    SwarmSettings,
    TaskLogLinearLaw,
    dirichlet_swarm,
    minimize_task_law,
    repetition_caps,
)
from pipeline_lib.olmix.__main__ import main as olmix_main
from pipeline_lib.olmix.propose import InfeasibleCaps, SolveSettings, propose
from pipeline_lib.olmix.swarmio import Priors, Swarm
from pipeline_lib.records import OlmixFit, Spent
from pipeline_lib.train.evaluations import bits_per_byte
from tests.records import FIXTURES, fixture, write_run

PRIOR = np.array([0.5, 0.3, 0.2])
TOKENS = np.array([5e5, 3e5, 2e5])
FAST = FitSettings(n_random=3, loo_n_random=1)


def planted(K: int = 12, noise: float = 0.003, seed: int = 0):
    rng = np.random.default_rng(seed)
    P = dirichlet_swarm(PRIOR, TOKENS, 100_000, K, seed, SwarmSettings())
    c = np.array([1.0, 1.5, 0.8])
    t = np.array([[0.2, -0.4, 0.3], [0.1, -0.2, 0.4], [0.5, 0.3, -0.6]])
    Y = c + np.exp(P @ t.T) + rng.normal(0, noise, (K, 3))
    return P, Y, c, t


def centred(t: np.ndarray) -> np.ndarray:
    return t - t.mean(axis=1, keepdims=True)


def test_fit_recovers_planted_laws_under_noise():
    P, Y, c, t = planted()
    law = TaskLogLinearLaw.fit(P, Y, ("a", "b", "c"), FAST)
    pred = law.predict(P)
    assert np.abs(pred - Y).max() < 0.015  # within a few noise sds everywhere
    assert np.allclose(law.c, c, atol=0.15)
    assert np.allclose(centred(law.t), centred(t), atol=0.1)


def test_a_domain_absent_from_every_run_gets_the_mean_coefficient_and_moves_nothing():
    P, Y, _, _ = planted()
    P4 = np.column_stack([P, np.zeros(len(P))])  # a fourth domain no run trained on
    law = TaskLogLinearLaw.fit(P4, Y, ("a", "b", "c"), FAST)
    assert np.allclose(law.t[:, 3], law.t[:, :3].mean(axis=1), rtol=0, atol=1e-12)
    three = TaskLogLinearLaw.fit(P, Y, ("a", "b", "c"), FAST)  # the other coefficients fit as without it
    assert np.allclose(law.predict(P4), three.predict(P), atol=2e-4)
    # the proposal stays finite and on the simplex, and weighs the unknown domain like an average one
    p = minimize_task_law(law, prior=np.full(4, 0.25), kl_weight=0.05)
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0) and 0 < p[3] < 0.5


def test_leave_one_out_survives_a_domain_only_one_run_trained_on():
    P, Y, c, t = planted(K=14, noise=0.002)
    P = np.column_stack([P, np.zeros(len(P))])
    P[0] = [0.2, 0.2, 0.2, 0.4]  # the fourth domain's only run: leaving it out leaves the domain absent
    t4 = np.column_stack([t, t.mean(axis=1)])
    Y[0] = c + np.exp(P[0] @ t4.T)
    swarm = Swarm(tuple(f"r{k}" for k in range(len(P))), ("a", "b", "c", "d"), P, ("x", "y", "z"), Y)
    fit = propose(swarm, None, FAST)["fit"]
    loo = np.array(fit["loo_predicted"])
    assert np.all(np.isfinite(loo)) and abs(loo[0] - Y[0]).max() < 0.1
    assert fit["correlations"]["average"]["leave_one_out"]["pearson"] > 0.9


def test_ridge_is_relative_to_the_tasks_spread():
    P, Y, _, _ = planted()
    y = Y[:, :1]
    fits = {
        (ridge, scale): centred(
            TaskLogLinearLaw.fit(P, scale * y, ("x",), FitSettings(ridge=ridge, n_random=3)).t
        )
        for ridge in (0.0, 0.01)
        for scale in (1.0, 0.5)
    }
    # the same relative ridge shrinks t alike at either scale of the metric
    assert np.allclose(fits[0.01, 1.0], fits[0.01, 0.5], atol=5e-3)
    assert np.abs(fits[0.01, 1.0]).sum() < 0.7 * np.abs(fits[0.0, 1.0]).sum()


def test_static_law_maps_onto_the_task_law():
    rng = np.random.default_rng(1)
    static = LogLinearStaticLaw(np.array([1.0, 2.0]), np.array([0.5, 1.5]), rng.normal(size=(2, 2)))
    P = rng.dirichlet(np.ones(2), size=5)
    task = TaskLogLinearLaw.from_static(static, ("x", "y"))
    assert np.allclose(task.predict(P), static.predict(P))


def test_swarm_is_deterministic_distinct_and_within_bounds():
    s = SwarmSettings(repetitions=1.0)
    proxy = 600_000  # bounds: 0.83, 0.5, 0.33
    a = dirichlet_swarm(PRIOR, TOKENS, proxy, 12, 7, s)
    assert np.array_equal(a, dirichlet_swarm(PRIOR, TOKENS, proxy, 12, 7, s))
    assert not np.array_equal(a, dirichlet_swarm(PRIOR, TOKENS, proxy, 12, 8, s))
    assert a.shape == (12, 3) and np.allclose(a.sum(axis=1), 1.0)
    assert np.all((a == 0) | (a >= s.minimum_weight))
    assert np.all(np.ceil(1000 * np.floor(a * proxy) / TOKENS) / 1000 <= 1.0)  # whole tokens, as olmix
    assert all(not np.allclose(a[i], a[j], atol=1e-5) for i in range(12) for j in range(i))
    assert SwarmSettings().size(3) == 12 and SwarmSettings(factor=2.5).size(6) == 18


def test_swarm_weights_lie_on_the_minimum_weight_grid():
    s = SwarmSettings(minimum_weight=0.05)
    a = dirichlet_swarm(PRIOR, TOKENS, 100_000, 12, 0, s)
    # olmix rounds each draw to multiples of the minimum, then renormalises: each row is k / sum(k) for
    # integers k with sum(k) * 0.05 within m / 2 steps of 1
    for row in a:
        n = [n for n in range(17, 24) if np.allclose(row * n, np.round(row * n), atol=1e-9)]
        assert n, row
    fine = dirichlet_swarm(PRIOR, TOKENS, 100_000, 12, 0, SwarmSettings(minimum_weight=0.0))
    assert not all(np.allclose(r * 20, np.round(r * 20), atol=1e-9) for r in fine)  # no minimum: no grid
    # the grid merges near-identical draws, so fewer distinct mixtures pass: a small grid asks for too many
    with pytest.raises(ValueError, match="distinct mixtures"):
        dirichlet_swarm(PRIOR, TOKENS, 100_000, 200, 0, SwarmSettings(minimum_weight=0.25))


def test_swarm_says_when_the_bounds_leave_no_mixture():
    with pytest.raises(ValueError, match="sum to"):
        dirichlet_swarm(PRIOR, TOKENS, 10_000_000, 12, 0, SwarmSettings(repetitions=1.0))


def _two_task_law() -> TaskLogLinearLaw:
    return TaskLogLinearLaw(("a", "b"), np.zeros(2), np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.0]]))


def test_solver_respects_caps_and_the_simplex():
    law = _two_task_law()  # domain 3 lowers both tasks' metrics: unconstrained, all weight goes there
    free = minimize_task_law(law)
    assert free[2] > 0.99
    caps = np.array([1.0, 1.0, 0.3])
    p = minimize_task_law(law, caps=caps, prior=np.full(3, 1 / 3), kl_weight=0.01)
    assert p.sum() == pytest.approx(1.0) and p.min() >= 0 and p[2] <= 0.3 + 1e-7
    assert p[2] == pytest.approx(0.3, abs=1e-4)  # the cap binds


def test_solver_returns_the_prior_as_lambda_grows():
    prior = np.array([0.6, 0.3, 0.1])
    p = minimize_task_law(_two_task_law(), prior=prior, kl_weight=1e4)
    assert np.allclose(p, prior, atol=1e-3)


def test_solver_matches_a_hand_solved_case():
    # one task, f(p) = exp(-p_1) over two domains, lambda KL(p || (1/2, 1/2)): the optimum has
    # -exp(-p) + lambda log(p / (1 - p)) = 0; at lambda = 1 its root is p = 0.63008 (bisection by hand)
    law = TaskLogLinearLaw(("a",), np.zeros(1), np.array([[-1.0, 0.0]]))
    p = minimize_task_law(law, prior=np.array([0.5, 0.5]), kl_weight=1.0)
    root = 0.6300778
    assert -math.exp(-root) + math.log(root / (1 - root)) == pytest.approx(0.0, abs=1e-5)
    assert p[0] == pytest.approx(root, abs=1e-4)


def test_repetition_caps_and_infeasible_caps_name_the_groups():
    assert np.allclose(repetition_caps([1000, 10_000], 8000, 4), [0.5, 1.0])
    P, Y, _, _ = planted()
    swarm = Swarm(tuple(f"r{k}" for k in range(len(P))), ("a", "b", "c"), P, ("x", "y", "z"), Y)
    priors = Priors.from_tokens({"a": 100, "b": 100, "c": 100})
    with pytest.raises(InfeasibleCaps, match=r"a: N=100 -> cap 0\.0400"):
        propose(swarm, priors, FAST, SolveSettings(target_tokens=10_000))


def test_ratios_and_metrics_round_trip_in_olmixs_layout(tmp_path):
    P, Y, _, _ = planted(K=5)
    swarm = Swarm(tuple(f"run{k}" for k in range(5)), ("a", "b", "c"), P, ("t1", "t2", "t3"), Y)
    swarm.write(tmp_path / "ratios.csv", tmp_path / "metrics.csv")
    ratios = pd.read_csv(tmp_path / "ratios.csv")
    assert list(ratios.columns) == ["run", "name", "index", "a", "b", "c"]
    assert list(pd.read_csv(tmp_path / "metrics.csv").columns) == ["run", "name", "index", "t1", "t2", "t3"]
    back = Swarm.read(tmp_path / "ratios.csv", tmp_path / "metrics.csv")
    assert back.runs == swarm.runs and back.tasks == swarm.tasks
    assert np.array_equal(back.P, P) and np.array_equal(back.Y, Y)  # full precision: bit for bit
    # a file at olmix's own precision (rows off 1 by up to 0.01) is renormalised
    ratios.round(4).to_csv(tmp_path / "r4.csv", index=False)
    four = Swarm.read(tmp_path / "r4.csv", tmp_path / "metrics.csv").P
    assert np.allclose(four.sum(axis=1), 1.0, atol=1e-15) and np.allclose(four, P, atol=1e-4)
    # olmix's run_id spelling, a row with a missing metric dropped
    metrics = pd.read_csv(tmp_path / "metrics.csv").rename(columns={"run": "run_id"})
    metrics.loc[2, "t2"] = np.nan
    metrics.to_csv(tmp_path / "m2.csv", index=False)
    assert Swarm.read(tmp_path / "ratios.csv", tmp_path / "m2.csv").runs == ("run0", "run1", "run3", "run4")


def test_a_fit_from_the_written_csvs_is_the_fit_of_the_swarm(tmp_path):
    P, Y, _, _ = planted()
    swarm = Swarm(tuple(f"run{k}" for k in range(len(P))), ("a", "b", "c"), P, ("x", "y", "z"), Y)
    swarm.write(tmp_path / "ratios.csv", tmp_path / "metrics.csv")
    back = Swarm.read(tmp_path / "ratios.csv", tmp_path / "metrics.csv")
    settings = FitSettings(n_random=2, loo_n_random=1)
    assert propose(back, None, settings)["proportions"] == propose(swarm, None, settings)["proportions"]


def test_standalone_fit_writes_olmixs_outputs(tmp_path):
    P, Y, _, _ = planted()
    swarm = Swarm(tuple(f"run{k}" for k in range(len(P))), ("a", "b", "c"), P, ("x", "y", "z"), Y)
    swarm.write(tmp_path / "ratios.csv", tmp_path / "metrics.csv")
    Priors.from_tokens(dict(zip("abc", TOKENS, strict=True))).write(tmp_path / "priors.json")
    out = tmp_path / "out"
    olmix_main([
        "fit", "--ratios", str(tmp_path / "ratios.csv"), "--metrics", str(tmp_path / "metrics.csv"),
        "--priors", str(tmp_path / "priors.json"), "--target-tokens", "400000", "--n-random", "2",
        "--out", str(out),
    ])  # fmt: skip
    for name in ("law.json", "correlations.json", "interaction_matrix.npy", "interaction_matrix.png",
                 "fit.png", "optimal.png", "optimal.json", "predicted_performance.json"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    result = json.loads((out / "result.json").read_text())
    p = np.array(result["proportions"])
    assert p.sum() == pytest.approx(1.0) and np.all(p <= np.array(result["caps"]) + 1e-7)
    avg = result["fit"]["correlations"]["average"]
    assert avg["train"]["pearson"] > 0.95 and avg["leave_one_out"]["pearson"] > 0.8
    assert np.load(out / "interaction_matrix.npy").shape == (3, 3)


def test_bits_per_byte_on_a_hand_counted_text():
    text = "héllo wörld"  # 11 characters, 13 UTF-8 bytes
    n_bytes = len(text.encode("utf-8"))
    assert n_bytes == 13
    # 4 tokens at a mean NLL of ln 2 nats each: 4 bits over 13 bytes
    assert bits_per_byte(math.log(2), 4, n_bytes) == pytest.approx(4 / 13)


def test_priors_keep_their_own_domain_order(tmp_path):
    """A setting listing its groups c, a, b: priors.json stores its dicts with sorted keys, and reading it
    back keeps the priors' own order (the swarm's columns), not the alphabetical one."""
    from pipeline_lib.olmix.swarmio import Priors

    priors = Priors.from_tokens({"c": 30.0, "a": 10.0, "b": 20.0})
    priors.write(tmp_path / "priors.json")
    back = Priors.read(tmp_path / "priors.json")
    assert back.domains == ("c", "a", "b")
    assert back.tokens.tolist() == [30.0, 10.0, 20.0] and back.natural.tolist() == pytest.approx(
        [0.5, 1 / 6, 1 / 3]
    )


def test_fit_runs_reads_the_proxies_records_and_writes_an_olmix_fit(tmp_path):
    """``fit-runs``: each proxy's run.json gives a row (final mixture, task bits per byte on val), the fit
    file names the metric and what the proxies cost, and reads back as an :class:`OlmixFit`."""
    P, Y, _, _ = planted()
    paths = [
        write_run(
            tmp_path / "swarm" / "seed0" / f"run{k}" / "run.json", groups=("a", "b", "c"), mixture=list(p),
            test_loss=None, task_bpb=dict(zip(("x", "y", "z"), y, strict=True)), tokens_trained=100,
            flops=10.0 * (k + 1),
        )
        for k, (p, y) in enumerate(zip(P, Y, strict=True))
    ]  # fmt: skip
    Priors.from_tokens(dict(zip("abc", TOKENS, strict=True))).write(tmp_path / "priors.json")
    config = OlmixConfig(n_random=2).to_dict()
    olmix_main([
        "fit-runs", "--runs", *paths, "--priors", str(tmp_path / "priors.json"),
        "--config", json.dumps(config), "--method", "olmix", "--target-tokens", "400000",
        "--fit-out", str(tmp_path / "fit.json"), "--out", str(tmp_path / "out"),
    ])  # fmt: skip
    fit = OlmixFit.read(tmp_path / "fit.json")
    assert fit.groups == ("a", "b", "c") and fit.metric == "task_bpb"
    assert fit.details["tasks"] == ["x", "y", "z"]
    assert fit.extra_runs == Spent(len(P), 100 * len(P), 10.0 * sum(range(1, len(P) + 1)))
    assert sum(fit.proportions) == pytest.approx(1.0) and fit.average_correlations["train"]["pearson"] > 0.9
    swarm = Swarm.read(tmp_path / "out" / "ratios.csv", tmp_path / "out" / "metrics.csv")
    assert np.allclose(swarm.P, P) and np.allclose(swarm.Y, Y) and swarm.runs[0] == "seed0/run0"


def test_the_olmix_table_reads_olmix_and_dml_fits(tmp_path):
    from pipeline_lib.olmix.report import mix_rows

    paths = []
    for name in ("olmix", "olmix_pilots", "dml"):
        (tmp_path / name).mkdir()
        shutil.copyfile(FIXTURES / f"fit_{name}.json", tmp_path / name / "seed0.json")
        paths.append(str(tmp_path / name / "seed0.json"))
    rows = mix_rows(paths).loc[0]
    assert list(rows.index) == ["natural", "olmix", "olmix_pilots", "dml"]  # natural once per seed
    olmix, dml = fixture("fit_olmix"), fixture("fit_dml")
    assert rows.loc["natural", list(olmix["groups"])].tolist() == olmix["natural"]
    assert rows.loc["olmix", "fit r"] == olmix["fit"]["correlations"]["average"]["train"]["pearson"]
    assert np.isnan(rows.loc["dml", "fit r"]) and rows.loc["dml", "runs"] == dml["extra_runs"]["runs"]
    assert rows.loc["dml", list(dml["groups"])].tolist() == dml["proportions"]
