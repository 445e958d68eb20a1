"""The claims table: verdicts from paired intervals and R^2 bars, on hand-made tables."""

from __future__ import annotations

import pandas as pd

from pipeline_lib.report.claims import CONTRADICTED, HOLDS, OPEN, claims


def _t2(rows):
    return pd.DataFrame(
        [{"setting": s, "method": m, "verdict": v, "delta_label": f"{m} in {s}"} for s, m, v in rows]
    )


def test_verdicts_follow_the_intervals():
    t2 = _t2(
        [
            ("as", "stratified", ""), ("as", "aioli", "better"), ("as", "dml", "better"),
            ("abse", "stratified", ""), ("abse", "aioli", "better"), ("abse", "dml", "worse"),
        ]
    )  # fmt: skip
    t3 = pd.DataFrame(
        [{"setting": "as", "X": "dml", "verdict": "Aioli + X better", "improvement_label": "+2 [1, 3]*"}]
    )
    fidelity = pd.DataFrame({"setting": ["as", "abse"], "static_r2": [0.98, 0.96], "dynamic_r2": [0.8, 0.85]})
    table = claims(t2, t3, fidelity).set_index("claim")
    assert table["verdict"].tolist() == [HOLDS, HOLDS, HOLDS, HOLDS, CONTRADICTED]
    assert table.iloc[0]["ours"].startswith("better in 2, worse in 0 of 2")


def test_one_seed_resolves_nothing():
    t2 = _t2([("as", "stratified", ""), ("as", "aioli", "1 seed"), ("as", "doge", "1 seed")])
    table = claims(t2, None, None)
    assert table["verdict"].tolist() == [OPEN, OPEN, "not run", "not run", "not run"]


def test_a_method_better_everywhere_contradicts_the_paper():
    t2 = _t2([("as", "stratified", ""), ("as", "aioli", "worse"), ("as", "doge", "better")])
    assert claims(t2, None, None)["verdict"].tolist()[:2] == [CONTRADICTED, CONTRADICTED]


def test_with_task_scores_table_2s_claims_are_checked_on_the_tasks_too():
    t2 = _t2([("as", "stratified", ""), ("as", "aioli", "better"), ("as", "doge", "worse")])
    t2["task_bpb_verdict"] = [None, "worse", "better"]  # reversed on the tasks
    t2["task_bpb_delta_label"] = ["", "+0.020 [+0.010, +0.030]*", "−0.010 [−0.020, −0.005]*"]
    table = claims(t2, None, None).set_index("claim")
    assert table.index[2] == "Aioli beats stratified in every setting on the downstream tasks (test-task BPB)"
    assert table["verdict"].tolist()[:4] == [HOLDS, HOLDS, CONTRADICTED, CONTRADICTED]
    assert "as: +0.020 [+0.010, +0.030]*" in table.iloc[2]["ours"] and "doge" in table.iloc[3]["ours"]
    assert len(claims(_t2([("as", "aioli", "better")]), None, None)) == 5  # no task columns: no task rows


def test_labels_read_back_from_table2_csv_keep_their_sign(tmp_path):
    from pipeline_lib.report.claims import main

    t2 = _t2([("as", "stratified", ""), ("as", "aioli", "1 seed")])
    t2["delta_label"] = ["", "+3.867"]
    t2["task_bpb_verdict"] = ["", "1 seed"]
    t2["task_bpb_delta_label"] = ["", "+0.015"]
    t2["pairs"] = [1, 1]
    t2.to_csv(tmp_path / "table2.csv", index=False)
    main(["--table2", str(tmp_path / "table2.csv"), "--out", str(tmp_path / "claims")])
    table = pd.read_csv(tmp_path / "claims.csv", dtype=str).set_index("claim")
    assert "(as: +3.867)" in table.iloc[0]["ours"] and "(as: +0.015)" in table.iloc[2]["ours"]
