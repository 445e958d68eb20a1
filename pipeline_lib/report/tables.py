"""Perplexity tables from run records: per setting, Table 2 (unrestricted), Table 3 (restricted).

``setting``: one setting; rows = methods, columns = per-group test perplexity and the average (mean and std
over seeds), the difference to stratified, and the compute spent before the run.
``table2``: rows = methods, columns = settings; mean ± std over seeds of the average test perplexity (mean
over groups of exp(group test loss)) with its difference to stratified, the settings better than
stratified, and the extra runs and tokens spent (pilots and proxies included). Also written: the same for
exp(mean test loss) (``table2_exp_loss``) and the paper's Table 2 beside ours (``table2_paper``).
``table3``: X against Aioli + X in each restricted setting, with the improvement.

Table 2 and Table 3 are written as CSV (numbers, long form), Markdown and LaTeX (booktabs); a setting's
table as CSV and Markdown.

    python -m pipeline_lib.report.tables setting --runs r1/run.json ... --out results/as/tables/perplexity
    python -m pipeline_lib.report.tables table2 --runs ... --paper as=as abse=abse --out-dir results/report
    python -m pipeline_lib.report.tables table3 --runs ... --out-dir results/report
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_lib.config import AIOLI_PLUS, RESTRICTED
from pipeline_lib.io import atomic_open, write_csv
from pipeline_lib.logs import setup_logging
from pipeline_lib.records import RunRecord, chosen_mixture
from pipeline_lib.report import headline, labels
from pipeline_lib.report.html import to_html
from pipeline_lib.report.latex import to_latex
from pipeline_lib.report.markdown import to_markdown
from pipeline_lib.report.stats import PairedDiff, paired_diff

log = logging.getLogger(__name__)
BASELINE = "stratified"
METRICS = {
    "avg_test_ppl": "average test perplexity (mean over groups of exp(group test loss))",
    "exp_mean_test_loss": "exp(mean over groups of the test loss)",
}
PAPER_SOURCE = "Aioli (Chen et al., ICLR 2025, arXiv:2411.05735 v2), Table 2"


def run_row(run: RunRecord) -> dict[str, object]:
    """A final run's row: setting, method, seed, the test pass's averages and per-group perplexity, what the
    run and its extra runs spent (FLOPs: :attr:`RunRecord.training_flops`)."""
    test = run.tested
    row = {"setting": run.setting, "method": run.method, "seed": run.seed, "avg_test_ppl": test.avg_ppl}
    row["exp_mean_test_loss"] = test.exp_mean_loss
    row.update({f"ppl_{g}": v for g, v in test.ppl.items()})
    row["extra_runs"] = run.extra_runs.runs
    row["extra_tokens"] = run.extra_runs.tokens
    row["tokens"] = run.trained_tokens
    row["flops"] = run.training_flops
    return row | mixture_columns(run)


def mixture_columns(run: RunRecord) -> dict[str, object]:
    """The run's groups (comma-joined), the mixture it answers with (``p_<group>``: the final one, or for a
    mixture that moved the time-average of p^t; ``mixture_shown`` says which), its final mixture
    (``final_p_<group>``) and whether its final run trained anew (grid search's is its best pilot)."""
    mixture, kind = chosen_mixture(run)
    row: dict[str, object] = {"groups": ",".join(run.groups), "mixture_shown": kind}
    row.update({f"p_{g}": v for g, v in mixture.items()})
    row.update({f"final_p_{g}": v for g, v in run.final_mixture.items()})
    row["final_runs"] = 0 if run.selected_run else 1
    return row


def load_runs(paths: Sequence[str]) -> pd.DataFrame:
    """One row per run: setting, method, seed, avg_test_ppl, exp_mean_test_loss, ppl_<group>, compute."""
    rows = [run_row(RunRecord.read(path)) for path in paths]
    if not rows:
        raise ValueError("no run records given")
    return pd.DataFrame(rows)


def method_order(methods: Sequence[str]) -> list[str]:
    """Stratified first, then the given order."""
    unique = list(dict.fromkeys(methods))
    return sorted(unique, key=lambda m: (m != BASELINE, unique.index(m)))


def setting_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-method mean test perplexity per group, average ppl (mean, std over seeds), delta to stratified."""
    if runs["setting"].nunique() != 1:
        raise ValueError(f"setting_table needs runs of one setting, got {sorted(runs['setting'].unique())}")
    group_cols = [c for c in runs.columns if c.startswith("ppl_") and runs[c].notna().all()]
    grouped = runs.groupby("method", sort=False)
    table = grouped[group_cols].mean()
    table["avg_ppl"] = grouped["avg_test_ppl"].mean()
    table["avg_ppl_std"] = grouped["avg_test_ppl"].std(ddof=1).fillna(0.0)
    table["exp_mean_loss_ppl"] = grouped["exp_mean_test_loss"].mean()
    table["seeds"] = grouped["seed"].nunique()
    table["extra_runs"] = grouped["extra_runs"].mean()
    table["extra_tokens"] = grouped["extra_tokens"].mean()
    table["flops"] = grouped["flops"].mean()
    if BASELINE in table.index:
        table["delta_vs_stratified"] = table["avg_ppl"] - table.loc[BASELINE, "avg_ppl"]
    mixture = [f"p_{g.removeprefix('ppl_')}" for g in group_cols]
    table[mixture] = grouped[mixture].mean()
    table["mixture_shown"] = grouped["mixture_shown"].first()
    table = table.loc[method_order(list(table.index))]
    table.index.name = "method"
    return table.rename(columns={c: c.removeprefix("ppl_") for c in group_cols})


SETTING_COLUMNS = {
    "avg_ppl": "avg ppl",
    "avg_ppl_std": "± std",
    "delta_vs_stratified": "Δ vs stratified",
    "exp_mean_loss_ppl": "exp(mean loss)",
}


def setting_shown(table: pd.DataFrame) -> pd.DataFrame:
    """A setting's table as printed: perplexities, the mixture, counts as integers and FLOPs as 6.68e11."""
    groups = [c.removeprefix("p_") for c in table.columns if c.startswith("p_")]
    shown = table[[*groups, *(c for c in SETTING_COLUMNS if c in table)]].rename(columns=SETTING_COLUMNS)
    mixtures = [
        labels.mixture_cell({g: r[f"p_{g}"] for g in groups}, groups)
        + (f" {ONLINE_MARK}" if r["mixture_shown"] == "time-average" else "")
        for _, r in table.iterrows()
    ]
    shown[f"mixture ({' / '.join(groups)})"] = mixtures
    shown["seeds"] = table["seeds"].map(labels.count)
    shown["learning runs"] = table["extra_runs"].map(labels.count)
    shown["learning tokens"] = table["extra_tokens"].map(labels.count)
    shown["compute (FLOPs)"] = table["flops"].map(labels.flops)
    return shown


def paired(runs: pd.DataFrame, setting: str, method: str, baseline: str, metric: str) -> PairedDiff:
    """``method`` - ``baseline`` in ``setting``, paired by seed (seeds run by both)."""
    part = runs[runs["setting"] == setting].pivot_table(index="seed", columns="method", values=metric)
    if method not in part or baseline not in part:
        return paired_diff([])
    return paired_diff((part[method] - part[baseline]).dropna().tolist())


def summarize(runs: pd.DataFrame, metric: str = "avg_test_ppl") -> pd.DataFrame:
    """Long form, one row per (setting, method): mean, std and count over seeds of ``metric``, its difference
    to stratified in the same setting (the mean paired difference over seeds) with its 95% t-interval and
    verdict, and the mean extra runs and tokens per seed."""
    grouped = runs.groupby(["setting", "method"], sort=False)
    out = grouped[metric].agg(mean="mean", std=lambda s: s.std(ddof=1) if len(s) > 1 else np.nan)
    out["seeds"] = grouped["seed"].nunique()
    out["extra_runs"] = grouped["extra_runs"].mean()
    out["extra_tokens"] = grouped["extra_tokens"].mean()
    out["flops"] = grouped["flops"].mean()
    out = out.join(mixture_summary(runs, grouped))
    base = out.xs(BASELINE, level="method")["mean"] if BASELINE in runs["method"].values else None
    settings = out.index.get_level_values("setting")
    out["delta"] = out["mean"].to_numpy() - base.reindex(settings).to_numpy() if base is not None else np.nan
    diffs = [paired(runs, s, m, BASELINE, metric) for s, m in out.index]
    out["delta_lo"] = [d.lo for d in diffs]
    out["delta_hi"] = [d.hi for d in diffs]
    out["pairs"] = [d.n for d in diffs]
    out["verdict"] = [d.verdict if m != BASELINE else "" for d, (_, m) in zip(diffs, out.index, strict=True)]
    out["delta_label"] = [d.label(seed_note=False) for d in diffs]
    return out.reset_index()


def mixture_summary(runs: pd.DataFrame, grouped: pd.core.groupby.DataFrameGroupBy) -> pd.DataFrame:
    """Per (setting, method): the setting's readable name and groups, the final runs per seed, the mixture
    shown and the final one (means over seeds; NaN for a group the setting lacks)."""
    mixture = [c for c in runs.columns if c.startswith(("p_", "final_p_"))]
    out = grouped[["final_runs", *mixture]].mean()
    out["groups"] = grouped["groups"].first()
    out["mixture_shown"] = grouped["mixture_shown"].agg(lambda s: "/".join(sorted(set(s))))
    groups = dict(zip(runs["setting"], runs["groups"].str.split(","), strict=True))
    names = labels.setting_names(groups)
    out.insert(0, "name", [names[s] for s in out.index.get_level_values("setting")])
    return out


def mixture_of(row: pd.Series, prefix: str = "p_") -> dict[str, float]:
    """A summary row's mixture over its setting's groups (``prefix`` ``final_p_``: the final one)."""
    return {g: float(row[f"{prefix}{g}"]) for g in str(row["groups"]).split(",")}


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"


def _signed(x: float) -> str:
    return "" if pd.isna(x) else f"{x:+.3f}".replace("-", "−")


ONLINE_MARK = "†"
TABLE2_NOTE = (
    "Δ: the mean over seeds of the paired difference to stratified (same seed), with its 95% t-interval; "
    "* and settings better / worse: the interval excludes 0. Mixture: the mixture each method trained its "
    f"final run on (mean over seeds); {ONLINE_MARK}: a mixture that moved during the run, shown as its "
    "time-average over the run (the final one is in table2.csv, final_p_<group>). Runs: learning runs "
    "(pilots, proxies, swarms) + final runs, per seed, summed over settings (grid search's final run is its "
    "best pilot, so it adds none). Learning tokens: the learning runs' training tokens, in millions. "
    "Compute: training FLOPs of the final runs and their learning runs (6N per token plus attention), per "
    "seed, summed over settings."
)


def mixture_label(row: pd.Series) -> str:
    """A summary row's mixture cell, "0.450 / 0.550", marked when it is a time-average."""
    cell = labels.mixture_cell(mixture_of(row), str(row["groups"]).split(","))
    return cell + (f" {ONLINE_MARK}" if "time-average" in str(row["mixture_shown"]) else "")


TASK_NOTE = (
    " Task BPB: the downstream tasks' bits per byte of the gold answers (the `tasks:` set's test variants, "
    "macro-average over tasks; lower is better), mean ± std over seeds, Δ paired with stratified as above."
)


def _cell(r: pd.Series, baseline: bool, digits: int = 3) -> str:
    """ "mean ± std (Δ [CI])" of a summary row (stratified: "mean ± std")."""
    value = f"{r['mean']:.{digits}f}" + ("" if pd.isna(r["std"]) else f" ± {r['std']:.{digits}f}")
    return value if baseline else f"{value} ({r['delta_label']})"


def _table2_row(
    part: pd.DataFrame,
    columns: Mapping[str, tuple[str, str]],
    baseline: bool,
    tasks: pd.DataFrame | None = None,
) -> dict:
    """One method's row of Table 2 (``part``: its summary rows, indexed by setting; ``tasks``: its summary
    rows of the downstream tasks' BPB, when the final runs scored them)."""
    row: dict[str, object] = {}
    for s, (cell, mix) in columns.items():
        task_col = f"{cell}: task BPB"
        if s not in part.index:
            row[cell] = row[mix] = ""
            row |= {task_col: ""} if tasks is not None else {}
            continue
        r = part.loc[s]
        row[cell] = _cell(r, baseline)
        row[mix] = mixture_label(r)
        if tasks is not None:
            row[task_col] = _cell(tasks.loc[s], baseline, 4) if s in tasks.index else ""
    verdicts = part["verdict"].tolist()
    counts = f"{verdicts.count('better')} / {verdicts.count('worse')}"
    row["settings better / worse"] = "—" if baseline else counts
    learning, final = part["extra_runs"].sum(), part["final_runs"].sum()
    row["runs (learning + final)"] = f"{labels.count(learning)} + {labels.count(final)}"
    row["learning tokens (M)"] = f"{part['extra_tokens'].sum() / 1e6:.2f}"
    row["compute (FLOPs)"] = labels.flops(part["flops"].sum())
    return row


def table2(summary: pd.DataFrame, tasks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows = methods; per setting (by its readable name) "mean ± std (Δ)", the mixture and, with ``tasks``
    (the summary of the downstream tasks' macro BPB), the task-BPB cell; the settings
    better / worse than stratified; runs (learning + final), learning tokens (millions) and compute (FLOPs),
    per seed, summed over settings. FLOPs, not runs, compare methods whose learning runs are smaller models
    (Olmix's proxies)."""
    first = summary.drop_duplicates("setting").set_index("setting")
    columns = {
        s: (r["name"], f"{r['name']}: mixture ({' / '.join(str(r['groups']).split(','))})")
        for s, r in first.iterrows()
    }
    rows = {}
    for method in method_order(list(summary["method"])):
        part = summary[summary["method"] == method].set_index("setting")
        own = None if tasks is None else tasks[tasks["method"] == method].set_index("setting")
        rows[method] = _table2_row(part, columns, method == BASELINE, own)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table


def one_seed_note(pairs: pd.Series) -> str:
    """The table's one note on intervals when some comparison has a single seed."""
    return f" {labels.ONE_SEED_NOTE}" if (pairs == 1).any() else ""


def load_paper_table2() -> pd.DataFrame:
    """The paper's Table 2 (stratified absolute, others as deltas), shipped with the package."""
    ref = resources.files("pipeline_lib.report") / "paper" / "aioli_table2.csv"
    with ref.open(encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#").set_index("method")


def _paper_cells(ours: float, base: float, theirs: float, theirs_base: float, method: str) -> dict:
    """One setting's cells beside the paper: absolute, relative to each table's stratified, and the gap
    (stratified: (ours − paper) / paper in %; others: our Δ% − the paper's, in percentage points)."""
    cells = {"ours": ours, "paper": theirs}
    if method == BASELINE:
        return cells | {"ours − paper (%)": 100 * (ours - theirs) / theirs}
    cells |= {"ours Δ%": 100 * ours / base, "paper Δ%": 100 * theirs / theirs_base}
    return cells | {"ours − paper (%)": cells["ours Δ%"] - cells["paper Δ%"]}


def paper_table(summary: pd.DataFrame, paper_columns: Mapping[str, str], same_data: bool) -> pd.DataFrame:
    """Our Δ vs stratified beside the paper's for each setting that stands for a paper column, absolute and
    relative (Δ as a % of the same table's stratified perplexity; stratified: absolute).

    ``same_data``: the settings are the paper's own (SlimPajama), so the gap is shown; otherwise the paper's
    numbers are a reference for the shape of the result, not a target."""
    paper = load_paper_table2()
    names = dict(zip(summary["setting"], summary["name"], strict=True))
    base = summary[summary["method"] == BASELINE].set_index("setting")["mean"]
    rows = {}
    for method in method_order(list(summary["method"])):
        part = summary[summary["method"] == method].set_index("setting")
        row: dict[str, object] = {}
        for setting, column in paper_columns.items():
            if setting not in part.index:
                continue
            ours = float(part.loc[setting, "mean" if method == BASELINE else "delta"])
            theirs = float(paper.loc[method, column]) if method in paper.index else np.nan
            cells = _paper_cells(ours, base[setting], theirs, float(paper.loc[BASELINE, column]), method)
            if not same_data:
                cells.pop("ours − paper (%)")
            heads = {"paper": f"paper ({column})"}
            row |= {f"{names[setting]}: {heads.get(k, k)}": v for k, v in cells.items()}
        rows[method] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    order = [names[s] for s in paper_columns if s in names]
    table = table[sorted(table.columns, key=lambda c: order.index(c.rsplit(": ", 1)[0]))]  # stable
    table.index.name = "method"
    return table


def table3(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Long form, one row per (setting, X): X's and Aioli + X's average test perplexity and the improvement
    (X − Aioli + X; positive = Aioli + X is better), paired by seed, with its 95% t-interval and verdict."""
    rows = []
    for _, r in summary[~summary["method"].str.startswith(AIOLI_PLUS)].iterrows():
        plus = summary[(summary["setting"] == r["setting"]) & (summary["method"] == AIOLI_PLUS + r["method"])]
        if plus.empty:
            continue
        p = plus.iloc[0]
        gain = paired(runs, r["setting"], r["method"], AIOLI_PLUS + r["method"], "avg_test_ppl")
        rows.append(
            {
                "setting": str(r["setting"]).removesuffix(f"/{RESTRICTED}"),
                "X": r["method"],
                "X_ppl": r["mean"],
                "X_std": r["std"],
                "aioli_plus_X_ppl": p["mean"],
                "aioli_plus_X_std": p["std"],
                "improvement": r["mean"] - p["mean"],
                "improvement_pct": 100 * (r["mean"] - p["mean"]) / r["mean"],
                "improvement_lo": gain.lo,
                "improvement_hi": gain.hi,
                "seeds": int(min(r["seeds"], p["seeds"])),
                "verdict": {"worse": "Aioli + X better", "better": "X better"}.get(
                    gain.verdict, gain.verdict
                ),
                "improvement_label": gain.label(seed_note=False),
            }
        )
    if not rows:
        raise ValueError("no (X, aioli+X) pairs among the runs")
    return pd.DataFrame(rows)


def table3_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Rows = X, columns = settings, cells "X → Aioli + X (improvement)"; then the settings Aioli + X wins."""
    settings = list(dict.fromkeys(long["setting"]))
    rows = {}
    for x in dict.fromkeys(long["X"]):
        part = long[long["X"] == x].set_index("setting")
        row = {
            s: (
                f"{_mean_std(part.loc[s, 'X_ppl'], part.loc[s, 'X_std'])} → "
                f"{_mean_std(part.loc[s, 'aioli_plus_X_ppl'], part.loc[s, 'aioli_plus_X_std'])} "
                f"({part.loc[s, 'improvement_label']})"
                if s in part.index
                else ""
            )
            for s in settings
        }
        verdicts = part["verdict"].tolist()
        row["Aioli + X better / worse"] = (
            f"{verdicts.count('Aioli + X better')} / {verdicts.count('X better')} of {len(part)}"
        )
        rows[x] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "X"
    return table


def write_table(
    table: pd.DataFrame, out: str | Path, title: str, floatfmt: str = ".3f", note: str = ""
) -> None:
    """``out``.csv (the numbers), ``out``.md and ``out``.html (as printed) of a per-setting table."""
    out = Path(out)
    write_csv(out.with_suffix(".csv"), table.reset_index())
    shown = setting_shown(table)
    with atomic_open(out.with_suffix(".md"), "w", encoding="utf-8") as fh:
        fh.write(f"# {title}\n\n{to_markdown(shown, floatfmt)}" + (f"\n{note}\n" if note else ""))
    with atomic_open(out.with_suffix(".html"), "w", encoding="utf-8") as fh:
        fh.write(to_html(shown, title, note, floatfmt=floatfmt))


def write_formats(
    out: str | Path,
    numbers: pd.DataFrame,
    shown: pd.DataFrame,
    title: str,
    note: str = "",
    floatfmt: str = ".3f",
    lead: str = "",
) -> None:
    """``out``.csv (the numbers), ``out``.md, ``out``.tex and ``out``.html (the formatted table, its title
    and note; the HTML report shows the last inline); ``lead``: Markdown the .md starts with."""
    out = Path(out)
    write_csv(out.with_suffix(".csv"), numbers.reset_index() if numbers.index.name else numbers)
    with atomic_open(out.with_suffix(".md"), "w", encoding="utf-8") as fh:
        fh.write(lead + ("\n" if lead else ""))
        fh.write(f"# {title}\n\n{to_markdown(shown, floatfmt)}" + (f"\n{note}\n" if note else ""))
    with atomic_open(out.with_suffix(".tex"), "w", encoding="utf-8") as fh:
        fh.write(to_latex(shown, f"{title}. {note}".strip(), f"tab:{out.name}", floatfmt))
    with atomic_open(out.with_suffix(".html"), "w", encoding="utf-8") as fh:
        fh.write(to_html(shown, title, note, floatfmt))


def with_task_numbers(summary: pd.DataFrame, tasks: pd.DataFrame | None) -> pd.DataFrame:
    """Table 2's numbers with the task-BPB summary's columns beside them (``task_bpb_mean``, ...)."""
    if tasks is None:
        return summary
    cols = ["mean", "std", "delta", "delta_lo", "delta_hi", "pairs", "verdict", "delta_label"]
    renamed = tasks[["setting", "method", *cols]].rename(columns={c: f"task_bpb_{c}" for c in cols})
    return summary.merge(renamed, on=["setting", "method"], how="left")


def write_table2(
    runs: pd.DataFrame, out_dir: str | Path, paper: Mapping[str, str], same_data: bool,
    task_runs: pd.DataFrame | None = None,
) -> None:  # fmt: skip
    """Table 2 (with the headline above it), its exp-loss variant and, for settings that stand for a paper
    column, the paper's Table 2 beside ours; with ``task_runs`` (the runs with their downstream tasks' macro
    BPB), a task-BPB column per setting."""
    from pipeline_lib.report.downstream import MACRO

    out_dir = Path(out_dir)
    tasks = summarize(task_runs, MACRO) if task_runs is not None else None
    for metric, name in (("avg_test_ppl", "table2"), ("exp_mean_test_loss", "table2_exp_loss")):
        summary = summarize(runs, metric)
        label = "" if metric == "avg_test_ppl" else " (variant)"
        top = write_headline(out_dir, summary, paper) if metric == "avg_test_ppl" else ""
        write_formats(
            out_dir / name,
            with_task_numbers(summary, tasks),
            table2(summary, tasks),
            f"Table 2{label}: {METRICS[metric]}, mean ± std over seeds (Δ vs stratified [95% CI])",
            TABLE2_NOTE + (TASK_NOTE if tasks is not None else "") + one_seed_note(summary["pairs"]),
            lead=top,
        )
    if paper:
        summary = summarize(runs)
        shown = paper_table(summary, paper, same_data)
        kind = "difference to the paper" if same_data else "the paper's numbers as a reference (other data)"
        write_formats(
            out_dir / "table2_paper",
            shown,
            shown,
            "Table 2 beside the paper: Δ average test perplexity vs stratified, absolute and as a % of "
            "stratified's (stratified: absolute); " + kind,
            f"Source: {PAPER_SOURCE}. Relative gaps compare across scales: the paper's perplexities are "
            "those of 160M models on SlimPajama.",
        )


def write_headline(out_dir: Path, summary: pd.DataFrame, paper: Mapping[str, str]) -> str:
    """headline.{csv,md,tex,html,rst}; returns its Markdown, for the top of table2.md."""
    long = headline.headline(summary, load_paper_table2(), paper)
    table = headline.shown(long)
    title = "The answer: per setting, the best method against stratified"
    note = headline.NOTE + one_seed_note(summary["pairs"])
    write_formats(out_dir / "headline", long, table, title, note)
    with atomic_open(out_dir / "headline.rst", "w", encoding="utf-8") as fh:
        fh.write(
            headline.to_rst(headline.first_page(long), title, headline.FIRST_PAGE_WIDTHS) + f"\n{note}\n"
        )
    return (out_dir / "headline.md").read_text(encoding="utf-8")


def task_runs(paths: Sequence[str]) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The final runs that scored the downstream tasks, with their macro BPB (None: none did), and the
    per-run downstream rows (:func:`~pipeline_lib.report.downstream.downstream_rows`)."""
    from pipeline_lib.report.downstream import MACRO, downstream_rows

    rows = downstream_rows(paths)
    if rows.empty:
        return None, rows
    keys = ["setting", "method", "seed"]
    return load_runs(paths).merge(rows[[*keys, MACRO]], on=keys), rows


def write_task_bpb_tables(runs: pd.DataFrame | None, rows: pd.DataFrame, out_dir: str | Path) -> None:
    """With downstream-task scores in the final runs (``tasks:``): Table 2's layout on the test tasks'
    macro-average BPB (``table2_task_bpb``: mean ± std, Δ vs stratified [95% paired CI]) and the per-setting
    method x task-family table (``task_families``). Nothing without them."""
    from pipeline_lib.report.downstream import MACRO, family_table, family_wide

    if runs is None:
        return
    summary = summarize(runs, MACRO)
    note = "Δ: mean paired difference to stratified over seeds [95% t-interval]; lower BPB is better."
    title = "Table 2 (downstream tasks): test-task bits per byte, macro-average over tasks, mean ± std"
    write_formats(Path(out_dir) / "table2_task_bpb", summary, table2(summary), title, note, ".4f")
    long = family_table(rows)
    title = "Downstream-task BPB per task family (test variants), mean over seeds (Δ vs stratified [95% CI])"
    write_formats(Path(out_dir) / "task_families", long, family_wide(long), title, note, ".4f")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["setting", "table2", "table3"])
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--out", help="setting: the output path without suffix (.csv and .md are written)")
    ap.add_argument("--out-dir", help="table2, table3: the report directory")
    ap.add_argument("--paper", nargs="*", default=[], help="table2: setting=paper_column pairs")
    ap.add_argument("--same-data", action="store_true", help="table2: the settings are the paper's own data")
    args = ap.parse_args(argv)
    setup_logging()
    runs = load_runs(args.runs)
    if args.kind == "setting":
        first = runs.iloc[0]
        name = labels.setting_name(first["setting"], first["groups"].split(","))
        title = f"{name} ({first['setting']}): test perplexity per group, their average (mean over seeds)"
        note = (
            f"Mixture: the final one; {ONLINE_MARK}: the time-average of one that moved. Learning runs and "
            "tokens: spent before the final run, per seed. Compute: training FLOPs, per seed."
        )
        write_table(setting_table(runs), args.out, title, note=note)
    elif args.kind == "table2":
        paper = dict(pair.split("=", 1) for pair in args.paper)
        with_tasks, downstream = task_runs(args.runs)
        write_table2(runs, args.out_dir, paper, args.same_data, with_tasks)
        write_task_bpb_tables(with_tasks, downstream, args.out_dir)
    else:
        long = table3(summarize(runs), runs)
        wins, total = int((long["improvement"] > 0).sum()), len(long)
        resolved = int((long["verdict"] == "Aioli + X better").sum())
        write_formats(
            Path(args.out_dir) / "table3",
            long,
            table3_wide(long),
            "Table 3 (restricted): X → Aioli + X, average test perplexity (improvement; positive = Aioli + X "
            "better)",
            f"Aioli + X beats X in {wins} of {total} (significantly, 95% paired t-interval over seeds: "
            f"{resolved}), by {long['improvement'].mean():.3f} on average "
            f"({labels.percent(long['improvement_pct'].mean(), signed=False)} of X's perplexity). "
            "The paper: 28 of 30, by 1.202 on average (absolute, at 160M-model perplexities of about "
            "16-47: compare the relative figure). Improvement: X − Aioli + X paired by seed [95% CI]."
            + one_seed_note(long["seeds"]),
        )
    log.info("wrote %s", args.out or args.out_dir)


if __name__ == "__main__":
    main()
