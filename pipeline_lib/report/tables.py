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
from pipeline_lib.records import RunRecord
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
    table = table.loc[method_order(list(table.index))]
    table.index.name = "method"
    return table.rename(columns={c: c.removeprefix("ppl_") for c in group_cols})


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
    base = out.xs(BASELINE, level="method")["mean"] if BASELINE in runs["method"].values else None
    settings = out.index.get_level_values("setting")
    out["delta"] = out["mean"].to_numpy() - base.reindex(settings).to_numpy() if base is not None else np.nan
    diffs = [paired(runs, s, m, BASELINE, metric) for s, m in out.index]
    out["delta_lo"] = [d.lo for d in diffs]
    out["delta_hi"] = [d.hi for d in diffs]
    out["pairs"] = [d.n for d in diffs]
    out["verdict"] = [d.verdict if m != BASELINE else "" for d, (_, m) in zip(diffs, out.index, strict=True)]
    out["delta_label"] = [d.label() for d in diffs]
    return out.reset_index()


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"


def _signed(x: float) -> str:
    return "" if pd.isna(x) else f"{x:+.3f}".replace("-", "−")


def _runs_label(values: Sequence[float]) -> str:
    return "/".join(dict.fromkeys(f"{v:g}" for v in values))


def table2(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows = methods, columns = settings ("mean ± std (Δ)"), # better than stratified, extra runs (per
    setting, '/'-joined when they differ), extra tokens (millions) and compute (the final run's FLOPs and its
    learning runs', per seed), both summed over settings. FLOPs, not runs, compare methods whose learning
    runs are smaller models (Olmix's proxies)."""
    settings = list(dict.fromkeys(summary["setting"]))
    rows = {}
    for method in method_order(list(summary["method"])):
        part = summary[summary["method"] == method].set_index("setting")
        row: dict[str, object] = {}
        for s in settings:
            if s not in part.index:
                row[s] = ""
                continue
            r = part.loc[s]
            cell = _mean_std(r["mean"], r["std"])
            row[s] = cell if method == BASELINE else f"{cell} ({r['delta_label']})"
        verdicts = part["verdict"].tolist()
        row["# better / worse"] = (
            "—" if method == BASELINE else f"{verdicts.count('better')} / {verdicts.count('worse')}"
        )
        row["extra runs"] = _runs_label(part["extra_runs"].tolist())
        row["extra tokens (M)"] = f"{part['extra_tokens'].sum() / 1e6:.2f}"
        row["compute (FLOPs)"] = f"{part['flops'].sum():.2e}"
        rows[method] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table


def load_paper_table2() -> pd.DataFrame:
    """The paper's Table 2 (stratified absolute, others as deltas), shipped with the package."""
    ref = resources.files("pipeline_lib.report") / "paper" / "aioli_table2.csv"
    with ref.open(encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#").set_index("method")


def paper_table(summary: pd.DataFrame, paper_columns: Mapping[str, str], same_data: bool) -> pd.DataFrame:
    """Our Δ vs stratified beside the paper's for each setting that stands for a paper column.

    ``same_data``: the settings are the paper's own (SlimPajama), so the difference is shown; otherwise the
    paper's numbers are a reference for the shape of the result, not a target."""
    paper = load_paper_table2()
    rows = {}
    for method in method_order(list(summary["method"])):
        part = summary[summary["method"] == method].set_index("setting")
        row: dict[str, object] = {}
        for setting, column in paper_columns.items():
            if setting not in part.index:
                continue
            ours = part.loc[setting, "mean" if method == BASELINE else "delta"]
            theirs = float(paper.loc[method, column]) if method in paper.index else np.nan
            row[f"{setting}: ours"] = float(ours)
            row[f"{setting}: paper ({column})"] = theirs
            if same_data:
                row[f"{setting}: ours − paper"] = float(ours) - theirs
        rows[method] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
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
                "improvement_lo": gain.lo,
                "improvement_hi": gain.hi,
                "seeds": int(min(r["seeds"], p["seeds"])),
                "verdict": {"worse": "Aioli + X better", "better": "X better"}.get(
                    gain.verdict, gain.verdict
                ),
                "improvement_label": gain.label(),
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


def write_table(table: pd.DataFrame, out: str | Path, title: str, floatfmt: str = ".3f") -> None:
    """``out``.csv, ``out``.md and ``out``.html of a per-setting table."""
    out = Path(out)
    write_csv(out.with_suffix(".csv"), table.reset_index())
    with atomic_open(out.with_suffix(".md"), "w", encoding="utf-8") as fh:
        fh.write(f"# {title}\n\n{to_markdown(table, floatfmt)}")
    with atomic_open(out.with_suffix(".html"), "w", encoding="utf-8") as fh:
        fh.write(to_html(table, title, floatfmt=floatfmt))


def write_formats(
    out: str | Path,
    numbers: pd.DataFrame,
    shown: pd.DataFrame,
    title: str,
    note: str = "",
    floatfmt: str = ".3f",
) -> None:
    """``out``.csv (the numbers), ``out``.md, ``out``.tex and ``out``.html (the formatted table, its title
    and note; the HTML report shows the last inline)."""
    out = Path(out)
    write_csv(out.with_suffix(".csv"), numbers.reset_index() if numbers.index.name else numbers)
    with atomic_open(out.with_suffix(".md"), "w", encoding="utf-8") as fh:
        fh.write(f"# {title}\n\n{to_markdown(shown, floatfmt)}" + (f"\n{note}\n" if note else ""))
    with atomic_open(out.with_suffix(".tex"), "w", encoding="utf-8") as fh:
        fh.write(to_latex(shown, f"{title}. {note}".strip(), f"tab:{out.name}", floatfmt))
    with atomic_open(out.with_suffix(".html"), "w", encoding="utf-8") as fh:
        fh.write(to_html(shown, title, note, floatfmt))


def write_table2(runs: pd.DataFrame, out_dir: str | Path, paper: Mapping[str, str], same_data: bool) -> None:
    out_dir = Path(out_dir)
    for metric, name in (("avg_test_ppl", "table2"), ("exp_mean_test_loss", "table2_exp_loss")):
        summary = summarize(runs, metric)
        label = "" if metric == "avg_test_ppl" else " (variant)"
        write_formats(
            out_dir / name,
            summary,
            table2(summary),
            f"Table 2{label}: {METRICS[metric]}, mean ± std over seeds (Δ vs stratified [95% CI])",
            "Δ: the mean over seeds of the paired difference to stratified (same seed), with its 95% "
            "t-interval; * and # better / worse: the interval excludes 0 (one seed gives no interval, so "
            "none). Extra runs: training runs before the final run, per setting. Extra tokens: their "
            "training tokens, in millions, summed over settings. Compute: training FLOPs of the final run "
            "and its extra runs (6N per token plus attention; grid search's final run is its best pilot, "
            "counted once), per seed, summed over settings.",
        )
    if paper:
        summary = summarize(runs)
        shown = paper_table(summary, paper, same_data)
        kind = "difference to the paper" if same_data else "the paper's numbers as a reference (other data)"
        write_formats(
            out_dir / "table2_paper",
            shown,
            shown,
            "Table 2 beside the paper: Δ average test perplexity vs stratified (stratified: absolute); "
            + kind,
            f"Source: {PAPER_SOURCE}.",
        )


def write_task_bpb_tables(paths: Sequence[str], out_dir: str | Path) -> None:
    """With downstream-task scores in the final runs (``tasks:``): Table 2's layout on the test tasks'
    macro-average BPB (``table2_task_bpb``: mean ± std, Δ vs stratified [95% paired CI]) and the per-setting
    method x task-family table (``task_families``). Nothing without them."""
    from pipeline_lib.report.downstream import MACRO, downstream_rows, family_table, family_wide

    rows = downstream_rows(paths)
    if rows.empty:
        return
    runs = load_runs(paths).merge(
        rows[["setting", "method", "seed", MACRO]], on=["setting", "method", "seed"]
    )
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
        name = runs["setting"].iloc[0]
        title = f"{name}: test perplexity per group, average over groups (mean over seeds)"
        write_table(setting_table(runs), args.out, title)
    elif args.kind == "table2":
        paper = dict(pair.split("=", 1) for pair in args.paper)
        write_table2(runs, args.out_dir, paper, args.same_data)
        write_task_bpb_tables(args.runs, args.out_dir)
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
            f"{resolved}), by {long['improvement'].mean():.3f} on average. The paper: 28 of 30, by 1.202 on "
            "average. Improvement: X − Aioli + X paired by seed [95% CI].",
        )
    log.info("wrote %s", args.out or args.out_dir)


if __name__ == "__main__":
    main()
