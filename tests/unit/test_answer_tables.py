"""The answer first: Table 2 carries every method's mixture, the headline table picks the best method."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from pipeline_lib.records import MixtureTrace, RecordError, RunRecord, chosen_mixture
from pipeline_lib.report import headline, labels
from pipeline_lib.report.tables import load_paper_table2, load_runs, summarize, table2, write_table2
from tests.records import write_run

GROUPS = ("arxiv", "stackexchange")
STATIC = {"stratified": [0.5, 0.5], "grid_search": [0.3, 0.7], "dml": [0.365, 0.635], "olmix": [0.6, 0.4]}


def _online(tmp_path, setting="as", seed=0, ppl=(9.0, 9.0)):
    """An online run of 100 steps whose p moves: 0.5 for 20 steps, 0.7 for 60, 0.6 for the last 20."""
    d = tmp_path / setting / "runs" / "aioli" / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "mixture.csv").write_text("step,arxiv,stackexchange\n0,0.5,0.5\n20,0.7,0.3\n80,0.6,0.4\n")
    return _write(d / "run.json", setting, "aioli", seed, [0.6, 0.4], ppl)


def _write(path, setting, method, seed, mixture, ppl):
    return write_run(
        path, groups=GROUPS, mixture=mixture, setting=setting, method=method, seed=seed, steps=100,
        test_ppl=dict(zip(GROUPS, ppl, strict=True)), avg_test_ppl=sum(ppl) / 2,
    )  # fmt: skip


def _static(tmp_path, method, setting="as", seed=0, ppl=(10.0, 10.0)):
    path = tmp_path / setting / "runs" / method / f"seed{seed}" / "run.json"
    return _write(path, setting, method, seed, STATIC[method], ppl)


def test_the_mixture_trace_time_average_and_its_errors(tmp_path):
    run = RunRecord.read(_online(tmp_path))
    trace = MixtureTrace.of_run(run)
    assert trace.moves and trace.steps == (0, 20, 80)
    # (20 x 0.5 + 60 x 0.7 + 20 x 0.6) / 100
    assert trace.time_average(0, 100)["arxiv"] == pytest.approx(0.64)
    assert trace.time_average(50, 100)["arxiv"] == pytest.approx((30 * 0.7 + 20 * 0.6) / 50)
    assert chosen_mixture(run) == (pytest.approx({"arxiv": 0.64, "stackexchange": 0.36}), "time-average")
    static = RunRecord.read(_static(tmp_path, "grid_search"))
    assert chosen_mixture(static) == ({"arxiv": 0.3, "stackexchange": 0.7}, "final")  # exact, from run.json
    bad = tmp_path / "bad.csv"
    bad.write_text("step,arxiv\n0,1.0\n")
    with pytest.raises(RecordError, match=r"bad.csv: columns \['step', 'arxiv'\], expected"):
        MixtureTrace.read(bad, GROUPS)


def test_table2_carries_every_methods_mixture(tmp_path):
    """Built from the fixture run record: each method's mixture beside its Δ, the time-average for a moving
    one (marked), the final one in the CSV; readable setting names; one note for one seed."""
    paths = [_static(tmp_path, m) for m in STATIC] + [_online(tmp_path)]
    runs = load_runs(paths)
    table = table2(summarize(runs))
    mix = "ArXiv/StackExchange: mixture (arxiv / stackexchange)"
    expected = {"stratified": "0.500 / 0.500", "grid_search": "0.300 / 0.700", "dml": "0.365 / 0.635"}
    expected |= {"olmix": "0.600 / 0.400", "aioli": "0.640 / 0.360 †"}
    assert table[mix].to_dict() == expected
    assert table.loc["aioli", "ArXiv/StackExchange"] == "9.000 (−1.000)"
    write_table2(runs, tmp_path / "report", {"as": "as"}, same_data=False)
    csv = pd.read_csv(tmp_path / "report" / "table2.csv").set_index("method")
    assert csv.loc["aioli", "p_arxiv"] == pytest.approx(0.64)
    assert csv.loc["aioli", "final_p_arxiv"] == pytest.approx(0.6) and csv.loc["aioli", "name"] == (
        "ArXiv/StackExchange"
    )
    md = (tmp_path / "report" / "table2.md").read_text()
    assert md.count(labels.ONE_SEED_NOTE) == 2  # once under the headline, once under Table 2
    assert "1 seed: no interval" not in md
    assert md.startswith("# The answer: per setting, the best method against stratified")


def _two_seeds(tmp_path):
    """Two seeds. as: stratified 10/12, grid_search 9/10.9 (better in both: resolved), dml 9.5/13.
    abse: stratified 20/22, grid_search 19/23 (mixed: not resolved), dml 20.5/22.5 (worse in both)."""
    values = {
        ("as", "stratified"): (10.0, 12.0), ("as", "grid_search"): (9.0, 10.9), ("as", "dml"): (9.5, 13.0),
        ("abse", "stratified"): (20.0, 22.0), ("abse", "grid_search"): (19.0, 23.0),
        ("abse", "dml"): (20.5, 22.5),
    }  # fmt: skip
    return [
        _static(tmp_path, m, setting=s, seed=seed, ppl=(v, v))
        for (s, m), pair in values.items()
        for seed, v in enumerate(pair)
    ]


def test_the_headline_picks_the_best_resolved_method_per_setting(tmp_path):
    summary = summarize(load_runs(_two_seeds(tmp_path)))
    long = headline.headline(summary, load_paper_table2(), {"as": "as"}).set_index("setting")
    # as: grid_search's paired differences (-1, -1.1) lie below 0; dml's (-0.5, +1) do not
    assert long.loc["as", "method"] == "grid_search" and bool(long.loc["as", "resolved"])
    assert long.loc["as", "gain_pct"] == pytest.approx(100 * 1.05 / 11.0)
    assert long.loc["as", "paper_gain_pct"] == pytest.approx(100 * 0.399 / 16.532)  # Aioli's Table 2
    assert long.loc["as", "p_arxiv"] == pytest.approx(0.3)
    # abse: no interval lies below 0; grid search has the lowest mean (Δ 0 against dml's +0.5)
    assert long.loc["abse", "method"] == "grid_search" and not bool(long.loc["abse", "resolved"])
    assert pd.isna(long.loc["abse", "paper_gain_pct"])  # abse stands for no paper column here
    shown = headline.shown(long.reset_index())
    row = shown.loc["ArXiv/StackExchange (as)"]
    assert row["best method vs stratified"] == "grid_search"
    assert row["its mixture"] == "arxiv 0.300, stackexchange 0.700"
    assert row["gain over stratified"] == "+9.55%" and row["the paper's gain (same method)"] == "+2.41%"
    assert row["compute (FLOPs per seed)"].endswith("(1.0× stratified)")
    assert row["Δ avg test ppl"].endswith("*")  # its interval excludes 0
    # both settings mix arxiv and stackexchange: the names keep their keys
    assert list(shown.index) == ["ArXiv/StackExchange (as)", "ArXiv/StackExchange (abse)"]
    assert shown.iloc[1]["best method vs stratified"] == "not resolved (grid_search)"
    # the report's first page: three columns, narrow enough for the text beside the rule graph
    first = headline.first_page(long.reset_index())
    assert list(first.columns) == list(headline.FIRST_PAGE_COLUMNS[1:])
    row = first.iloc[0]
    assert first.index[0] == "ArXiv/\u200bStackExchange (as)"  # a line may break after "/"
    assert row.iloc[0] == "grid_search: arxiv 0.300, stackexchange 0.700"
    assert (
        row.iloc[1].startswith("+9.55% (paper +2.41%), Δ ppl ")
        and " FLOPs/seed (1.0× stratified)" in row.iloc[1]
    )
    rst = headline.to_rst(first, "t", headline.FIRST_PAGE_WIDTHS)
    assert "   :widths: 24 40 36\n" in rst and rst.count("   * - ") == 3  # the header and two settings


def test_labels_format_flops_counts_and_names():
    assert labels.flops(667680768000.0) == "6.68e11" and labels.flops(2e9) == "2.00e9"
    assert labels.count(9.0) == "9" and labels.count(2.5) == "2.5"
    assert labels.percent(-1.234) == "−1.23%"
    groups = ["arxiv", "book", "c4", "cc", "github", "stackexchange", "wikipedia"]
    assert labels.setting_name("full", groups) == "full: 7 groups"
    assert (
        labels.setting_name("as/restricted", ["arxiv", "stackexchange"]) == "ArXiv/StackExchange, restricted"
    )


def test_the_reports_first_page_leads_with_the_headline_and_names_both_papers(tmp_path):
    """report/workflow.rst rendered as `snakemake --report` renders it (Jinja, then docutils)."""
    from docutils.core import publish_parts
    from jinja2 import Environment

    from tests.workflow.helpers import REPO

    results = tmp_path / "results"
    write_table2(load_runs(_two_seeds(tmp_path)), results / "report", {"as": "as"}, same_data=False)

    def render(config: dict) -> str:
        text = Environment().from_string((REPO / "report" / "workflow.rst").read_text())
        return publish_parts(text.render(snakemake=SimpleNamespace(config=config)), writer="html")[
            "html_body"
        ]

    page = render({"results_dir": str(results), "run": {"settings": ["as", "abse"], "methods": ["dml"]}})
    assert "<strong>Aioli</strong>" in page and "<strong>Olmix</strong>" in page
    assert "The answer: per setting, the best method against stratified" in page
    assert page.index("not resolved (grid_search)") < page.index("What was run")
    assert "The answer" not in render({"results_dir": str(tmp_path / "none"), "run": {}})  # no settings


def test_table2_gains_a_task_bpb_column_with_paired_intervals(tmp_path):
    """Final runs with downstream scores: each setting's task-BPB cell is mean ± std (Δ [95% CI]) over two
    seeds, paired with stratified's by seed; table2.csv carries the numbers. stratified 2.0/2.2, dml
    1.9/2.0: differences −0.1 and −0.2, mean −0.15, t(0.975, 1) = 12.706, half-width 12.706 x 0.05."""
    from pipeline_lib.report.tables import task_runs

    bpb = {("stratified", 0): 2.0, ("stratified", 1): 2.2, ("dml", 0): 1.9, ("dml", 1): 2.0}
    paths = []
    for (method, seed), value in bpb.items():
        task = {
            "family": "qa",
            "bpb": value,
            "accuracy": None,
            "n_requests": 4,
            "n_truncated": 0,
            "n_split": 0,
        }
        downstream = {"test": {"task_set": "shipped", "tasks": {"t": task}, "wall_time_s": 1.0}}
        path = tmp_path / "as" / "runs" / method / f"seed{seed}" / "run.json"
        paths.append(write_run(path, groups=GROUPS, mixture=STATIC[method], setting="as", method=method,
                               seed=seed, steps=100, downstream=downstream))  # fmt: skip
    with_tasks, rows = task_runs(paths)
    assert list(rows["task_bpb"]) == [2.0, 2.2, 1.9, 2.0]
    write_table2(load_runs(paths), tmp_path / "report", {}, same_data=False, task_runs=with_tasks)
    numbers = pd.read_csv(tmp_path / "report" / "table2.csv").set_index("method")
    half = 12.706204736 * 0.05
    assert numbers.loc["dml", "task_bpb_delta"] == pytest.approx(-0.15)
    assert numbers.loc["dml", "task_bpb_delta_lo"] == pytest.approx(-0.15 - half, abs=1e-6)
    assert numbers.loc["dml", "task_bpb_delta_hi"] == pytest.approx(-0.15 + half, abs=1e-6)
    shown = (tmp_path / "report" / "table2.md").read_text()
    assert "ArXiv/StackExchange: task BPB" in shown and "1.9500 ± 0.0707 (−0.150 [−0.785, +0.485])" in shown
    assert "2.1000 ± 0.1414 |" in shown and "Task BPB: the downstream tasks' bits per byte" in shown
    write_table2(load_runs(paths), tmp_path / "plain", {}, same_data=False)  # no tasks: no column
    assert "task BPB" not in (tmp_path / "plain" / "table2.md").read_text()
