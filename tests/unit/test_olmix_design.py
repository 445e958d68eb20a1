"""The design experiment's analysis and report: a planted log-linear swarm, K*(m) and its line, the claims'
verdicts from intervals."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from pipeline_lib.config.design import DesignConfig
from pipeline_lib.config.errors import ConfigError
from pipeline_lib.config.methods import OlmixConfig
from pipeline_lib.config.units import SimulationSettings
from pipeline_lib.olmix.design import SwarmStudy, analyse, scarce_check, trained_mixtures
from pipeline_lib.olmix.design_report import (
    BEST,
    NATURAL,
    best_claim,
    caps_claim,
    crossing,
    fit_line,
    interval_verdict,
    k_star,
    kl_claim,
    linear_claim,
    paired_gaps,
    read_trained,
    spread,
    summarize,
    t_interval,
    trained_claim,
    trained_table,
)
from pipeline_lib.olmix.swarmio import Priors, Swarm
from pipeline_lib.report.claims import CONTRADICTED, HOLDS, OPEN

DOMAINS = ("a", "b", "c")


def planted_swarm(K: int = 30, seed: int = 7) -> Swarm:
    """K Dirichlet mixtures over 3 domains; each task's BPB = c + exp(t . p) with a little noise."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(3), size=K)
    t = np.array([[0.9, -0.6, 0.2], [-0.4, 0.8, -0.3], [0.3, 0.1, -0.9]])
    Y = 1.5 + np.exp(P @ t.T) + rng.normal(0, 0.005, (K, 3))
    return Swarm(tuple(f"run{k}" for k in range(K)), DOMAINS, P, DOMAINS, Y)


def study(**design) -> SwarmStudy:
    cfg = OlmixConfig(n_random=1, simulation=SimulationSettings(rounds=2, samples=500))
    d = DesignConfig(
        **{
            "settings": ("syn",),
            "subsets": 6,
            "k_factors": (1, 5),
            "regressors": ("log_linear", "lightgbm", "search"),
            "proposers": ("exact", "search", "simulation"),
            **design,
        }
    )
    return SwarmStudy("syn", 3, cfg, d, target_tokens=10_000)


PRIORS = Priors.from_tokens({"a": 1e6, "b": 1e6, "c": 1e6})


def test_log_linear_beats_lookup_and_trees_on_a_planted_law_and_is_deterministic(tmp_path):
    s = study()
    scores, proposals = analyse(s, planted_swarm(), PRIORS)
    assert s.design.k_grid(3, 30) == (4, 20)  # c (m + 1) within K_max minus the reserve of 10
    assert len(scores) == 6 * 2 * 3
    small = scores[scores["K"] == 4].assign(spearman=lambda d: d["spearman"].fillna(0.0))
    mean = small.groupby("regressor")["spearman"].mean()
    assert mean["log_linear"] > 0.9
    assert mean["log_linear"] > mean["lightgbm"] + 0.3 and mean["log_linear"] > mean["search"] + 0.3
    # exact with and without the pull for log_linear, search for every regressor
    assert set(zip(proposals["regressor"], proposals["proposer"], strict=True)) == {
        ("log_linear", "exact"),
        ("log_linear", "search"),
        ("lightgbm", "search"),
        ("search", "search"),
        ("log_linear", "simulation"),
        ("lightgbm", "simulation"),
    }  # search cannot score unseen mixtures: no simulation
    assert sorted(proposals[proposals["proposer"] == "exact"]["kl_weight"].unique()) == [0.0, 0.05]
    reported = tmp_path / "progress.jsonl"
    reported.write_text('{"step": 9, "steps": 9}\n')  # a killed job's: started afresh
    again, again_p = analyse(s, planted_swarm(), PRIORS, progress=reported)  # reporting changes no number
    lines = [json.loads(line) for line in reported.read_text().splitlines()]
    assert lines == [{"step": i, "steps": 6} for i in range(7)]  # each subset done, from 0 of 6
    cols = ["subset", "K", "regressor", "spearman", "pearson"]
    pd.testing.assert_frame_equal(scores[cols], again[cols])
    pd.testing.assert_frame_equal(proposals, again_p)
    other, _ = analyse(SwarmStudy("syn", 4, s.cfg, s.design, 10_000), planted_swarm(), PRIORS)
    assert not np.allclose(
        other["spearman"].fillna(0), scores["spearman"].fillna(0)
    )  # another seed, other subsets


