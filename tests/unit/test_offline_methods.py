"""Grid search, DML and the law-fidelity fits on hand-made pilot records with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline_lib.config.registry import fit_name
from pipeline_lib.lmo import LogLinearStaticLaw, grid_mixtures, minimize_static_law
from pipeline_lib.methods import RunInputs, make_policy
from pipeline_lib.methods.dml import fit_dml
from pipeline_lib.methods.grid_search import copy_selected, fit_grid_search, select
from pipeline_lib.methods.pilots import load_pilots
from pipeline_lib.records import ProxyFit, RunRecord, Spent
from pipeline_lib.report.fidelity import dynamic_fidelity, method_column_sums, similarity
from tests.records import run_dict, write_run

GROUPS = ["a", "b", "c"]


def _record(path, P_row, L_row, steps=100, tokens=1000, groups=GROUPS):
    """A pilot's run.json (no test pass) and its curve and mixture files."""
    write_run(
        path, groups=groups, mixture=list(map(float, P_row)), val_loss=list(map(float, L_row)),
        test_loss=None, flops=6.0 * tokens, steps=steps, tokens=tokens, tokens_trained=tokens,
        method="static", setting="s",
    )  # fmt: skip
    for name in ("curve.csv", "mixture.csv"):
        (path.parent / name).write_text(f"{name}\n")
    return str(path)


PLANTED = LogLinearStaticLaw(
    c=np.array([2.0, 2.5, 1.8]),
    b=np.array([1.5, 1.0, 2.0]),
    A=np.array([[3.0, 0.5, 0.2], [0.3, 2.5, 0.4], [0.1, 0.6, 2.0]]),
)


@pytest.fixture
def planted_pilots(tmp_path):
    P = grid_mixtures(3, 10, seed=0)
    rng = np.random.default_rng(1)
    L = PLANTED.predict(P) + rng.normal(0, 0.002, size=(len(P), 3))
    return (
        [
            _record(tmp_path / f"mix{k}" / "run.json", p, row)
            for k, (p, row) in enumerate(zip(P, L, strict=True))
        ],
        P,
        L,
    )


def test_grid_search_picks_the_lowest_average_validation_loss(tmp_path, planted_pilots):
    paths, P, L = planted_pilots
    pilots = load_pilots(paths)
    best = select(pilots)
    assert best == int(np.argmin(L.mean(axis=1)))
    fit = fit_grid_search(pilots)
    assert fit.selected_run == str(paths[best]) and len(fit.candidates) == len(paths)
    fit.write(tmp_path / "fit.json")
    copy_selected(tmp_path / "fit.json", tmp_path / "run")
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["method"] == "grid_search" and fit.proportions == pytest.approx(P[best].tolist())
    assert run["extra_runs"] == {"runs": 10, "tokens": 10 * 1000, "flops": 6.0 * 10 * 1000}
    assert run["method_summary"] == {"fit_path": str(tmp_path / "fit.json"), "selected_run": paths[best]}
    pilot = json.loads((tmp_path / f"mix{best}" / "run.json").read_text())
    assert {k: v for k, v in run.items() if k not in ("method", "extra_runs", "method_summary")} == {
        k: v for k, v in pilot.items() if k not in ("method", "extra_runs", "method_summary")
    }  # the rest of the pilot's record, as it was
    assert (tmp_path / "run" / "curve.csv").read_text() == "curve.csv\n"


def test_dml_recovers_the_planted_optimum(planted_pilots):
    paths, _, _ = planted_pilots
    fit = fit_dml(load_pilots(paths), seed=0)
    truth = minimize_static_law(PLANTED)
    p = np.array(fit.proportions)
    assert p.sum() == pytest.approx(1.0) and np.all(p >= 0)
    # the optimum's loss under the true law is within 0.5% of the true minimum
    assert PLANTED.total(p) <= PLANTED.total(truth) * 1.005
    assert np.abs(p - truth).max() < 0.1
    assert fit.fit["r2_mean"] > 0.99 and fit.leave_one_out["r2_mean"] > 0.9
    assert fit.extra_runs.runs == 10 and len(fit.runs) == 10


