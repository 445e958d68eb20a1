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
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline_lib.io import read_json, write_json
from pipeline_lib.lmo import eg_from_scores, one_hot_mixtures
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.base import MixturePolicy

if TYPE_CHECKING:
    from pipeline_lib.config import Project, RunSpec

log = logging.getLogger(__name__)
DEFAULTS = {"eta": 0.2, "window": 3, "update_steps": None, "cumulative": False}


def skillit_A(G: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """Skill-It's LMO matrix: A_ij = L_i G_ji (group i's loss times how much training on j lowers it)."""
    return np.asarray(losses, dtype=float)[:, None] * np.asarray(G, dtype=float).T


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


def onehot_spec(project: Project, setting: str, seed: int, group: str) -> RunSpec:
    """The graph run trained only on ``group``: a static pilot, ``pilots.steps_fraction`` of the final run
    (restricted: one of m runs sharing the learning budget)."""
    groups = project.settings[setting].groups
    base = project.run_spec(setting, "static", seed)
    p = one_hot_mixtures(len(groups))[groups.index(group)]
    train = project.learning_train(setting, len(groups), project.pilots.steps_fraction)
    return dataclasses.replace(base, method_params={"proportions": p.tolist()}, train=train)


def fit_graph(run_paths: Sequence[str]) -> dict:
    """The skills graph from the one-hot runs (any order; each is placed by the group it trained on)."""
    records = [read_json(p) for p in run_paths]
    groups = list(records[0]["groups"])
    by_group: dict[str, tuple[str, dict]] = {}
    for path, rec in zip(run_paths, records, strict=True):
        mix = np.array([rec["final_mixture"][g] for g in groups])
        if list(rec["groups"]) != groups or not np.isclose(mix.max(), 1.0):
            raise ValueError(f"{path}: not a one-hot run over {groups}")
        by_group[groups[int(mix.argmax())]] = (path, rec)
    if sorted(by_group) != sorted(groups):
        raise ValueError(f"one-hot runs cover {sorted(by_group)}, need one per group of {groups}")
    ordered = [by_group[g] for g in groups]
    G = skills_graph([pd.read_csv(Path(path).parent / "curve.csv") for path, _ in ordered], groups)
    return {
        "method": "skillit",
        "groups": groups,
        "graph": G.tolist(),
        "runs": [path for path, _ in ordered],
        "extra_runs": {
            "runs": len(ordered),
            "tokens": sum(int(rec.get("tokens_trained", rec["tokens"])) for _, rec in ordered),
        },
    }


class SkillIt(MixturePolicy):
    """The online run: reads the graph from ``fits/skillit/seed<n>.json`` and re-mixes every update_steps."""

    fit_name = "skillit"

    def __init__(self, groups: tuple[str, ...], params: dict[str, Any]) -> None:
        super().__init__(groups, params)
        self.cfg = {**DEFAULTS, **{k: v for k, v in params.items() if k in DEFAULTS}}
        if "fit_path" not in params:
            raise ValueError("skillit needs its skills graph (method_params.fit_path)")
        self.fit = read_json(params["fit_path"])
        if tuple(self.fit["groups"]) != groups:
            raise ValueError(f"{params['fit_path']}: graph groups {self.fit['groups']} differ from {groups}")
        self.G = np.asarray(self.fit["graph"], dtype=float)
        self.trace: list[dict[str, Any]] = []

    def start(self, trainer) -> np.ndarray:
        every, update = trainer.cfg.eval_every, self.cfg["update_steps"]
        if update is None or int(update) < 1 or int(update) % every:
            raise ValueError(
                f"methods.skillit.update_steps ({update}) must be a positive multiple of train.eval_every "
                f"({every}); the paper updates every 2 evaluations (500 steps with evals every 250)"
            )
        p = skillit_mixture(self.G, np.ones(self.m), self.cfg["eta"])
        self.trace.append({"step": trainer.step, "mixture": p.tolist(), "loss_sum": [1.0] * self.m})
        return p

    def after_eval(self, trainer, val_losses: np.ndarray) -> np.ndarray | None:
        if trainer.step % int(self.cfg["update_steps"]) or trainer.step >= trainer.cfg.steps:
            return None
        curve = pd.DataFrame(trainer.history.curve)  # every evaluation so far, the one at step 0 included
        table = curve.pivot(index="step", columns="group", values="val_loss").sort_index()
        loss_sum = table[list(self.groups)].to_numpy()[-int(self.cfg["window"]) :].sum(axis=0)
        prev = trainer.p if self.cfg["cumulative"] else None
        p = skillit_mixture(self.G, loss_sum, self.cfg["eta"], prev)
        self.trace.append({"step": trainer.step, "mixture": p.tolist(), "loss_sum": loss_sum.tolist()})
        return p

    @property
    def extra_runs(self) -> dict[str, float]:
        return dict(self.fit["extra_runs"])

    def summary(self) -> dict[str, Any]:
        return {"fit_path": self.params["fit_path"], "graph": self.fit["graph"], "trace": self.trace}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="+", required=True, help="the one-hot runs' run.json (curve.csv beside)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    fit = fit_graph(args.runs)
    write_json(args.out, fit)
    log.info("skills graph %s", np.round(fit["graph"], 3).tolist())


if __name__ == "__main__":
    main()
