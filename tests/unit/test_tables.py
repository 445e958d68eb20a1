from __future__ import annotations

import pandas as pd
import pytest

from pipeline_lib.report.latex import to_latex
from pipeline_lib.report.markdown import to_markdown
from pipeline_lib.report.tables import (
    load_paper_table2,
    load_runs,
    setting_table,
    summarize,
    table2,
    table3,
    table3_wide,
    write_table2,
)
from tests.records import write_run


def _run(tmp_path, setting, method, seed, ppl):
    path = tmp_path / setting / method / f"seed{seed}" / "run.json"  # mixture.csv beside
    extra_runs = {
        "runs": 9 if method == "static" else 0,
        "tokens": 900 if method == "static" else 0,
        "flops": 4e9 if method == "static" else 0.0,
    }
    return write_run(
        path, setting=setting, method=method, seed=seed, extra_runs=extra_runs, flops=1e9,
        test_ppl=dict(zip(["a", "b"], ppl, strict=True)), avg_test_ppl=sum(ppl) / 2, exp_mean_test_loss=0.0,
    )  # fmt: skip


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


def _table2_runs(tmp_path):
    """Two settings, two seeds; stratified 10/12 (x) and 20/22 (y); static better in x, worse in y."""
    spec = [
        ("x", "stratified", [10.0, 12.0]),
        ("x", "static", [9.0, 10.0]),
        ("y", "stratified", [20.0, 22.0]),
        ("y", "static", [23.0, 23.0]),
    ]
    return [_run(tmp_path, s, m, seed, [v, v]) for s, m, vals in spec for seed, v in enumerate(vals)]


def test_table2_means_stds_deltas_counts_and_compute(tmp_path):
    summary = summarize(load_runs(_table2_runs(tmp_path)))
    row = summary.set_index(["setting", "method"]).loc[("x", "static")]
    assert row["mean"] == pytest.approx(9.5) and row["std"] == pytest.approx(pd.Series([9.0, 10.0]).std())
    assert row["delta"] == pytest.approx(9.5 - 11.0) and row["seeds"] == 2
    table = table2(summary)
    assert list(table.index) == ["stratified", "static"]
    # both settings mix groups a and b: their readable names keep the keys apart
    assert list(table.columns) == [
        "a/b (x)",
        "a/b (x): mixture (a / b)",
        "a/b (y)",
        "a/b (y): mixture (a / b)",
        "settings better / worse",
        "runs (learning + final)",
        "learning tokens (M)",
        "compute (FLOPs)",
    ]
    assert table.loc["stratified", "a/b (x)"] == "11.000 ± 1.414"
    # paired by seed: x diffs (-1, -2), t(0.975, 1) = 12.706 -> half-width 6.353; y diffs (3, 1) -> 12.706
    assert table.loc["static", "a/b (x)"] == "9.500 ± 0.707 (−1.500 [−7.853, +4.853])"
    assert table.loc["static", "a/b (y)"] == "23.000 ± 0.000 (+2.000 [−10.706, +14.706])"
    assert table.loc["static", "a/b (x): mixture (a / b)"] == "0.500 / 0.500"
    assert table.loc["static", "settings better / worse"] == "0 / 0"  # neither interval excludes 0
    assert table.loc["stratified", "settings better / worse"] == "—"
    # per seed: 9 learning runs and one final run in each of the two settings
    assert table.loc["static", "runs (learning + final)"] == "18 + 2"
    assert table.loc["static", "learning tokens (M)"] == "0.00"
    # per seed: the final run's 1e9 and the learning runs' 4e9, summed over the two settings
    assert table.loc["static", "compute (FLOPs)"] == "1.00e10"
    assert table.loc["stratified", "compute (FLOPs)"] == "2.00e9"
    md = to_markdown(table)
    assert md.splitlines()[0].startswith("| method | a/b (x) | a/b (x): mixture (a / b) | a/b (y) |")


def test_table2_writes_csv_markdown_latex_and_the_paper_beside_ours(tmp_path):
    runs = load_runs(_table2_runs(tmp_path))
    out = tmp_path / "report"
    write_table2(runs, out, {"x": "as"}, same_data=True)
    for name in ("table2", "table2_exp_loss", "table2_paper"):
        tex = (out / f"{name}.tex").read_text()
        assert r"\toprule" in tex and r"\bottomrule" in tex and (out / f"{name}.md").exists()
        assert (out / f"{name}.csv").stat().st_size > 0
    paper = pd.read_csv(out / "table2_paper.csv").set_index("method")
    assert paper.loc["stratified", "a/b (x): ours"] == pytest.approx(11.0)
    assert paper.loc["stratified", "a/b (x): paper (as)"] == pytest.approx(16.532)
    # relative gaps: stratified's perplexity against the paper's, a method's Δ as a % of stratified's
    assert paper.loc["stratified", "a/b (x): ours − paper (%)"] == pytest.approx(
        100 * (11.0 - 16.532) / 16.532, rel=1e-5
    )
    assert paper.loc["static", "a/b (x): ours"] == pytest.approx(-1.5)
    assert paper.loc["static", "a/b (x): ours Δ%"] == pytest.approx(
        -1.5 / 11.0 * 100, rel=1e-5
    )  # the CSV keeps 6 digits
    assert pd.isna(paper.loc["static", "a/b (x): paper (as)"])
    assert (
        "Table 2" in (out / "table2_paper.md").read_text()
        and "2411.05735" in (out / "table2_paper.md").read_text()
    )


