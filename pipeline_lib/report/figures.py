"""Figures (seaborn, PNG): mixture trajectories, validation curves, law fits, average perplexity per method.

    python -m pipeline_lib.report.figures mixtures --runs runs/*/seed0/run.json \\
        --proxies fits/doge/seed0.json --out figures/mixtures.png
    python -m pipeline_lib.report.figures val-loss --runs ... --out figures/val_loss.png
    python -m pipeline_lib.report.figures law-fit --dml fits/dml/seed0.json \\
        --fidelity fits/fidelity/seed0.json --out figures/law_fit.png
    python -m pipeline_lib.report.figures avg-ppl --runs ... --out report/figures/avg_ppl.png
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pipeline_lib.io import atomic_path, read_json
from pipeline_lib.lmo import LinearDynamicLaw, LogLinearStaticLaw
from pipeline_lib.logs import setup_logging
from pipeline_lib.records import DmlFit, ProxyFit, RunRecord
from pipeline_lib.report.tables import BASELINE, load_runs, method_order, summarize

log = logging.getLogger(__name__)
sns.set_theme(style="whitegrid", context="paper")


def save_png(fig: plt.Figure, out: str | Path) -> None:
    """Write a figure as a PNG, atomically, and close it."""
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def mixture_frame(run_paths: Sequence[str], proxy_fits: Sequence[str] = ()) -> pd.DataFrame:
    """Long form (method, seed, step, group, p) of every run whose mixture moves, and of the proxies'
    domain-weight traces (DoReMi, DoGE: the weights their objective used, averaged into the final mixture)."""
    frames = []
    for path in run_paths:
        run = RunRecord.read(path)
        mix = pd.read_csv(Path(path).parent / "mixture.csv")
        if len(mix.drop(columns="step").drop_duplicates()) < 2:
            continue  # a static run
        if mix["step"].iloc[-1] < run.steps:  # mixture.csv lists changes: hold the last one to the end
            mix = pd.concat([mix, mix.tail(1).assign(step=run.steps)], ignore_index=True)
        long = mix.melt(id_vars="step", var_name="group", value_name="p")
        frames.append(long.assign(method=run.method, seed=run.seed))
    for path in proxy_fits:
        fit = ProxyFit.read(path)
        rows = [
            {"step": t["step"], "group": g, "p": w, "method": f"{fit.method} (proxy)", "seed": 0}
            for t in fit.trace
            for g, w in zip(fit.groups, t["weights"], strict=True)
        ]
        frames.append(pd.DataFrame(rows))
    if not frames:
        return pd.DataFrame(columns=["step", "group", "p", "method", "seed"])
    return pd.concat(frames, ignore_index=True)


def plot_mixtures(frame: pd.DataFrame, title: str, out: str | Path) -> None:
    if frame.empty:
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.text(0.5, 0.5, "no online method in this run", ha="center", va="center")
        ax.set_axis_off()
        save_png(fig, out)
        return
    methods = list(dict.fromkeys(frame["method"]))
    grid = sns.relplot(
        data=frame, x="step", y="p", hue="group", col="method", col_order=methods,
        col_wrap=min(4, len(methods)), kind="line", drawstyle="steps-post", errorbar="sd", height=2.4,
        aspect=1.3,
    )  # fmt: skip
    grid.set(ylim=(0, 1))
    grid.set_axis_labels("step", "p (share of the group in the batch)")
    grid.figure.suptitle(title, y=1.02)
    save_png(grid.figure, out)


def curve_frame(run_paths: Sequence[str]) -> pd.DataFrame:
    frames = []
    for path in run_paths:
        run = RunRecord.read(path)
        curve = pd.read_csv(Path(path).parent / "curve.csv")
        frames.append(curve.assign(method=run.method, seed=run.seed))
    return pd.concat(frames, ignore_index=True)


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p")


def method_styles(methods: Sequence[str]) -> tuple[dict[str, tuple], dict[str, str]]:
    """A colour and a marker per method, distinct for up to 20 methods (tab20's colours, 12 markers: no two
    methods share both), stratified first in grey."""
    colours = sns.color_palette("tab20", 20)
    ordered = method_order(list(methods))
    palette = {m: (0.45, 0.45, 0.45) if m == BASELINE else colours[i % 20] for i, m in enumerate(ordered)}
    return palette, {m: MARKERS[i % len(MARKERS)] for i, m in enumerate(ordered)}


def plot_val_loss(frame: pd.DataFrame, title: str, out: str | Path) -> None:
    frame = frame[frame["step"] > 0]  # the untrained model's loss dwarfs the differences
    order = method_order(list(frame["method"]))
    palette, markers = method_styles(order)
    grid = sns.relplot(
        data=frame, x="step", y="val_loss", hue="method", hue_order=order, palette=palette, style="method",
        style_order=order, markers=markers, dashes=False, col="group", kind="line", errorbar="sd",
        height=2.6, aspect=1.2, facet_kws={"sharey": False},
    )  # fmt: skip
    grid.set_axis_labels("step", "validation loss (nats per token)")
    grid.figure.suptitle(title, y=1.02)
    save_png(grid.figure, out)


def law_fit_frame(dml_fit: str | None, fidelity: str | None) -> pd.DataFrame:
    """Predicted vs observed validation losses: the static law on the pilots, the dynamic law on children."""
    rows = []
    if dml_fit:
        fit = DmlFit.read(dml_fit)
        law = LogLinearStaticLaw.from_dict(fit.law)
        P = np.array([r["mixture"] for r in fit.runs])
        L = np.array([r["val_loss"] for r in fit.runs])
        for obs, pred in zip(L, law.predict(P), strict=True):
            rows += [
                {"law": "static (log-linear)", "group": g, "observed": o, "predicted": q}
                for g, o, q in zip(fit.groups, obs, pred, strict=True)
            ]
    if fidelity:
        fid = read_json(fidelity)
        obs = fid["dynamic"].get("observations")
        if obs:
            law = LinearDynamicLaw.from_dict(fid["dynamic"]["A"])
            pred = law.predict(np.array(obs["before"]), np.array(obs["P"]))
            for o_row, q_row in zip(obs["after"], pred, strict=True):
                rows += [
                    {"law": "dynamic (linear)", "group": g, "observed": o, "predicted": q}
                    for g, o, q in zip(fid["groups"], o_row, q_row, strict=True)
                ]
    return pd.DataFrame(rows)


def r_squared(observed: Sequence[float], predicted: Sequence[float]) -> float:
    """1 - SS_res / SS_tot of the predictions (nan with no spread in the observations)."""
    obs, pred = np.asarray(observed, float), np.asarray(predicted, float)
    total = float(((obs - obs.mean()) ** 2).sum())
    return 1.0 - float(((obs - pred) ** 2).sum()) / total if total > 0 else float("nan")


def plot_law_fit(frame: pd.DataFrame, title: str, out: str | Path) -> None:
    laws = list(dict.fromkeys(frame["law"]))
    fig, axes = plt.subplots(1, len(laws), figsize=(4 * len(laws), 3.6), squeeze=False)
    for ax, law in zip(axes[0], laws, strict=True):
        part = frame[frame["law"] == law]
        sns.scatterplot(data=part, x="observed", y="predicted", hue="group", ax=ax)
        lo, hi = part[["observed", "predicted"]].min().min(), part[["observed", "predicted"]].max().max()
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
        ax.set_title(f"{law}: R² {r_squared(part['observed'], part['predicted']):.3f}")
        ax.set(xlabel="observed validation loss (nats per token)", ylabel="predicted (nats per token)")
    fig.suptitle(title, y=1.02)
    save_png(fig, out)


def delta_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, method other than stratified): the mean paired difference to stratified and its 95%
    t-interval (NaN bounds with one seed), as Table 2 reports them."""
    summary = summarize(runs)
    return summary[summary["method"] != BASELINE][
        ["setting", "method", "delta", "delta_lo", "delta_hi", "pairs"]
    ]