def test_the_scarce_group_sits_on_its_cap():
    out = scarce_check(study(), planted_swarm(), PRIORS)
    assert out["binds"] and math.isclose(out["capped_weight"], out["cap"], abs_tol=1e-6)
    assert math.isclose(out["cap"], 0.5 * out["free_weight"])
    assert out["free_weight"] == max(out["free"]) and math.isclose(out["capped_epochs"], 4.0, rel_tol=1e-5)
    assert not out["corpus_caps_bind"]  # 1e6 tokens each: caps of 1


def test_k_star_and_its_line_on_planted_numbers():
    assert crossing([4, 8, 12], [0.5, 0.7, 0.9], 0.8) == pytest.approx(10.0)
    assert crossing([4, 8], [0.85, 0.9], 0.8) == 4.0 and math.isnan(crossing([4, 8], [0.1, 0.5], 0.8))
    rows = []
    for m in (2, 3, 5, 7):  # median reaches 0.8 exactly at K = 4 + 3m on a grid of step 1
        for K in range(m + 1, 4 * m + 8):
            rows.append(
                {
                    "m": m,
                    "regressor": "log_linear",
                    "K": K,
                    "spearman_median": 0.8 + 0.01 * (K - 4 - 3 * m),
                    "spearman_low": 0.7 + 0.01 * (K - 4 - 3 * m),
                }
            )
    ks = k_star(pd.DataFrame(rows), 0.8)
    assert ks["k_median"].tolist() == pytest.approx([10, 13, 19, 25])
    line = fit_line(ks["m"], ks["k_median"])
    assert line["a"] == pytest.approx(4) and line["b"] == pytest.approx(3) and line["r2"] == pytest.approx(1)
    noisy = fit_line([2, 3, 5, 7], [10.5, 12.4, 19.6, 24.8])
    assert noisy["b_low"] < 3 < noisy["b_high"] and noisy["b_low"] > 2
    assert linear_claim(ks)["verdict"] == HOLDS
    flat = ks.assign(k_median=[10.0, 9.0, 10.5, 9.5])
    assert linear_claim(flat)["verdict"] == OPEN
    shrinking = ks.assign(k_median=[25.0, 19.0, 13.0, 10.0])
    assert linear_claim(shrinking)["verdict"] == CONTRADICTED
    assert linear_claim(ks.assign(k_median=[10.0, 13.0, math.nan, math.nan]))["verdict"] == OPEN
    # reached at every grid's first K (m + 1): the grid's slope, not the data's, so no verdict
    early = [{"m": m, "regressor": "log_linear", "K": K, "spearman_median": 0.9, "spearman_low": 0.85}
             for m in (2, 3, 5, 7) for K in (m + 1, 3 * (m + 1))]  # fmt: skip
    censored = k_star(pd.DataFrame(early), 0.8)
    assert censored["censored"].tolist() == ["below"] * 4 and censored["k_median"].tolist() == [3, 4, 6, 8]
    claim = linear_claim(censored)
    assert claim["verdict"] == OPEN and "m=7: <= 8" in claim["ours"]
    assert ks["censored"].tolist() == [""] * 4


