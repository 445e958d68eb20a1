"""Perplexity tables from run records.

``setting``: one setting, rows = methods, columns = per-group test perplexity and the average (mean and std
over seeds) with the difference to stratified. ``overview``: rows = methods, columns = settings, cells = mean
average test perplexity over seeds.

    python -m pipeline_lib.report.tables setting --runs r1/run.json ... --csv t.csv --md t.md
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import pandas as pd

from pipeline_lib.io import atomic_open, read_json, write_csv
from pipeline_lib.logs import setup_logging
from pipeline_lib.report.markdown import to_markdown

log = logging.getLogger(__name__)
BASELINE = "stratified"


def load_runs(paths: Sequence[str]) -> pd.DataFrame:
    """One row per run: setting, method, seed, avg_test_ppl, exp_mean_test_loss, ppl_<group>..."""
    rows = []
    for path in paths:
        run = read_json(path)
        row = {k: run[k] for k in ("setting", "method", "seed", "avg_test_ppl", "exp_mean_test_loss")}
        row.update({f"ppl_{g}": v for g, v in run["test_ppl"].items()})
        row["extra_runs"] = run["extra_runs"]["runs"]
        row["extra_tokens"] = run["extra_runs"]["tokens"]
        rows.append(row)
    if not rows:
        raise ValueError("no run records given")
    return pd.DataFrame(rows)


def _method_order(methods: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(methods))
    return sorted(unique, key=lambda m: (m != BASELINE, unique.index(m)))


def setting_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-method mean test perplexity per group, average ppl (mean, std over seeds), delta to stratified."""
    if runs["setting"].nunique() != 1:
        raise ValueError(f"setting_table needs runs of one setting, got {sorted(runs['setting'].unique())}")
    group_cols = [c for c in runs.columns if c.startswith("ppl_")]
    grouped = runs.groupby("method", sort=False)
    table = grouped[group_cols].mean()
    table["avg_ppl"] = grouped["avg_test_ppl"].mean()
    table["avg_ppl_std"] = grouped["avg_test_ppl"].std(ddof=1).fillna(0.0)
    table["exp_mean_loss_ppl"] = grouped["exp_mean_test_loss"].mean()
    table["seeds"] = grouped["seed"].nunique()
    table["extra_runs"] = grouped["extra_runs"].mean()
    table["extra_tokens"] = grouped["extra_tokens"].mean()
    if BASELINE in table.index:
        table["delta_vs_stratified"] = table["avg_ppl"] - table.loc[BASELINE, "avg_ppl"]
    table = table.loc[_method_order(list(table.index))]
    table.index.name = "method"
    return table.rename(columns={c: c.removeprefix("ppl_") for c in group_cols})


def overview_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean average test perplexity per method (rows) and setting (columns)."""
    table = runs.pivot_table(index="method", columns="setting", values="avg_test_ppl", aggfunc="mean")
    table = table.loc[_method_order(list(runs["method"]))]
    table = table[list(dict.fromkeys(runs["setting"]))]
    table.columns.name = None
    table.index.name = "method"
    return table


def write_table(table: pd.DataFrame, csv: str, md: str, title: str, floatfmt: str = ".3f") -> None:
    write_csv(csv, table.reset_index())
    with atomic_open(md, "w", encoding="utf-8") as fh:
        fh.write(f"# {title}\n\n{to_markdown(table, floatfmt)}")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["setting", "overview"])
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--md", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    runs = load_runs(args.runs)
    if args.kind == "setting":
        name = runs["setting"].iloc[0]
        title = f"{name}: test perplexity per group, average over groups (mean over seeds)"
        write_table(setting_table(runs), args.csv, args.md, title)
    else:
        title = "Average test perplexity (mean over groups, then over seeds)"
        write_table(overview_table(runs), args.csv, args.md, title)
    log.info("wrote %s and %s", args.csv, args.md)


if __name__ == "__main__":
    main()
