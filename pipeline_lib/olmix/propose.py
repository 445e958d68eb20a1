"""Olmix's fit and proposal: per-task log-linear laws on a swarm, then the KL-pulled, repetition-capped mix.

min_p  sum_i w_i exp(t_i . p) + lambda KL(p || p0)   s.t.  p on the simplex,  p_j <= k N_j / R
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline_lib.io import write_json
from pipeline_lib.lmo import FitSettings, TaskLogLinearLaw, minimize_task_law, repetition_caps
from pipeline_lib.lmo.tasklaw import correlations
from pipeline_lib.olmix.swarmio import Priors, Swarm

log = logging.getLogger(__name__)
AVERAGE = "average"


class InfeasibleCaps(ValueError):
    """The repetition caps leave no mixture: they sum to less than 1."""


@dataclass(frozen=True)
class SolveSettings:
    """The proposal's knobs (the paper's values)."""

    kl_weight: float = 0.05
    """lambda, the pull toward the natural distribution."""
    repetitions: float = 4.0
    """k, the epochs of a domain the target run may take."""
    target_tokens: int | None = None
    """R, the target run's training tokens; None: no caps."""


def check_caps(domains: tuple[str, ...], tokens: np.ndarray, caps: np.ndarray, s: SolveSettings) -> None:
    """Raise :class:`InfeasibleCaps` naming every domain's tokens and cap when no mixture fits."""
    if caps.sum() >= 1.0:
        return
    rows = ", ".join(
        f"{d}: N={int(n):,} -> cap {c:.4f}" for d, n, c in zip(domains, tokens, caps, strict=True)
    )
    raise InfeasibleCaps(
        f"no mixture satisfies the repetition caps p_j <= k N_j / R (k = {s.repetitions}, "
        f"R = {s.target_tokens:,} tokens): they sum to {caps.sum():.4f} < 1 ({rows}). Raise k "
        "(repetitions), shorten the target run, or add data"
    )


def fit_report(swarm: Swarm, law: TaskLogLinearLaw, settings: FitSettings) -> dict:
    """Train and leave-one-out Pearson and Spearman per task and for the task average."""
    pred = law.predict(swarm.P)
    K, m = swarm.P.shape
    loo = TaskLogLinearLaw.leave_one_out(swarm.P, swarm.Y, swarm.tasks, settings) if m + 3 <= K else None
    out = {}
    for i, task in enumerate((*swarm.tasks, AVERAGE)):
        col = (lambda a: a.mean(axis=1)) if task == AVERAGE else (lambda a, i=i: a[:, i])
        out[task] = {
            "train": correlations(col(swarm.Y), col(pred)),
            "leave_one_out": correlations(col(swarm.Y), col(loo)) if loo is not None else None,
        }
    return {
        "correlations": out,
        "predicted": pred.tolist(),
        "loo_predicted": None if loo is None else loo.tolist(),
    }


def propose(
    swarm: Swarm,
    priors: Priors | None,
    fit: FitSettings | None = None,
    solve: SolveSettings | None = None,
) -> dict:
    """Fit the laws, score them, and solve for the mixture. Without priors, p0 is the swarm's mean mixture
    (the swarm is drawn around it) and there are no caps. Settings default to the papers' values."""
    fit, solve = fit or FitSettings(), solve or SolveSettings()
    law = TaskLogLinearLaw.fit(swarm.P, swarm.Y, swarm.tasks, fit)
    prior = priors.select(swarm.domains) if priors is not None else None
    natural = prior.natural if prior is not None else swarm.P.mean(axis=0)
    caps = None
    if prior is not None and solve.target_tokens:
        caps = repetition_caps(prior.tokens, solve.target_tokens, solve.repetitions)
        check_caps(swarm.domains, prior.tokens, caps, solve)
    p = minimize_task_law(law, prior=natural, kl_weight=solve.kl_weight, caps=caps, seed=fit.seed)
    predicted = law.predict(p[None, :])[0]
    return {
        "domains": list(swarm.domains),
        "tasks": list(swarm.tasks),
        "proportions": p.tolist(),
        "natural": natural.tolist(),
        "caps": None if caps is None else caps.tolist(),
        "predicted": dict(zip(swarm.tasks, predicted.tolist(), strict=True)),
        "predicted_average": float(predicted.mean()),
        "natural_predicted_average": float(law.predict(natural[None, :])[0].mean()),
        "law": law.to_dict(),
        "fit": fit_report(swarm, law, fit),
        "settings": {"fit": asdict(fit), "solve": asdict(solve)},
        "swarm": {"runs": list(swarm.runs), "size": len(swarm.runs)},
    }


def write_outputs(result: dict, swarm: Swarm, out_dir: str | Path, figures: bool = True) -> None:
    """Olmix's outputs: the laws, their correlations, the interaction matrix, the mix and (``figures``)
    the figures."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    law = TaskLogLinearLaw.from_dict(result["law"])
    write_json(out / "law.json", result["law"])
    write_json(out / "correlations.json", result["fit"]["correlations"])
    np.save(out / "interaction_matrix.npy", law.t)
    domains = result["domains"]
    weights = [{"domain": d, "weight": w} for d, w in zip(domains, result["proportions"], strict=True)]
    write_json(out / "optimal.json", weights)
    write_json(out / "predicted_performance.json", result["predicted"])
    if figures:
        _write_figures(result, swarm, law, out)


def _write_figures(result: dict, swarm: Swarm, law: TaskLogLinearLaw, out: Path) -> None:
    from pipeline_lib.olmix import figures  # matplotlib only where figures are drawn

    domains = result["domains"]
    figures.interaction_matrix(law, domains, out / "interaction_matrix.png")
    fit = result["fit"]
    figures.predicted_vs_observed(swarm, np.array(fit["predicted"]), fit["loo_predicted"], out / "fit.png")
    figures.mixture_bars(
        domains, {"natural": result["natural"], "Olmix": result["proportions"]}, out / "optimal.png"
    )