def test_verdicts_from_intervals():
    assert interval_verdict(0.1, 0.3) == HOLDS
    assert interval_verdict(-0.3, -0.1) == CONTRADICTED
    assert interval_verdict(-0.1, 0.2) == OPEN and interval_verdict(math.nan, math.nan) == OPEN
    base = {"m": 3, "seed": 0, "K": 4}
    rows = [
        {**base, "subset": s, "regressor": r, "spearman": v}
        for s in range(10)
        for r, v in (("log_linear", 0.9 + 0.01 * s), ("gp", 0.5 + 0.02 * s))
    ]
    assert best_claim(pd.DataFrame(rows))["verdict"] == HOLDS
    flipped = pd.DataFrame(rows).assign(
        regressor=lambda d: d["regressor"].map({"log_linear": "gp", "gp": "log_linear"})
    )
    assert best_claim(flipped)["verdict"] == CONTRADICTED
    ok = {"binds": True, "corpus_caps_bind": False, "free_epochs": 8.0, "capped_epochs": 4.0}
    assert caps_claim([ok, ok])["verdict"] == HOLDS
    assert caps_claim([ok, {**ok, "binds": False}])["verdict"] == OPEN
    assert caps_claim([{**ok, "binds": False}])["verdict"] == CONTRADICTED


def test_the_kl_pull_claim_reads_the_spread():
    rng = np.random.default_rng(0)
    rows = []
    for s in range(12):
        for kl, scale in ((0.05, 0.01), (0.0, 0.2)):
            p = np.clip(np.array([0.3, 0.3, 0.4]) + rng.normal(0, scale, 3), 0.01, None)
            rows.append(
                {
                    "m": 3,
                    "seed": 0,
                    "subset": s,
                    "K": 8,
                    "regressor": "log_linear",
                    "proposer": "exact",
                    "kl_weight": kl,
                    "mixture": str((p / p.sum()).tolist()),
                    "judge_predicted": 1.0,
                    "tv_natural": 0.0,
                }
            )
    tv = spread(pd.DataFrame(rows))
    assert tv.groupby("kl_weight")["tv_mean"].mean()[0.05] < tv.groupby("kl_weight")["tv_mean"].mean()[0.0]
    assert kl_claim(tv)["verdict"] == HOLDS


def test_summary_counts_an_undefined_correlation_as_zero():
    scores = pd.DataFrame(
        {
            "m": 2,
            "regressor": "lightgbm",
            "K": 3,
            "seed": 0,
            "subset": range(4),
            "spearman": [np.nan, np.nan, 1.0, 1.0],
            "pearson": np.nan,
            "cpu_s": 0.1,
        }
    )
    row = summarize(scores).iloc[0]
    assert row["spearman_median"] == pytest.approx(0.5) and row["undefined"] == pytest.approx(0.5)


def test_the_k_grid_is_c_times_m_plus_one_within_the_pool():
    """config/olmix-design.yaml's grid: K_max = 8(m + 1), a third held out, c in (1, 3, 5)."""
    d = DesignConfig(settings=("m2",))
    grids = {m: d.k_grid(m, 8 * (m + 1)) for m in (2, 3, 5, 7)}
    assert grids == {2: (3, 9, 15), 3: (4, 12, 20), 5: (6, 18, 30), 7: (8, 24, 40)}
    assert d.n_holdout(24) == 8 and d.n_holdout(6) == 3
    assert d.k_grid(2, 6) == (3,) and DesignConfig(settings=("a",), k_factors=(9,)).k_grid(2, 24) == (16,)


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"settings": ["m2"], "regressors": ["log_linear", "xgboost"]},
            "design.regressors: unknown regressor 'xgboost'",
        ),
        (
            {"settings": ["m2"], "proposers": ["exact", "annealing"]},
            "design.proposers: unknown proposer 'annealing'",
        ),
        ({"settings": ["m2"], "judge": "search"}, "design.judge: 'search' cannot predict unseen mixtures"),
        ({"settings": ["m2"], "subsets": 0}, "design.subsets: must be >= 1, got 0"),
        ({"settings": ["m2"], "k_factors": [1, 0]}, "design.k_factors: give factors c > 0"),
        ({"settings": ["m2"], "grid": 3}, "design: unknown field(s) ['grid']"),
        (
            {"settings": ["m2"], "train_pairs": ["log_linear"]},
            "design.train_pairs: 'log_linear' must be 'regressor+proposer' from design.regressors",
        ),
        ({"settings": ["m2"], "train_pairs": ["log_linear+exact"], "train_seeds": []}, "design.train_seeds"),
        (
            {"settings": ["m2"], "seeds": [0, 1], "train_pairs": ["log_linear+exact"], "train_seeds": [1, 2]},
            "design.train_seeds: [1] are also swarm seeds (design.seeds): the best run retrained",
        ),
    ],
)
def test_bad_design_blocks_name_the_field(raw, message):
    with pytest.raises(ConfigError) as err:
        DesignConfig.from_dict(raw)
    assert message in str(err.value)


