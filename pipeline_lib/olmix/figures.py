"""Olmix's figures: the interaction matrix, predicted vs observed metrics, and mixtures side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pipeline_lib.olmix.swarmio import Swarm
from pipeline_lib.report.figures import save_png


def interaction_matrix(
    matrix: np.ndarray, tasks: Sequence[str], domains: Sequence[str], out: str | Path
) -> None:
    """Heat map of a regressor's (tasks x domains) matrix (log-linear: t), each row centred: for t its mean
    is absorbed by the simplex."""
    t = matrix - matrix.mean(axis=1, keepdims=True)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(domains), 1.0 + 0.5 * len(tasks)))
    lim = float(np.abs(t).max()) or 1.0
    sns.heatmap(
        pd.DataFrame(t, index=list(tasks), columns=list(domains)),
        annot=True, fmt=".2f", cmap="RdBu_r", vmin=-lim, vmax=lim, ax=ax, cbar_kws={"label": "t (centred)"},
    )  # fmt: skip
    ax.set_title("Interaction matrix: a group's effect on each task's metric (lower = helps)")
    save_png(fig, out)


METRIC_LABELS = {
    "task_bpb": "bits per byte",
    "downstream_bpb": "task bits per byte",
    "val_loss": "validation loss (nats/token)",
}
"""The metrics a law is fitted on (run.json's), as an axis says them."""


def metric_label(metrics: Sequence[str]) -> str:
    """``["task_bpb"]`` -> "bits per byte" (several: joined with " + ")."""
    return " + ".join(METRIC_LABELS.get(m, m) for m in metrics)


def predicted_vs_observed(
    swarm: Swarm,
    predicted: np.ndarray,
    loo: Sequence | None,
    out: str | Path,
    metric: str = "metric",
    method: str = "Olmix",
) -> None:
    """One panel per task and one for the average: observed ``metric`` against the law's prediction, titled
    with ``method`` and the number of runs."""
    names = [*swarm.tasks, "average"]
    ys = [swarm.Y[:, i] for i in range(len(swarm.tasks))] + [swarm.Y.mean(axis=1)]
    ps = [predicted[:, i] for i in range(len(swarm.tasks))] + [predicted.mean(axis=1)]
    loo_arr = None if loo is None else np.asarray(loo)
    ls = (
        None if loo_arr is None else [loo_arr[:, i] for i in range(len(swarm.tasks))] + [loo_arr.mean(axis=1)]
    )
    fig, axes = plt.subplots(1, len(names), figsize=(3.0 * len(names), 3.0), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.scatter(ys[k], ps[k], s=14, label="fit")
        if ls is not None:
            ax.scatter(ys[k], ls[k], s=14, marker="x", label="leave-one-out")
        lo, hi = min(ys[k].min(), ps[k].min()), max(ys[k].max(), ps[k].max())
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        ax.set(title=names[k], xlabel=f"observed {metric}", ylabel=f"predicted {metric}" if k == 0 else "")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{method}'s law on {len(swarm.runs)} proxy runs: predicted vs observed {metric}", y=1.02)
    save_png(fig, out)


def mixture_bars(domains: Sequence[str], mixtures: Mapping[str, Sequence[float]], out: str | Path) -> None:
    """Grouped bars: each named mixture's weight per group, its value on each bar."""
    frame = pd.DataFrame(
        [
            {"group": d, "mixture": name, "weight": w}
            for name, p in mixtures.items()
            for d, w in zip(domains, p, strict=True)
        ]
    )
    fig, ax = plt.subplots(figsize=(1.5 + 1.0 * len(domains), 3.2))
    sns.barplot(frame, x="group", y="weight", hue="mixture", ax=ax)
    for bars in ax.containers:
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    ax.set(
        ylim=(0, 1.08), ylabel="proportion of the training tokens", title="The proposed mixture and natural"
    )
    save_png(fig, out)


def reuse_figure(
    fits: pd.DataFrame, numbers: pd.DataFrame, mixtures: pd.DataFrame, order: Sequence[str], out: str | Path
) -> None:
    """The reuse experiment in three panels: cumulative proxy runs per stage, each strategy's gain over
    natural with its 95% interval, and the final mixtures (seed mean)."""
    fig, axes = plt.subplots(
        1, 3, figsize=(17, 4.4), gridspec_kw={"width_ratios": [1, 1, 1.4]}, layout="constrained"
    )
    final = int(fits["stage"].max())
    for s in order:
        chain = [("shared" if t == 0 and s != "natural" else s) for t in range(final + 1)]
        runs = [fits[(fits.stage == t) & (fits.chain == c)]["runs"].mean() for t, c in enumerate(chain)]
        axes[0].plot(range(final + 1), runs, marker="o", label=s)
    axes[0].set(xlabel="stage", ylabel="proxy runs (cumulative)", title="Compute", xticks=range(final + 1))
    axes[0].legend(fontsize=8)
    shown = [s for s in order if s != "natural"] if "gain %" in numbers else []
    if shown:
        gains = numbers.loc[shown, "gain %"].astype(float)
        lo = (gains - numbers.loc[shown, "gain lo"].astype(float)).fillna(0)
        hi = (numbers.loc[shown, "gain hi"].astype(float) - gains).fillna(0)
        axes[1].barh(shown, gains, xerr=[lo, hi], color="tab:blue", alpha=0.7, capsize=3)
    else:
        axes[1].text(
            0.5, 0.5, "no natural strategy to compare with", ha="center", transform=axes[1].transAxes
        )
    axes[1].axvline(0, color="k", lw=0.8)
    axes[1].set(xlabel="% lower test BPB than natural (95% CI)", title="Gain over natural")
    last = mixtures[mixtures.stage == final].groupby(["strategy", "domain"], sort=False)["weight"].mean()
    table = last.unstack("domain").reindex(order)
    table.plot.barh(stacked=True, ax=axes[2], colormap="tab20", width=0.7)
    axes[2].set(xlabel="weight (seed mean)", ylabel="", title=f"Mixture at stage {final}")
    axes[2].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    save_png(fig, out)