def plot_avg_ppl(runs: pd.DataFrame, out: str | Path) -> None:
    """One panel per setting: each method's Δ average test perplexity vs stratified with its 95% interval."""
    frame = delta_frame(runs)
    settings = list(dict.fromkeys(frame["setting"]))
    if not settings:  # stratified alone: nothing to compare
        fig, ax = plt.subplots(figsize=(5, 1.5))
        ax.text(0.5, 0.5, "only stratified was run: no differences to show", ha="center", va="center")
        ax.axis("off")
        save_png(fig, out)
        return
    order = [m for m in method_order(list(frame["method"])) if m != BASELINE]
    fig, axes = plt.subplots(
        1, len(settings), figsize=(4.5 * len(settings), max(2.5, 0.4 * len(order))), squeeze=False
    )
    for ax, setting in zip(axes[0], settings, strict=True):
        part = frame[frame["setting"] == setting].set_index("method").reindex(order).dropna(subset=["delta"])
        y = np.arange(len(part))
        lo = (part["delta"] - part["delta_lo"]).fillna(0.0).to_numpy(dtype=float)
        hi = (part["delta_hi"] - part["delta"]).fillna(0.0).to_numpy(dtype=float)
        ax.errorbar(part["delta"], y, xerr=[lo, hi], fmt="o", color="steelblue", capsize=3)
        ax.axvline(0.0, color="grey", lw=1, ls="--")
        ax.set_yticks(y, part.index)
        ax.invert_yaxis()
        ax.set_title(setting)
        ax.set_xlabel("Δ avg test ppl vs stratified")
    seeds = int(frame["pairs"].max()) if len(frame) else 0
    bars = "95% paired t-intervals over seeds" if seeds > 1 else "1 seed: no intervals"
    fig.suptitle(f"Difference to stratified (lower is better; {bars})", y=1.03)
    save_png(fig, out)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["mixtures", "val-loss", "law-fit", "avg-ppl"])
    ap.add_argument("--runs", nargs="*", default=[])
    ap.add_argument("--proxies", nargs="*", default=[], help="mixtures: DoReMi/DoGE fit files")
    ap.add_argument("--dml", default=None)
    ap.add_argument("--fidelity", default=None)
    ap.add_argument("--title", default="")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    if args.kind == "mixtures":
        plot_mixtures(mixture_frame(args.runs, args.proxies), args.title or "mixture p over steps", args.out)
    elif args.kind == "val-loss":
        plot_val_loss(curve_frame(args.runs), args.title or "validation loss per group", args.out)
    elif args.kind == "law-fit":
        plot_law_fit(law_fit_frame(args.dml, args.fidelity), args.title or "law fits", args.out)
    else:
        plot_avg_ppl(load_runs(args.runs), args.out)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