def test_trained_mixtures_are_natural_the_best_run_then_each_pairs_proposals():
    s = study(train_pairs=("log_linear+exact", "lightgbm+simulation"), train_subsets=2, train_k_factor=1)
    swarm = planted_swarm()
    assert s.design.n_trained == 2 + 2 * 2 and s.design.train_k(3, 30) == 4  # the grid's (4, 20): 4 nearest
    _, proposals = analyse(s, swarm, PRIORS)
    trained = trained_mixtures(s, swarm, PRIORS, proposals)
    rows = trained.details["rows"]
    assert len(trained.mixtures) == len(rows) == s.design.n_trained and trained.groups == DOMAINS
    assert [r["kind"] for r in rows] == ["natural", "best"] + ["proposal"] * 4
    assert np.allclose(trained.mixtures[0], PRIORS.natural)
    best = int(np.argmin(swarm.Y.mean(axis=1)))
    assert np.allclose(trained.mixtures[1], swarm.P[best]) and rows[1]["run"] == swarm.runs[best]
    exact = proposals[
        (proposals["regressor"] == "log_linear")
        & (proposals["proposer"] == "exact")
        & (proposals["K"] == 4)
        & (proposals["subset"] == 1)
        & (proposals["kl_weight"] == 0.05)
    ]
    assert rows[3]["subset"] == 1 and rows[3]["kl_weight"] == 0.05 and rows[3]["K"] == 4
    assert np.allclose(trained.mixtures[3], json.loads(exact["mixture"].iloc[0]))
    assert rows[3]["predicted"] == pytest.approx(exact["self_predicted"].iloc[0])
    assert rows[4]["regressor"] == "lightgbm" and rows[4]["kl_weight"] is None and not rows[4]["missing"]
    # a pair whose proposal failed is trained at natural and marked missing
    none = trained_mixtures(s, swarm, PRIORS, proposals[proposals["regressor"] != "lightgbm"])
    assert none.details["rows"][4]["missing"] and np.allclose(none.mixtures[4], PRIORS.natural)
    assert trained_mixtures(study(), swarm, PRIORS, proposals).mixtures == []  # no pairs: nothing trained
    # the metrics are named when they are not the groups' (read_trained judges the runs on them)
    on_tasks = dataclasses.replace(s, cfg=dataclasses.replace(s.cfg, objective="both"))
    assert "metrics" not in trained.details
    assert trained_mixtures(on_tasks, swarm, PRIORS, proposals).details["metrics"] == [
        "task_bpb",
        "downstream_bpb",
    ]


def _trained_frame() -> pd.DataFrame:
    """Two swarms (m = 2, 3), 2 training seeds, natural, the best run and one pair over 3 subsets: the pair
    0.02 below natural and 0.005 above the best run, with a little noise per run."""
    rng, rows = np.random.default_rng(0), []
    for m in (2, 3):
        for t in (0, 1):
            base = 1.0 + 0.01 * t
            rows.append({"m": m, "seed": 0, "label": NATURAL, "train_seed": t, "actual": base, "K": np.nan})
            rows.append({"m": m, "seed": 0, "label": BEST, "train_seed": t, "actual": base - 0.025})
            for s in range(3):
                gap = -0.02 + rng.normal(0, 0.002)
                row = {"m": m, "seed": 0, "label": "log_linear+exact", "train_seed": t, "subset": s}
                rows.append(row | {"actual": base + gap, "predicted": base - 0.03, "K": 3 * (m + 1)})
    return pd.DataFrame(rows)