def test_the_shipped_paper_table_is_the_published_one():
    paper = load_paper_table2()
    assert paper.loc["stratified", "as"] == pytest.approx(16.532) and paper.loc[
        "aioli", "full"
    ] == pytest.approx(-0.24)
    assert paper.loc["doremi", "ccghw"] == pytest.approx(6.898) and list(paper.columns[:6]) == [
        "as", "ghc4", "bse", "abse", "ccghw", "full"
    ]  # fmt: skip


def test_table3_pairs_x_with_aioli_plus_x(tmp_path):
    paths = [
        _run(tmp_path, "as/restricted", "dml", 0, [12.0, 12.0]),
        _run(tmp_path, "as/restricted", "aioli+dml", 0, [10.0, 11.0]),
        _run(tmp_path, "as/restricted", "doge", 0, [9.0, 9.0]),
        _run(tmp_path, "as/restricted", "aioli+doge", 0, [10.0, 10.0]),
    ]
    runs = load_runs(paths)
    long = table3(summarize(runs), runs)
    assert list(long["X"]) == ["dml", "doge"] and set(long["setting"]) == {"as"}
    assert long["improvement"].tolist() == pytest.approx([12.0 - 10.5, 9.0 - 10.0])
    assert long["verdict"].tolist() == ["1 seed", "1 seed"]
    wide = table3_wide(long)
    assert wide.loc["dml", "as"] == "12.000 → 10.500 (+1.500)"  # the one-seed note is the table's, once
    assert wide.loc["doge", "Aioli + X better / worse"] == "0 / 0 of 1"


def test_table3_marks_a_significant_paired_gain(tmp_path):
    paths = [
        _run(tmp_path, "as/restricted", m, seed, [v, v])
        for m, values in (("dml", [12.0, 13.0, 12.5]), ("aioli+dml", [10.0, 11.0, 10.4]))
        for seed, v in enumerate(values)
    ]
    runs = load_runs(paths)
    long = table3(summarize(runs), runs)
    # gains (2.0, 2.0, 2.1): mean 2.0333, sd 0.0577, t(0.975, 2) = 4.3027 -> half-width 0.1434
    assert long.loc[0, "improvement_lo"] == pytest.approx(2.0333 - 0.1434, abs=1e-3)
    assert long.loc[0, "verdict"] == "Aioli + X better"
    assert table3_wide(long).loc["dml", "Aioli + X better / worse"] == "1 / 0 of 1"


def test_latex_escapes_and_aligns():
    frame = pd.DataFrame({"name": ["a_b & c"], "value": [1.5]}).set_index("name")
    tex = to_latex(frame, "50% done", "tab:x")
    assert r"a\_b \& c & 1.500 \\" in tex and r"\begin{tabular}{lr}" in tex and r"50\% done" in tex


def test_html_table_escapes_and_keeps_title_and_note():
    from pipeline_lib.report.html import to_html

    frame = pd.DataFrame({"x <a>": [1.23456, float("nan")]}, index=pd.Index(["m&1", "m2"], name="method"))
    page = to_html(frame, "Table <2>", "note & more")
    assert "<caption>Table &lt;2&gt;</caption>" in page and "<p>note &amp; more</p>" in page
    assert "<th>x &lt;a&gt;</th>" in page and "<td>m&amp;1</td><td>1.235</td>" in page
    assert "<td>m2</td><td></td>" in page  # NaN left blank


def test_grid_search_counts_its_selected_pilot_once(tmp_path):
    """Unrestricted grid search's final run is one of its 9 pilots: 9 runs of compute, not 10."""
    pilots = {"runs": 9, "tokens": 900, "flops": 9e9}
    summaries = {"grid_search": {"selected_run": "p3"}, "dml": {"fit_path": "f"}}
    paths = [
        write_run(tmp_path / m / "run.json", method=m, extra_runs=pilots, flops=1e9, method_summary=summary)
        for m, summary in summaries.items()
    ]
    assert load_runs(paths).set_index("method")["flops"].to_dict() == {"grid_search": 9e9, "dml": 10e9}
