from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline_lib.report.markdown import to_markdown
from pipeline_lib.report.tables import load_runs, overview_table, setting_table


def _run(tmp_path, setting, method, seed, ppl):
    path = tmp_path / f"{setting}-{method}-{seed}.json"
    record = {
        "setting": setting,
        "method": method,
        "seed": seed,
        "extra_runs": {"runs": 9 if method == "static" else 0, "tokens": 900 if method == "static" else 0},
        "test_ppl": dict(zip(["a", "b"], ppl, strict=True)),
        "avg_test_ppl": sum(ppl) / 2,
        "exp_mean_test_loss": 0.0,
    }
    path.write_text(json.dumps(record))
    return str(path)


def test_setting_table_means_stds_and_delta(tmp_path):
    paths = [
        _run(tmp_path, "s", "stratified", 0, [10.0, 20.0]),
        _run(tmp_path, "s", "stratified", 1, [12.0, 22.0]),
        _run(tmp_path, "s", "static", 0, [9.0, 19.0]),
        _run(tmp_path, "s", "static", 1, [9.0, 21.0]),
    ]
    table = setting_table(load_runs(paths))
    assert list(table.index) == ["stratified", "static"]
    assert table.loc["stratified", "avg_ppl"] == pytest.approx(16.0)
    assert table.loc["stratified", "avg_ppl_std"] == pytest.approx(pd.Series([15.0, 17.0]).std())
    assert table.loc["static", "a"] == pytest.approx(9.0)
    assert table.loc["static", "delta_vs_stratified"] == pytest.approx(14.5 - 16.0)
    assert table.loc["static", "seeds"] == 2
    assert table.loc["static", "extra_runs"] == 9 and table.loc["stratified", "extra_tokens"] == 0


def test_overview_and_markdown(tmp_path):
    paths = [
        _run(tmp_path, s, m, 0, [v, v])
        for s, m, v in [
            ("x", "static", 3.0),
            ("x", "stratified", 4.0),
            ("y", "stratified", 5.0),
            ("y", "static", 6.0),
        ]
    ]
    table = overview_table(load_runs(paths))
    assert list(table.index) == ["stratified", "static"] and list(table.columns) == ["x", "y"]
    assert table.loc["static", "y"] == 6.0
    md = to_markdown(table)
    assert md.splitlines()[0] == "| method | x | y |"
    assert "| static | 3.000 | 6.000 |" in md


def test_mixed_settings_rejected(tmp_path):
    paths = [_run(tmp_path, "x", "static", 0, [1.0, 1.0]), _run(tmp_path, "y", "static", 0, [1.0, 1.0])]
    with pytest.raises(ValueError, match="one setting"):
        setting_table(load_runs(paths))