def test_trained_table_and_claims_pair_runs_by_swarm_and_training_seed():
    frame = _trained_frame()
    table = trained_table(frame).set_index(["m", "mixture"])
    pair = table.loc[(2, "log_linear+exact")]
    assert pair["runs"] == 6 and pair["units"] == 2 and pair["K"] == 9
    assert pair["vs_natural"] == pytest.approx(-0.02, abs=0.002) and pair["vs_natural_high"] < 0
    assert pair["vs_best"] == pytest.approx(0.005, abs=0.002) and pair["vs_best_low"] > 0
    assert math.isnan(table.loc[(3, NATURAL), "vs_natural"]) and table.loc[(3, NATURAL), "vs_best"] > 0
    assert list(trained_table(frame)["mixture"])[:3] == [NATURAL, BEST, "log_linear+exact"]
    assert pair["predicted"] == pytest.approx(1.005 - 0.03)
    nat, best = trained_claim(frame, NATURAL), trained_claim(frame, BEST)
    assert nat["verdict"] == HOLDS and best["verdict"] == CONTRADICTED
    assert "over 4 (swarm, training seed) units of 12 paired runs" in nat["ours"]
    assert "m=2:" in nat["ours"] and "m=3:" in nat["ours"]
    # The subsets share one reference run per (swarm, training seed): its noise moves a unit's gaps at once.
    # Units 0.010, 0.002, 0.008, -0.001 above the best run: pooled as 12 runs the interval excludes 0, over
    # the 4 units it does not.
    shaky = frame.copy()
    for (m, t), off in zip([(2, 0), (2, 1), (3, 0), (3, 1)], [-0.005, 0.003, -0.003, 0.006], strict=True):
        shaky.loc[(shaky["m"] == m) & (shaky["train_seed"] == t) & (shaky["label"] == BEST), "actual"] += off
    by_run = paired_gaps(shaky, BEST).query("label == 'log_linear+exact'")["gap"].to_numpy()
    assert t_interval(by_run)[1] > 0 and trained_claim(shaky, BEST)["verdict"] == OPEN
    assert trained_claim(pd.DataFrame(), NATURAL)["verdict"] == "not run"


def test_trained_mixtures_are_judged_on_the_metrics_their_swarm_was_fitted_on(tmp_path):
    """objective: tasks: the study fits the downstream tasks' columns, trained.json names them, and a
    trained run's actual is their mean (groups: its task_bpb's, no name written)."""
    from pipeline_lib.plan.paths import design_trained_run
    from pipeline_lib.records import SwarmFile
    from tests.records import write_run

    on_tasks = dataclasses.replace(study(), cfg=OlmixConfig(objective="tasks"))
    assert on_tasks.cfg.metrics == ("downstream_bpb",) and study().cfg.metrics == ("task_bpb",)
    downstream = {"family": "qa", "accuracy": None, "n_requests": 4, "n_truncated": 0, "n_split": 0}
    scores = {"d1": downstream | {"bpb": 2.0}, "d2": downstream | {"bpb": 4.0}}
    for name, details in (("groups", {}), ("tasks", {"metrics": list(on_tasks.cfg.metrics)})):
        d = tmp_path / name
        SwarmFile(DOMAINS, [[0.2, 0.3, 0.5]], {"rows": [{"kind": "natural"}], "seed": 0, **details}).write(
            d / "trained.json"
        )
        run = {"task_bpb": {"a": 1.0, "b": 1.5}, "groups": list(DOMAINS), "test_loss": None}
        run["downstream"] = {"val": {"task_set": "shipped", "tasks": scores, "wall_time_s": 1.0}}
        write_run(d / design_trained_run(0, 1) / "run.json", **run)
    frame = read_trained([tmp_path / "groups", tmp_path / "tasks"], [1])
    assert frame["actual"].tolist() == [1.25, 3.0]