def test_dml_policy_reads_its_fit(tmp_path, planted_pilots):
    paths, _, _ = planted_pilots
    fit = fit_dml(load_pilots(paths))
    fit_path = tmp_path / "dml.json"
    fit.write(fit_path)
    assert fit_name("dml") == "dml" and fit_name("aioli+dml") == "dml" and fit_name("stratified") is None
    policy = make_policy("dml", tuple(GROUPS), {}, RunInputs(fit=str(fit_path)))
    np.testing.assert_allclose(policy.start(None), fit.proportions)
    assert policy.extra_runs == Spent(10, 10 * 1000, 6.0 * 10 * 1000)
    assert policy.summary() == {"fit_path": str(fit_path), "learned_proportions": list(fit.proportions)}
    with pytest.raises(ValueError, match="differ"):
        make_policy("dml", ("a", "b"), {}, RunInputs(fit=str(fit_path)))


def test_dynamic_fidelity_recovers_a_planted_linear_law(tmp_path):
    A = np.array([[0.30, 0.05, 0.02], [0.04, 0.25, 0.06], [0.01, 0.08, 0.20]])
    before = np.array([4.0, 4.5, 3.8])
    P = grid_mixtures(3, 9, seed=2)
    rng = np.random.default_rng(0)
    after = before - P @ A.T + rng.normal(0, 1e-4, size=(len(P), 3))
    parent = _record(tmp_path / "parent" / "run.json", [1 / 3] * 3, before, steps=60, tokens=600)
    children = [
        _record(tmp_path / f"child{k}" / "run.json", p, loss, steps=72, tokens=100)
        for k, (p, loss) in enumerate(zip(P, after, strict=True))
    ]
    result = dynamic_fidelity(parent, children)
    np.testing.assert_allclose(result["A"]["A"], A, atol=0.01)
    assert result["fit"]["r2_mean"] > 0.99 and result["child_steps"] == 12
    assert result["extra_runs"] == {"runs": 10, "tokens": 600 + 9 * 100, "flops": 6.0 * (600 + 9 * 100)}


def test_similarity_is_half_cosine_half_spearman_of_column_sums():
    assert similarity([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(1.0)
    # a = (1, 0), b = (1, 1): cos = 1/sqrt(2), Spearman taken as 0 (b is constant)
    assert similarity([1.0, 0.0], [1.0, 1.0]) == pytest.approx(0.5 / np.sqrt(2))
    # a = (3, 1, 2), b = (1, 3, 2): cos = 10/14, ranks reversed -> Spearman -1
    assert similarity([3.0, 1.0, 2.0], [1.0, 3.0, 2.0]) == pytest.approx(0.5 * 10 / 14 - 0.5)


def test_method_column_sums_read_each_online_method_at_the_nearest_update():
    def run(summary):
        return RunRecord.from_dict(run_dict(method_summary=summary))

    aioli = run({"rounds": [{"step": s, "A": [[s, 1.0], [0.0, 2.0]]} for s in (0, 40, 80)]})
    step, colsum = method_column_sums(aioli, 50)
    assert step == 40 and colsum.tolist() == [40.0, 3.0]
    G = [[0.2, 0.1], [0.0, 0.3]]
    skillit = run({"graph": G, "trace": [{"step": 40, "loss_sum": [2.0, 4.0]}]})
    # A^t = diag(L) G^T: [[0.4, 0.0], [0.4, 1.2]] -> column sums [0.8, 1.2]
    assert method_column_sums(skillit, 50)[1] == pytest.approx([0.8, 1.2])
    proxy = ProxyFit(
        method="doge", groups=("a", "b"), extra_runs=Spent(1, 10), final_weights=[0.5, 0.5], updates=9,
        trace=[{"step": s, "scores": [s, 1.0], "weights": [0.5, 0.5]} for s in range(9)], proxy_val_loss={},
        hyper_parameters={},
    )  # fmt: skip
    assert method_column_sums(proxy, 5)[1].tolist() == [5.0, 1.0]
    assert method_column_sums(run({}), 5) is None  # a static run has no A^t


def test_pilots_with_different_groups_are_rejected(tmp_path):
    a = _record(tmp_path / "x" / "run.json", [0.5, 0.5], [1.0, 1.0], groups=["a", "b"])
    b = _record(tmp_path / "y" / "run.json", [0.5, 0.5], [1.0, 1.0], groups=["a", "c"])
    with pytest.raises(ValueError, match="differ"):
        load_pilots([a, b])
