"""Olmix's regressors and proposers as units: planted laws recovered, files round-tripped, proposals on the
capped simplex, the simulation seeded, and bad names stopped at config load."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from pipeline_lib.config import ConfigError, load_project
from pipeline_lib.config.methods import OlmixConfig
from pipeline_lib.config.units import (
    PROPOSER_NAMES,
    REGRESSOR_NAMES,
    AutoscaleSettings,
    GPSettings,
    LightGBMSettings,
    SimulationSettings,
    TopKSettings,
    pairing_problem,
)
from pipeline_lib.io import read_json, write_json
from pipeline_lib.lmo import FitSettings, minimize_task_law
from pipeline_lib.olmix.__main__ import main as olmix_main
from pipeline_lib.olmix.fit.proposers import PROPOSERS, Problem, make_proposer
from pipeline_lib.olmix.fit.regressors import REGRESSORS, FitContext, make_regressor, regressor_from_dict
from pipeline_lib.olmix.propose import SolveSettings, Targets, Units, propose, write_outputs
from pipeline_lib.olmix.swarmio import Priors, Swarm

TASKS = ("t1", "t2")
FAST = FitSettings(n_random=2, loo_n_random=1)


def mixtures(K: int, m: int, seed: int, floor: float = 0.0) -> np.ndarray:
    """K Dirichlet(1) mixtures over m domains, each weight at least ``floor`` (dense when floor > 0)."""
    P = np.random.default_rng(seed).dirichlet(np.ones(m), size=K)
    return floor + (1 - m * floor) * P


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum())


# Each law in the family its regressor fits: (K train runs, mixtures' floor, law, settings)
def _linear(P):
    return P @ np.array([[3.0, 3.4, 3.9], [4.1, 3.6, 3.2]]).T


def _log_linear(P):
    t = np.array([[0.6, -0.5, 0.2], [-0.3, 0.4, 0.1]])
    return np.array([1.0, 1.4]) + np.exp(P @ t.T)


def _trees(P):  # piecewise constant: a domain's weight crossing a threshold moves the metric
    first = 2 + 0.5 * (P[:, 0] > 0.4) + 0.3 * (P[:, 1] > 0.3)
    return np.stack(
        [first, 3 - 0.4 * (P[:, 2] > 0.2) - 0.25 * (P[:, 0] > 0.5) + 0.15 * (P[:, 1] > 0.15)], axis=1
    )


def _smooth(P):
    return np.stack([np.sin(3 * P[:, 0]) + P[:, 1] ** 2, np.cos(2 * P[:, 2]) - P[:, 0] * P[:, 1]], axis=1)


def _bimix(P):
    F, a = np.array([[0.3, 0.5, 0.2], [0.4, 0.1, 0.6]]), np.array([[0.4, 0.2, 0.6], [0.3, 0.5, 0.1]])
    return np.stack([(f * P ** (-e)).sum(axis=1) for f, e in zip(F, a, strict=True)], axis=1)


def _autoscale(P):
    a, g = np.array([[0.05, 0.1, 0.2], [0.2, 0.05, 0.1]]), np.array([[0.4, 0.3, 0.6], [0.5, 0.6, 0.3]])
    cols = [((1e3 * (ai + P)) ** -gi).sum(axis=1) + L for ai, gi, L in zip(a, g, (2.0, 3.0), strict=True)]
    return np.stack(cols, axis=1)


PLANTED = {
    "linear": (30, 0.0, _linear, None),
    "log_linear": (30, 0.0, _log_linear, FAST),
    "lightgbm": (300, 0.0, _trees, LightGBMSettings(num_iterations=300, learning_rate=0.05)),
    "gp": (60, 0.0, _smooth, GPSettings(n_restarts=2)),
    "bimix": (40, 0.05, _bimix, None),
    "autoscale": (40, 0.0, _autoscale, AutoscaleSettings(tokens=1e3)),
}


def _fitted(name: str, seed: int = 0):
    K, floor, law, settings = PLANTED[name]
    P = mixtures(K, 3, seed, floor)
    noise = np.random.default_rng(seed + 1).normal(0, 1e-3, (K, 2))
    reg = make_regressor(name, settings, FitContext(seed=0)).fit(P, law(P) + noise, TASKS)
    return reg, law, floor


def test_the_registries_have_one_entry_per_type():
    assert set(REGRESSORS) == {"linear", "log_linear", "lightgbm", "gp", "bimix", "autoscale", "search"}
    assert set(PROPOSERS) == {"exact", "simulation", "search", "topk"}
    assert set(REGRESSOR_NAMES) == set(REGRESSORS) and set(PROPOSER_NAMES) == set(PROPOSERS)  # as declared
    assert all(cls.name == name for name, cls in {**REGRESSORS, **PROPOSERS}.items())


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_regressor_recovers_a_planted_law_of_its_form_on_held_out_runs(name):
    reg, law, floor = _fitted(name)
    held_out = mixtures(200, 3, seed=99, floor=floor)
    truth, pred = law(held_out), reg.predict(held_out)
    assert pred.shape == (200, 2)
    for i in range(2):  # chance would give R^2 <= 0 and a Spearman near 0
        assert _r2(truth[:, i], pred[:, i]) > 0.8, (name, i)
        assert spearmanr(truth[:, i], pred[:, i]).statistic > 0.85, (name, i)


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_regressor_round_trips_through_its_file(name, tmp_path):
    reg, _, floor = _fitted(name)
    write_json(tmp_path / "law.json", reg.to_dict())
    back = regressor_from_dict(read_json(tmp_path / "law.json"))
    assert type(back) is type(reg) and back.tasks == TASKS
    X = mixtures(50, 3, seed=7, floor=floor)
    assert np.array_equal(back.predict(X), reg.predict(X))
    assert json.dumps(back.to_dict(), sort_keys=True) == json.dumps(reg.to_dict(), sort_keys=True)


def test_search_regressor_recalls_observed_runs_only(tmp_path):
    P = mixtures(8, 3, 0)
    Y = _linear(P)
    reg = make_regressor("search").fit(np.vstack([P, P[:1]]), np.vstack([Y, Y[:1] + 0.2]), TASKS)
    pred = reg.predict(P)
    assert np.allclose(pred[1:], Y[1:]) and np.allclose(pred[0], Y[0] + 0.1)  # a repeated run: the mean
    assert np.all(np.isinf(reg.predict(mixtures(3, 3, 1))))
    write_json(tmp_path / "law.json", reg.to_dict())
    assert np.array_equal(regressor_from_dict(read_json(tmp_path / "law.json")).predict(P), pred)


def test_linear_gives_a_domain_no_run_trained_on_the_mean_weight():
    P = np.column_stack([mixtures(20, 3, 0), np.zeros(20)])
    reg = make_regressor("linear").fit(P, _linear(P[:, :3]), TASKS)
    assert np.allclose(reg.W[:, 3], reg.W[:, :3].mean(axis=1))


def test_lightgbm_without_enough_runs_to_split_predicts_the_mean():
    P = mixtures(12, 3, 0)  # fewer than 2 x min_child_samples: RegMix's settings grow no split
    Y = _trees(P)
    reg = make_regressor("lightgbm").fit(P, Y, TASKS)
    assert np.allclose(reg.predict(mixtures(5, 3, 1)), Y.mean(axis=0), atol=1e-9)


def test_autoscale_takes_the_target_tokens_and_says_when_it_has_none():
    P = mixtures(30, 3, 0)
    reg = make_regressor("autoscale", None, FitContext(target_tokens=1000)).fit(P, _autoscale(P), TASKS)
    assert reg.N == 1000.0
    with pytest.raises(ValueError, match="autoscale needs N"):
        make_regressor("autoscale").fit(P, _autoscale(P), TASKS)


# -- proposers ----------------------------------------------------------------------------------------------
def _problem(caps=None) -> tuple[Problem, np.ndarray]:
    P = mixtures(20, 3, 0)
    return Problem(np.array([0.5, 0.3, 0.2]), caps, P), P


PAIRS = [("log_linear", "exact"), ("log_linear", "simulation"), ("gp", "simulation"), ("bimix", "search"),
         ("search", "search"), ("lightgbm", "search"), ("lightgbm", "topk"),
         ("log_linear", "topk")]  # fmt: skip
QUICK_SIM = SimulationSettings(rounds=4, samples=20_000)
QUICK_TOPK = TopKSettings(samples=20_000, top_k=50)


@pytest.mark.parametrize("regressor,proposer", PAIRS)
def test_proposals_lie_on_the_simplex_within_the_caps(regressor, proposer):
    caps = np.array([0.25, 0.9, 0.9])  # binds: every planted law wants domain 0 or 2
    problem, P = _problem(caps)
    problem = Problem(problem.natural, caps, np.vstack([P, [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]]]))
    settings = {"log_linear": FAST, "gp": GPSettings(n_restarts=1)}.get(regressor)
    reg = make_regressor(regressor, settings).fit(problem.observed, _log_linear(problem.observed), TASKS)
    quick = {"simulation": QUICK_SIM, "topk": QUICK_TOPK}.get(proposer)
    p = make_proposer(proposer, quick).propose(reg, problem, 0)
    assert p.shape == (3,) and p.min() >= 0 and p.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(p <= caps + 1e-9)


def test_simulation_is_deterministic_per_seed_and_finds_the_laws_optimum():
    problem, P = _problem()
    reg = make_regressor("log_linear", FAST).fit(P, _log_linear(P), TASKS)
    sim = make_proposer("simulation", QUICK_SIM)
    first, again, other = (
        sim.propose(reg, problem, 3),
        sim.propose(reg, problem, 3),
        sim.propose(reg, problem, 4),
    )
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    optimum = minimize_task_law(reg.law)  # no KL pull: the law's own minimiser
    assert 0.5 * np.abs(first - optimum).sum() < 0.05
    assert problem.objective(reg, first[None])[0] < problem.objective(reg, problem.natural[None])[0]


def test_topk_averages_the_best_samples_deterministically_per_seed():
    """RegMix's proposal: with k = 1 the best sample; with k the mean of the k best, which on a law with an
    interior optimum lands near it; a seed gives one answer."""
    problem, P = _problem()
    reg = make_regressor("log_linear", FAST).fit(P, _log_linear(P), TASKS)
    topk = make_proposer("topk", QUICK_TOPK)
    first, again, other = (topk.propose(reg, problem, s) for s in (3, 3, 4))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    one = make_proposer("topk", TopKSettings(samples=20_000, top_k=1)).propose(reg, problem, 3)
    rng = np.random.default_rng(3)  # the same draws, scored directly: the single best is the answer
    strength = np.exp(rng.uniform(np.log(0.1), np.log(5.0), 20_000))
    g = rng.standard_gamma(strength[:, None] * problem.natural)
    S = g[g.sum(axis=1) > 0] / g[g.sum(axis=1) > 0].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(one, S[np.argmin(problem.objective(reg, S))], rtol=1e-12)
    k_best = S[np.argsort(problem.objective(reg, S), kind="stable")[:50]].mean(axis=0)
    np.testing.assert_allclose(first, k_best, rtol=1e-12)
    assert problem.objective(reg, first[None])[0] < problem.objective(reg, problem.natural[None])[0]


def test_topk_settings_are_checked():
    with pytest.raises(ConfigError, match=r"top_k: must not exceed samples \(10\), got 20"):
        TopKSettings(samples=10, top_k=20)


def test_search_proposer_picks_the_best_observed_run_within_the_caps():
    problem, P = _problem()
    Y = _log_linear(P)
    reg = make_regressor("search").fit(P, Y, TASKS)
    best = int(np.argmin(Y.mean(axis=1)))
    assert np.array_equal(make_proposer("search").propose(reg, problem, 0), P[best])
    caps = np.where(P[best] > 0.5, P[best] - 0.01, 1.0)  # the best run breaks a cap: the next best wins
    feasible = np.all(caps >= P, axis=1)
    pick = make_proposer("search").propose(reg, Problem(problem.natural, caps, P), 0)
    assert np.array_equal(pick, P[feasible][np.argmin(Y[feasible].mean(axis=1))])


def test_unworkable_pairs_are_named():
    assert "needs regressor 'log_linear' (got 'gp')" in pairing_problem("gp", "exact")
    assert "cannot predict" in pairing_problem("search", "simulation")
    assert "choose from" in pairing_problem("xgboost", "exact")
    assert pairing_problem("lightgbm", "simulation") is None
    problem, P = _problem()
    reg = make_regressor("gp", GPSettings(n_restarts=0)).fit(P, _smooth(P), TASKS)
    with pytest.raises(ValueError, match="needs regressor 'log_linear'"):
        make_proposer("exact").propose(reg, problem, 0)


def test_any_pair_proposes_through_olmix_and_writes_its_outputs(tmp_path):
    P = mixtures(12, 3, 0)
    swarm = Swarm(tuple(f"r{k}" for k in range(12)), ("a", "b", "c"), P, TASKS, _log_linear(P))
    priors = Priors.from_tokens({"a": 300, "b": 300, "c": 300})
    units = Units("bimix", "simulation", None, QUICK_SIM)
    result = propose(swarm, priors, FAST, SolveSettings(target_tokens=1000), units)
    p = np.array(result["proportions"])
    assert p.sum() == pytest.approx(1.0) and np.all(p <= np.array(result["caps"]) + 1e-9)
    assert result["law"]["kind"] == "bimix" and result["settings"]["units"]["proposer"] == "simulation"
    assert result["fit"]["loo_predicted"] is not None
    write_outputs(result, swarm, tmp_path)
    assert np.load(tmp_path / "interaction_matrix.npy").shape == (2, 3)
    assert (tmp_path / "fit.png").stat().st_size > 0
    default = propose(swarm, priors, FAST, SolveSettings(target_tokens=1000))
    assert "units" not in default["settings"] and default["law"]["kind"] == "task_log_linear"


def test_search_pair_keeps_unseen_predictions_out_of_the_json(tmp_path):
    P = mixtures(10, 3, 0)
    swarm = Swarm(tuple(f"r{k}" for k in range(10)), ("a", "b", "c"), P, TASKS, _log_linear(P))
    result = propose(swarm, None, FAST, SolveSettings(), Units("search", "search"))
    assert result["natural_predicted_average"] is None  # the swarm's mean mixture was never run
    assert result["fit"]["loo_predicted"] is None
    write_json(tmp_path / "fit.json", result)  # no inf or NaN reaches the file
    best = int(np.argmin(swarm.Y.mean(axis=1)))
    assert result["proportions"] == P[best].tolist()


def test_fit_cli_runs_a_named_pair_and_stops_on_a_bad_name(tmp_path):
    P = mixtures(12, 3, 0)
    Swarm(tuple(f"r{k}" for k in range(12)), ("a", "b", "c"), P, TASKS, _log_linear(P)).write(
        tmp_path / "ratios.csv", tmp_path / "metrics.csv"
    )
    args = ["fit", "--ratios", str(tmp_path / "ratios.csv"), "--metrics", str(tmp_path / "metrics.csv")]
    olmix_main([*args, "--regressor", "linear", "--proposer", "search", "--out", str(tmp_path / "o")])
    result = read_json(tmp_path / "o" / "result.json")
    assert result["law"]["kind"] == "linear"
    assert result["proportions"] in P.tolist()  # a swarm row, bit for bit through the CSV
    with pytest.raises(SystemExit, match=r"olmix fit: .*regressor 'xgboost' is not a regressor; choose from"):
        olmix_main([*args, "--regressor", "xgboost", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match=r"olmix fit\.gp: unknown parameter\(s\) \['restarts'\]"):
        olmix_main([*args, "--regressor", "gp", "--proposer", "simulation", "--settings",
                    '{"gp": {"restarts": 1}}', "--out", str(tmp_path / "y")])  # fmt: skip


# -- config -------------------------------------------------------------------------------------------------
BASE = {
    "data": {"source": {"path": "unused"}},
    "settings": {"pair": {"groups": ["alpha", "beta"]}},
    "run": {"methods": ["stratified", "olmix"]},
}


def _load(olmix: dict):
    cfg = copy.deepcopy(BASE)
    cfg["methods"] = {"olmix": olmix}
    return load_project(cfg)


@pytest.mark.parametrize(
    "olmix,message",
    [
        ({"regressor": "xgboost"}, "olmix.regressor: regressor 'xgboost' is not a regressor; choose"),
        ({"proposer": "anneal"}, "olmix.proposer: proposer 'anneal' is not a proposer; choose"),
        ({"regressor": "gp"}, "olmix.proposer: proposer 'exact' solves the log-linear law's convex"),
        ({"regressor": "search", "proposer": "simulation"}, "which regressor 'search' cannot predict"),
        ({"gp": {"n_restarts": -1}}, "methods.olmix.gp.n_restarts: must be >= 0, got -1"),
        (
            {"simulation": {"min_strength": 5.0, "max_strength": 1.0}},
            "methods.olmix.simulation.min_strength: must not exceed max_strength (1.0), got 5.0",
        ),
        ({"lightgbm": {"trees": 10}}, "methods.olmix.lightgbm: unknown parameter(s) ['trees']"),
        ({"gp": 3}, "methods.olmix.gp: must be GPSettings, got 3"),
    ],
)
def test_bad_regressor_or_proposer_stops_config_loading_with_its_path(olmix, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _load(olmix)


def test_unit_keys_stay_out_of_the_config_json_at_their_defaults():
    default = _load({}).settings["pair"].methods["olmix"]
    assert default == OlmixConfig() and "regressor" not in default.to_dict() and "gp" not in default.to_dict()
    chosen = _load({"regressor": "gp", "proposer": "simulation", "gp": {"n_restarts": 3}})
    cfg = chosen.settings["pair"].methods["olmix"]
    assert cfg.gp == GPSettings(n_restarts=3) and cfg.to_dict()["gp"]["n_restarts"] == 3
    assert {"regressor", "proposer", "gp"} <= set(cfg.to_dict()) and "simulation" not in cfg.to_dict()
    assert cfg.swarm_dict() == default.swarm_dict()  # another pair redraws no swarm
    assert _load({"kl_weight": 0.5, "ridge": 0.1}).settings["pair"].methods["olmix"].swarm_dict() == {
        "swarm_factor": 3.0, "min_strength": 0.1, "max_strength": 5.0, "minimum_weight": 0.002,
        "swarm_repetitions": 4.0,
    }  # fmt: skip


# -- olmix's task hooks: families, drops, objective weights ------------------------------------------------
def _three_task_swarm() -> Swarm:
    P = mixtures(14, 3, 0)
    Y = np.column_stack([_log_linear(P), _linear(P)[:, :1] - 2.0])
    return Swarm(tuple(f"r{k}" for k in range(14)), ("a", "b", "c"), P, ("t1", "t2", "t3"), Y)


def test_task_families_fit_each_familys_mean_and_drops_leave_tasks_out(tmp_path):
    swarm = _three_task_swarm()
    families = {"fam": ["t1", "t2"], "solo": ["t3", "absent"]}
    result = propose(swarm, None, FAST, SolveSettings(), targets=Targets(families, drop=("solo",)))
    assert result["tasks"] == ["fam"] and result["settings"]["targets"]["drop_metrics"] == ["solo"]
    by_hand = Swarm(swarm.runs, swarm.domains, swarm.P, ("fam",), swarm.Y[:, :2].mean(axis=1, keepdims=True))
    assert result["proportions"] == propose(by_hand, None, FAST, SolveSettings())["proportions"]
    write_outputs(result, swarm, tmp_path)  # the figures take the fitted tasks
    assert np.load(tmp_path / "interaction_matrix.npy").shape == (1, 3)
    with pytest.raises(ValueError, match=r"task_families\.none: none of \['x'\] is a task"):
        Targets({"none": ["x"]}).apply(swarm)
    with pytest.raises(ValueError, match="leaves no task"):
        Targets(drop=("t1", "t2", "t3")).apply(swarm)


def test_obj_weights_weigh_the_objective_normalised():
    swarm = _three_task_swarm()
    plain = propose(swarm, None, FAST, SolveSettings())
    even = propose(
        swarm, None, FAST, SolveSettings(), targets=Targets(weights={"t1": 2.0, "t2": 2.0, "t3": 2.0})
    )
    assert even["proportions"] == plain["proportions"]  # normalised: equal weights are the plain mean
    heavy = propose(swarm, None, FAST, SolveSettings(), targets=Targets(weights={"t1": 8.0}))
    law = regressor_from_dict(heavy["law"]).law
    w = np.array([8.0, 1.0, 1.0]) / 10
    expected = minimize_task_law(law, weights=w, prior=swarm.P.mean(axis=0), kl_weight=0.05, seed=0)
    assert np.allclose(heavy["proportions"], expected, atol=1e-9)
    assert heavy["predicted"]["t1"] < plain["predicted"]["t1"]  # the weighted task gains


def test_task_hooks_load_from_config_and_the_cli(tmp_path):
    cfg = _load({"drop_metrics": ["beta"], "obj_weights": {"alpha": 2.0}}).settings["pair"].methods["olmix"]
    assert cfg.drop_metrics == ("beta",) and cfg.to_dict()["obj_weights"] == {"alpha": 2.0}
    assert "task_families" not in cfg.to_dict() and "drop_metrics" not in OlmixConfig().to_dict()
    with pytest.raises(ConfigError, match=r"methods\.olmix\.obj_weights\.alpha: must be >= 0, got -1\.0"):
        _load({"obj_weights": {"alpha": -1.0}})
    with pytest.raises(ConfigError, match=r"methods\.olmix\.task_families: must map each family"):
        _load({"task_families": {"empty": []}})
    _three_task_swarm().write(tmp_path / "ratios.csv", tmp_path / "metrics.csv")
    olmix_main([
        "fit", "--ratios", str(tmp_path / "ratios.csv"), "--metrics", str(tmp_path / "metrics.csv"),
        "--n-random", "2", "--settings", '{"drop_metrics": ["t3"]}', "--out", str(tmp_path / "o"),
    ])  # fmt: skip
    assert read_json(tmp_path / "o" / "result.json")["tasks"] == ["t1", "t2"]


def test_the_fit_figures_name_the_method_and_the_metric(tmp_path, monkeypatch):
    """fit.png's axes say the metric (with its unit) and its title the method and runs; optimal.png's legend
    names the method (regmix's figures are not labelled Olmix)."""
    from pipeline_lib.olmix import figures

    drawn = {}
    monkeypatch.setattr(figures, "save_png", lambda fig, out: drawn.__setitem__(Path(out).name, fig))
    P = mixtures(12, 3, 0)
    swarm = Swarm(tuple(f"r{k}" for k in range(12)), ("a", "b", "c"), P, TASKS, _log_linear(P))
    result = propose(
        swarm, Priors.from_tokens({"a": 300, "b": 300, "c": 300}), FAST, SolveSettings(target_tokens=1000)
    )
    write_outputs(result, swarm, tmp_path, method="regmix", metrics=["task_bpb"])
    axes = drawn["fit.png"].axes
    assert (
        axes[0].get_xlabel() == "observed bits per byte" and axes[0].get_ylabel() == "predicted bits per byte"
    )
    assert drawn["fit.png"]._suptitle.get_text() == (
        "regmix's law on 12 proxy runs: predicted vs observed bits per byte"
    )
    legend = drawn["optimal.png"].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["natural", "regmix"]
    assert figures.metric_label(["task_bpb", "downstream_bpb"]) == "bits per byte + task bits per byte"
