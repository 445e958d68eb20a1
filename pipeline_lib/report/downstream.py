"""Downstream-task BPB of final runs (run.json's ``downstream.test``): per run, the macro-average over tasks
and each task family's mean; per setting, method x family tables with the paired intervals of Table 2
(:func:`pipeline_lib.report.tables.paired`: the mean paired difference to stratified, same seed, 95% t)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipeline_lib.records import RunRecord

MACRO = "task_bpb"
"""The column of the macro-average over every task (Olmix's objective, unweighted)."""


def downstream_rows(paths: Sequence[str], split: str = "test") -> pd.DataFrame:
    """One row per run that scored the task set: setting, method, seed, ``task_bpb`` (the macro-average) and
    ``bpb_<family>`` (each family's mean); runs without downstream scores are left out."""
    rows = []
    for path in paths:
        record = RunRecord.read(path)
        if record.downstream is None or split not in record.downstream:
            continue
        result = record.downstream[split]
        row = {
            "setting": record.setting,
            "method": record.method,
            "seed": record.seed,
            MACRO: result.macro_bpb,
        }
        rows.append(row | {f"bpb_{f}": v for f, v in result.family_bpb().items()})
    return pd.DataFrame(rows)


def family_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Long form, one row per (setting, method, family or ``all``): the mean and std over seeds of the BPB,
    and its paired difference to stratified with the 95% t-interval (``delta_label``)."""
    from pipeline_lib.report.tables import BASELINE, paired

    columns = [MACRO, *sorted(c for c in rows.columns if c.startswith("bpb_"))]
    out = []
    for (setting, method), part in rows.groupby(["setting", "method"], sort=False):
        for col in columns:
            diff = paired(rows, setting, method, BASELINE, col)
            values = part[col].dropna()
            family = col.removeprefix("bpb_") if col != MACRO else "all"
            std = values.std(ddof=1) if len(values) > 1 else float("nan")
            out.append({
                "setting": setting, "method": method, "family": family, "mean": values.mean(), "std": std,
                "seeds": len(values), "delta": diff.mean, "delta_lo": diff.lo, "delta_hi": diff.hi,
                "delta_label": "" if method == BASELINE else diff.label(),
            })  # fmt: skip
    return pd.DataFrame(out)


def family_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Rows = (setting, method), columns = families then ``all``; cells "mean (Δ [CI])" (stratified: mean)."""
    cells = long.assign(
        cell=[
            f"{m:.4f}" + (f" ({d})" if d else "")
            for m, d in zip(long["mean"], long["delta_label"], strict=True)
        ]
    )
    wide = cells.pivot_table(index=["setting", "method"], columns="family", values="cell", aggfunc="first",
                             sort=False)  # fmt: skip
    order = [c for c in wide.columns if c != "all"] + ["all"]
    return wide[order]
