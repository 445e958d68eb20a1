"""The mixture-reuse experiment's report: per strategy the target runs' test bits per byte and perplexity,
what the proxies cost, the gain over natural kept and the distance to full recomputation's mixture, beside
the paper's figures; a stage table, every mixture, and a figure.

python -m pipeline_lib.olmix reuse-table --fits reuse/stage*/*/seed*/fit.json \\
    --targets reuse/targets/*/seed*/run.json --out reuse/report/reuse
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_lib.config.reuse import SHARED, STRATEGIES
from pipeline_lib.io import atomic_open, write_csv
from pipeline_lib.records import ReuseFit, RunRecord
from pipeline_lib.report.markdown import to_markdown
from pipeline_lib.report.stats import paired_diff
from pipeline_lib.report.tables import write_formats

# Olmix (Chen et al., 2026), section 5.1's five-update sequence: proxy runs, compute saved against full
# recomputation, the gain in average BPB over natural, and the share of full recomputation's gain kept.
PAPER = {
    "natural": {"runs": 0, "saved %": None, "gain %": 0.0, "kept %": 0.0},
    "full": {"runs": 832, "saved %": 0.0, "gain %": 12.2, "kept %": 100.0},
    "full_reuse": {"runs": 216, "saved %": 74.0, "gain %": 11.6, "kept %": 95.0},
    "partial_reuse": {"runs": 272, "saved %": 67.0, "gain %": 12.0, "kept %": 98.0},
    "swarm_reuse": {"runs": 268, "saved %": 68.0, "gain %": 11.4, "kept %": 93.0},
}


def fit_frame(paths: Sequence[str]) -> pd.DataFrame:
    """One row per link (stage, chain, seed): its mixture, its new runs and the cumulative cost."""
    rows = []
    for path in paths:
        fit = ReuseFit.read(path)
        chain = Path(path).parent.parent.name
        rows.append(
            {
                "stage": int(fit.stage), "chain": chain, "seed": int(fit.seed),
                "groups": tuple(fit.groups), "proportions": tuple(fit.mixture.values()),
                "natural": tuple(fit.natural), "new runs": int(fit.stage_runs.runs),
                "runs": int(fit.extra_runs.runs), "flops": float(fit.extra_runs.flops),
                "recomputed": ", ".join(fit.recomputed), "update": fit.update,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def target_frame(paths: Sequence[str]) -> pd.DataFrame:
    """One row per target run: strategy, seed, average test BPB over the tasks, average test perplexity,
    the downstream tasks' macro BPB (``tasks:``; None without), the final mixture and what its chain's
    proxies cost."""
    rows = []
    for path in paths:
        run = RunRecord.read(path)
        rows.append(
            {
                "strategy": Path(path).parent.parent.name, "seed": int(run.seed),
                "bpb": run.mean_task_bpb("test"), "ppl": run.test.avg_ppl if run.test is not None else None,
                "task_bpb": run.downstream["test"].macro_bpb if "test" in (run.downstream or {}) else None,
                "mixture": tuple(run.mixture()),
                "runs": int(run.extra_runs.runs), "flops": float(run.extra_runs.flops),
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def _tv(a: Sequence[float], b: Sequence[float]) -> float:
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())


def _mean_sd(values: pd.Series) -> str:
    v = values.astype(float)
    return f"{v.mean():.4f}" + (f" ± {v.std(ddof=1):.4f}" if len(v) > 1 else "")


def strategy_rows(targets: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """The table's numbers per strategy; differences are paired within a seed (the same initial weights
    and data order); the gain kept is the ratio of mean gains over natural. With downstream scores
    (``tasks:``) the gains are computed on the tasks' BPB too (``task gain %``, ``task kept %``)."""
    by = {s: targets[targets.strategy == s].set_index("seed").sort_index() for s in order}
    have = [s for s in order if len(by[s])]
    full, natural = by.get("full"), by.get("natural")
    rows = []
    for s in have:
        t, row = by[s], {"strategy": s, "seeds": len(by[s])}
        row |= {"bpb": t["bpb"].mean(), "bpb sd": t["bpb"].std(ddof=1), "ppl": t["ppl"].astype(float).mean()}
        row |= {"runs": t["runs"].mean(), "flops": t["flops"].mean()}
        if t["task_bpb"].notna().any():
            row |= {"task bpb": t["task_bpb"].astype(float).mean()}
        if full is not None and len(full):
            d = paired_diff((t["bpb"] - full["bpb"]).dropna().tolist())
            row |= {"Δ bpb vs full": d.mean, "Δ lo": d.lo, "Δ hi": d.hi, "Δ label": d.label()}
            saved = 1 - row["flops"] / full["flops"].mean() if full["flops"].mean() else math.nan
            row |= {"saved %": 100 * saved, "TV to full": _mean_tv(t, full)}
        if natural is not None and len(natural) and s != "natural":
            row |= _gains(by, s, "bpb", "")
            if t["task_bpb"].notna().any() and natural["task_bpb"].notna().any():
                row |= _gains(by, s, "task_bpb", "task ")
            row["TV to natural"] = _mean_tv(t, natural)
        rows.append(row | {f"paper {k}": v for k, v in PAPER[s].items()})
    return pd.DataFrame(rows).set_index("strategy")


def _gains(by: dict[str, pd.DataFrame], s: str, column: str, prefix: str) -> dict[str, float | str]:
    """Strategy ``s``'s gain over natural in % lower ``column`` (paired per seed, 95% interval) and, beside
    full recomputation, the share of its gain kept (NaN where full gains nothing)."""

    def gain(name: str) -> pd.Series:  # % lower than natural, per seed
        natural = by["natural"][column].astype(float)
        return 100 * (natural - by[name][column].astype(float)) / natural

    g = paired_diff(gain(s).dropna().tolist())
    out = {f"{prefix}gain %": g.mean, f"{prefix}gain lo": g.lo, f"{prefix}gain hi": g.hi}
    out[f"{prefix}gain label"] = g.label()
    if len(by.get("full", ())):
        full = gain("full").mean()
        out[f"{prefix}kept %"] = 100 * gain(s).mean() / full if full else math.nan
    return out


