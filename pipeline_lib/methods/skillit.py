"""Skill-It (LMO: linear dynamic law, A^t = diag(L^t) G^T, exponentiated gradient, windowed, not cumulative).

Graph: m one-hot static runs (pilots), run i trained only on group i; G[i, j] is the relative drop of group
j's validation loss in run i from its first evaluation to its last. Online run (policy :class:`SkillIt`):
p^0 ∝ exp(eta G·1); every ``update_steps``, p ∝ exp(eta G·s) with s the sum of the last ``window``
validation loss vectors, each time starting again from uniform (the paper's and the reference's update).
``methods.skillit.cumulative: true`` multiplies onto the previous mixture instead (the LMO's EG form).

    python -m pipeline_lib.methods.skillit --runs pilots/onehot/seed0/*/run.json --out fits/skillit/seed0.json
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline_lib.config.methods import SkillItConfig
from pipeline_lib.lmo import eg_from_scores
from pipeline_lib.lmo.dynamic import skillit_A
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.base import NO_INPUTS, MixturePolicy, RunInputs, RunPort
from pipeline_lib.records import RunRecord, SkillItFit, Spent

log = logging.getLogger(__name__)


def skillit_mixture(
    G: np.ndarray, loss_sum: np.ndarray, eta: float, prev: np.ndarray | None = None
) -> np.ndarray:
    """p ∝ prev * exp(eta * G·loss_sum) (prev: uniform unless cumulative); G·L is the column sum of A."""
    m = len(loss_sum)
    return eg_from_scores(np.full(m, 1.0 / m) if prev is None else prev, skillit_A(G, loss_sum).sum(0), eta)


def skills_graph(curves: Sequence[pd.DataFrame], groups: Sequence[str]) -> np.ndarray:
    """G[i, j] = (L_j(first eval) - L_j(last eval)) / L_j(first eval) in ``curves[i]`` (trained on i only)."""
    G = np.empty((len(groups), len(groups)))
    for i, curve in enumerate(curves):
        table = curve.pivot(index="step", columns="group", values="val_loss").sort_index()
        first, last = table.iloc[0][list(groups)].to_numpy(), table.iloc[-1][list(groups)].to_numpy()
        G[i] = (first - last) / first
    return G


def fit_graph(run_paths: Sequence[str]) -> SkillItFit:
    """The skills graph from the one-hot runs (any order; each is placed by the group it trained on)."""
    records = [RunRecord.read(p) for p in run_paths]
    groups = list(records[0].groups)
    by_group: dict[str, tuple[str, RunRecord]] = {}
    for path, rec in zip(run_paths, records, strict=True):
        if list(rec.groups) != groups:
            raise ValueError(f"{path}: not a one-hot run over {groups}")
        mix = np.array(rec.mixture(groups))
        if not np.isclose(mix.max(), 1.0):
            raise ValueError(f"{path}: not a one-hot run over {groups}")
        by_group[groups[int(mix.argmax())]] = (path, rec)
    if sorted(by_group) != sorted(groups):
        raise ValueError(f"one-hot runs cover {sorted(by_group)}, need one per group of {groups}")
    ordered = [by_group[g] for g in groups]
    G = skills_graph([pd.read_csv(Path(path).parent / "curve.csv") for path, _ in ordered], groups)
    return SkillItFit(
        method="skillit",
        groups=tuple(groups),
        graph=G.tolist(),
        runs=[path for path, _ in ordered],
        extra_runs=Spent.of(rec for _, rec in ordered),
    )


class SkillIt(MixturePolicy):
    """The online run: reads the graph (``--fit``: ``fits/skillit/seed<n>.json``), re-mixes every
    ``update_steps``."""

    cfg: SkillItConfig
    state_fields = ("trace",)

    def __init__(self, groups: tuple[str, ...], cfg: SkillItConfig, inputs: RunInputs = NO_INPUTS) -> None:
        super().__init__(groups, cfg, inputs)
        self.fit_path = inputs.need("fit", "skillit")
        self.fit = SkillItFit.read(self.fit_path)
        if self.fit.groups != groups:
            raise ValueError(f"{self.fit_path}: graph groups {list(self.fit.groups)} differ from {groups}")
        self.G = np.asarray(self.fit.graph, dtype=float)
        self.trace: list[dict[str, Any]] = []

    def start(self, run: RunPort) -> np.ndarray:
        problems = self.cfg.schedule_problems(run.eval_every)
        if problems:
            raise ValueError("methods.skillit." + "; ".join(problems))
        p = skillit_mixture(self.G, np.ones(self.m), self.cfg.eta)
        self.trace.append({"step": run.step, "mixture": p.tolist(), "loss_sum": [1.0] * self.m})
        return p

    def after_eval(self, run: RunPort, val_losses: np.ndarray) -> np.ndarray | None:
        if run.step % self.cfg.update_steps or run.step >= run.total_steps:
            return None
        # every scheduled evaluation so far, the one at step 0 included
        loss_sum = run.val_history()[-self.cfg.window :].sum(axis=0)
        prev = run.p if self.cfg.cumulative else None
        p = skillit_mixture(self.G, loss_sum, self.cfg.eta, prev)
        self.trace.append({"step": run.step, "mixture": p.tolist(), "loss_sum": loss_sum.tolist()})
        return p

    @property
    def extra_runs(self) -> Spent:
        return self.fit.extra_runs

    def summary(self) -> dict[str, Any]:
        return {"fit_path": self.fit_path, "graph": self.fit.graph, "trace": self.trace}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="+", required=True, help="the one-hot runs' run.json (curve.csv beside)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    fit = fit_graph(args.runs)
    fit.write(args.out)
    log.info("skills graph %s", np.round(fit.graph, 3).tolist())


if __name__ == "__main__":
    main()