def _mean_tv(a: pd.DataFrame, b: pd.DataFrame) -> float:
    seeds = a.index.intersection(b.index)
    return float(np.mean([_tv(a.loc[s, "mixture"], b.loc[s, "mixture"]) for s in seeds]))


def _shown(numbers: pd.DataFrame) -> pd.DataFrame:
    def fmt(v, spec: str) -> str:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)

    out = pd.DataFrame(index=numbers.index)

    def col(name: str) -> pd.Series:  # a column some strategy sets lack (no full or natural): blanks
        return numbers[name] if name in numbers else pd.Series(None, index=numbers.index, dtype=object)

    out["avg test BPB"] = [f"{b:.4f} ± {sd:.4f}" if sd == sd else f"{b:.4f}" for b, sd in
                           zip(numbers["bpb"], numbers["bpb sd"], strict=True)]  # fmt: skip
    out["Δ vs full [95% CI]"] = col("Δ label")
    out["gain over natural % [95% CI]"] = col("gain label")
    if "task gain label" in numbers:
        out["task gain over natural % [95% CI]"] = col("task gain label")
    out["avg test ppl"] = [fmt(v, ".2f") for v in numbers["ppl"]]
    if "task bpb" in numbers:
        out["test-task BPB (tasks:)"] = [fmt(v, ".4f") for v in numbers["task bpb"]]
    out["proxy runs"] = [fmt(v, ".0f") for v in numbers["runs"]]
    out["FLOPs"] = [fmt(v, ".2e") for v in numbers["flops"]]
    out["compute saved %"] = [fmt(v, ".0f") for v in col("saved %")]
    out["gain kept %"] = [fmt(v, ".0f") for v in col("kept %")]
    if "task kept %" in numbers:
        out["task gain kept %"] = [fmt(v, ".0f") for v in col("task kept %")]
    out["TV to full"] = [fmt(v, ".3f") for v in col("TV to full")]
    for k in ("runs", "saved %", "gain %", "kept %"):
        out[f"paper {k}"] = [fmt(v, ".0f" if k != "gain %" else ".1f") for v in numbers[f"paper {k}"]]
    return out


def stage_rows(fits: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Per stage: its update, its number of domains, each strategy's new runs, PartialMixtureReuse's
    recomputed domains per seed."""
    rows = []
    for stage, at in fits.groupby("stage"):
        first = at.iloc[0]
        row = {"stage": stage, "update": first["update"] or "start", "domains": len(first["groups"])}
        for s in order:
            chain = SHARED if stage == 0 and s != "natural" else s
            runs = at[at.chain == chain]["new runs"]
            row[f"runs {s}"] = int(runs.iloc[0]) if len(runs) else None
        part = at[(at.chain == "partial_reuse") & (at.recomputed != "")]
        row["partial recomputes"] = "; ".join(f"seed {r.seed}: {r.recomputed}" for r in part.itertuples())
        rows.append(row)
    return pd.DataFrame(rows).set_index("stage")


def mixture_rows(fits: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Every link's mixture in long form (stage 0's shared link listed under each strategy)."""
    rows = []
    for r in fits.itertuples():
        for s in order if r.chain == SHARED else (r.chain,):
            rows += [
                {"strategy": s, "stage": r.stage, "seed": r.seed, "domain": d, "weight": w}
                for d, w in zip(r.groups, r.proportions, strict=True)
            ]
    return pd.DataFrame(rows)


def write_reuse_report(fit_paths: Sequence[str], target_paths: Sequence[str], out: str | Path) -> None:
    out = Path(out)
    fits, targets = fit_frame(fit_paths), target_frame(target_paths)
    order = [s for s in STRATEGIES if s in set(targets.strategy)]
    numbers = strategy_rows(targets, order)
    seeds = sorted(int(s) for s in targets.seed.unique())
    note = (
        f"Target runs on the last stage's mixture of each strategy, seeds {seeds}. "
        "BPB: test bits per byte averaged over the fixed tasks; Δ and gain: paired within a seed, 95% "
        "t-interval (* = resolved). Proxy runs and FLOPs: every proxy the strategy's chain trained, stage 0 "
        "included. Gain kept: mean gain over natural / full recomputation's. TV: total-variation distance "
        "of the final mixtures (same seed). paper: Olmix's five-update sequence (832/216/272/268 runs)."
    )
    if "task gain %" in numbers:
        note += " Task gain: the same on the downstream tasks' test macro BPB (tasks:), the paper's measure."
    numbers_out = numbers.drop(columns=[c for c in numbers.columns if c.endswith("label")])
    write_formats(out, numbers_out, _shown(numbers), "Olmix mixture reuse: strategies", note)
    stages = stage_rows(fits, order)
    write_csv(out.with_name("stages.csv"), stages.reset_index())
    text = f"# Olmix mixture reuse: stages\n\n{to_markdown(stages)}\nruns: new proxy runs at the stage.\n"
    with atomic_open(out.with_name("stages.md"), "w", encoding="utf-8") as fh:
        fh.write(text)
    mixtures = mixture_rows(fits, order)
    write_csv(out.with_name("mixtures.csv"), mixtures)
    from pipeline_lib.olmix.figures import reuse_figure

    reuse_figure(fits, numbers, mixtures, order, out.with_suffix(".png"))
