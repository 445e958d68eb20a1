"""Olmix's fit and proposal: a regressor fitted on a swarm, then a proposer's mix under the repetition caps.

The default pair (log_linear, exact) is the paper's: per-task log-linear laws, then

min_p  sum_i w_i exp(t_i . p) + lambda KL(p || p0)   s.t.  p on the simplex,  p_j <= k N_j / R

Any regressor and proposer of :mod:`pipeline_lib.olmix.fit` can stand in (:class:`Units`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_lib.config.units import ExactSettings
from pipeline_lib.io import write_json
from pipeline_lib.lmo import FitSettings, repetition_caps
from pipeline_lib.lmo.tasklaw import correlations
from pipeline_lib.olmix.fit.proposers import Problem, Proposer, make_proposer
from pipeline_lib.olmix.fit.regressors import FitContext, Regressor, make_regressor, regressor_from_dict
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


@dataclass(frozen=True)
class Units:
    """The regressor and proposer, by name, with their settings objects. None: log_linear's are the fit's
    :class:`FitSettings`, exact's ``kl_weight`` is the solve's, any other unit's are its defaults."""

    regressor: str = "log_linear"
    proposer: str = "exact"
    regressor_settings: Any = None
    proposer_settings: Any = None

    @property
    def is_default(self) -> bool:
        return self == Units()

    def build(self, fit: FitSettings, solve: SolveSettings) -> tuple[Regressor, Proposer]:
        """The unfitted regressor (seeded by ``fit.seed``) and the proposer."""
        reg_s = (
            fit
            if self.regressor == "log_linear" and self.regressor_settings is None
            else self.regressor_settings
        )
        prop_s = self.proposer_settings
        if self.proposer == "exact" and prop_s is None:
            prop_s = ExactSettings(kl_weight=solve.kl_weight)
        context = FitContext(seed=fit.seed, target_tokens=solve.target_tokens)
        return make_regressor(self.regressor, reg_s, context), make_proposer(self.proposer, prop_s)

    def describe(self) -> dict[str, Any]:
        def settings(x: Any) -> Any:
            return None if x is None else asdict(x)

        return {
            "regressor": self.regressor, "proposer": self.proposer,
            "regressor_settings": settings(self.regressor_settings),
            "proposer_settings": settings(self.proposer_settings),
        }  # fmt: skip


@dataclass(frozen=True)
class Targets:
    """Which metrics the fit and the objective use (olmix's aggregate_task_families, drop_metrics and
    obj_weights). Names this swarm lacks are skipped with a warning, as olmix skips them, since one config
    serves settings with different tasks."""

    families: Mapping[str, Sequence[str]] | None = None
    drop: tuple[str, ...] = ()
    weights: Mapping[str, float] | None = None

    def apply(self, swarm: Swarm) -> Swarm:
        """The swarm with each family's mean as one task (only families kept), then the drops removed."""
        tasks, Y = swarm.tasks, swarm.Y
        if self.families is not None:
            cols = []
            for family, members in self.families.items():
                present = [tasks.index(t) for t in members if t in tasks]
                if not present:
                    raise ValueError(
                        f"task_families.{family}: none of {list(members)} is a task; the tasks: {list(tasks)}"
                    )
                cols.append(Y[:, present].mean(axis=1))
            tasks, Y = tuple(self.families), np.column_stack(cols)
        _warn_absent("drop_metrics", self.drop, tasks)
        keep = [i for i, t in enumerate(tasks) if t not in self.drop]
        if not keep:
            raise ValueError(f"drop_metrics {list(self.drop)} leaves no task of {list(tasks)}")
        return Swarm(swarm.runs, swarm.domains, swarm.P, tuple(tasks[i] for i in keep), Y[:, keep])

    def task_weights(self, tasks: tuple[str, ...]) -> np.ndarray | None:
        """The objective's weights over ``tasks`` (unnamed ones 1), summing to 1; None: the plain mean."""
        if self.weights is None:
            return None
        _warn_absent("obj_weights", tuple(self.weights), tasks)
        w = np.array([float(self.weights.get(t, 1.0)) for t in tasks])
        if w.sum() <= 0:
            raise ValueError(f"obj_weights give the tasks {list(tasks)} no positive weight")
        return w / w.sum()

    def describe(self) -> dict[str, Any]:
        families = None if self.families is None else {k: list(v) for k, v in self.families.items()}
        weights = None if self.weights is None else dict(self.weights)
        return {"task_families": families, "drop_metrics": list(self.drop), "obj_weights": weights}

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> Targets:
        """The targets a :func:`propose` result was made with (recorded when not the defaults)."""
        d = result["settings"].get("targets")
        if d is None:
            return cls()
        return cls(d["task_families"], tuple(d["drop_metrics"]), d["obj_weights"])


def _warn_absent(field: str, names: Sequence[str], tasks: Sequence[str]) -> None:
    absent = sorted(set(names) - set(tasks))
    if absent:
        log.warning("%s: %s are not tasks of this swarm (%s); skipped", field, absent, list(tasks))


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


def leave_one_out(regressor: Regressor, swarm: Swarm) -> np.ndarray:
    """Predictions ``(K, n)`` of each run by the regressor refitted without it (:meth:`Regressor.fresh`)."""
    out = np.empty_like(swarm.Y)
    for r in range(len(swarm.runs)):
        keep = np.arange(len(swarm.runs)) != r
        refit = regressor.fresh().fit(swarm.P[keep], swarm.Y[keep], swarm.tasks)
        out[r] = refit.predict(swarm.P[r : r + 1])[0]
    return out


def fit_report(swarm: Swarm, regressor: Regressor) -> dict:
    """Train and leave-one-out Pearson and Spearman per task and for the task average (leave-one-out when
    the swarm has m + 3 runs or more and the regressor predicts unseen mixtures)."""
    pred = regressor.predict(swarm.P)
    K, m = swarm.P.shape
    loo = leave_one_out(regressor, swarm) if m + 3 <= K and regressor.can_extrapolate else None
    out = {}
    for i, task in enumerate((*swarm.tasks, AVERAGE)):
        col = (lambda a: a.mean(axis=1)) if task == AVERAGE else (lambda a, i=i: a[:, i])
        out[task] = {
            "train": correlations(col(swarm.Y), col(pred)),
            "leave_one_out": correlations(col(swarm.Y), col(loo)) if loo is not None else None,
        }
    return {
        "correlations": out,
        "predicted": _finite(pred),
        "loo_predicted": None if loo is None else _finite(loo),
    }


def _finite(a: np.ndarray) -> Any:
    """``a.tolist()`` with a non-finite entry (the search regressor's unseen mixture) as None."""
    arr = np.asarray(a, dtype=float)
    return arr.tolist() if np.all(np.isfinite(arr)) else np.where(np.isfinite(arr), arr, None).tolist()


def propose(
    swarm: Swarm,
    priors: Priors | None,
    fit: FitSettings | None = None,
    solve: SolveSettings | None = None,
    units: Units = Units(),
    targets: Targets = Targets(),
) -> dict:
    """Fit the regressor on the ``targets``' tasks, score it, and propose the mixture. Without priors, p0 is
    the swarm's mean mixture (the swarm is drawn around it) and there are no caps. Settings default to the
    papers' values."""
    fit, solve = fit or FitSettings(), solve or SolveSettings()
    swarm = targets.apply(swarm) if targets != Targets() else swarm
    regressor, proposer = units.build(fit, solve)
    regressor.fit(swarm.P, swarm.Y, swarm.tasks)
    prior = priors.select(swarm.domains) if priors is not None else None
    natural = prior.natural if prior is not None else swarm.P.mean(axis=0)
    caps = None
    if prior is not None and solve.target_tokens:
        caps = repetition_caps(prior.tokens, solve.target_tokens, solve.repetitions)
        check_caps(swarm.domains, prior.tokens, caps, solve)
    weights = targets.task_weights(swarm.tasks)
    p = proposer.propose(regressor, Problem(natural, caps, swarm.P, weights), fit.seed)
    predicted = regressor.predict(p[None, :])[0]
    settings = {"fit": asdict(fit), "solve": asdict(solve)}
    settings |= {} if targets == Targets() else {"targets": targets.describe()}
    return {
        "domains": list(swarm.domains),
        "tasks": list(swarm.tasks),
        "proportions": p.tolist(),
        "natural": natural.tolist(),
        "caps": None if caps is None else caps.tolist(),
        "predicted": dict(zip(swarm.tasks, _finite(predicted), strict=True)),
        "predicted_average": _finite(predicted.mean()),
        "natural_predicted_average": _finite(regressor.predict(natural[None, :])[0].mean()),
        "law": regressor.to_dict(),
        "fit": fit_report(swarm, regressor),
        "settings": settings if units.is_default else settings | {"units": units.describe()},
        "swarm": {"runs": list(swarm.runs), "size": len(swarm.runs)},
    }


def write_outputs(
    result: dict,
    swarm: Swarm,
    out_dir: str | Path,
    figures: bool = True,
    method: str = "Olmix",
    metrics: Sequence[str] = (),
) -> None:
    """Olmix's outputs: the fitted regressor (law.json), its correlations, the interaction matrix (where the
    regressor has one), the mix and (``figures``) the figures, which name ``method`` and the ``metrics``
    the law was fitted on."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = Targets.from_result(result)
    swarm = targets.apply(swarm) if targets != Targets() else swarm  # the tasks the regressor was fitted on
    regressor = regressor_from_dict(result["law"])
    write_json(out / "law.json", result["law"])
    write_json(out / "correlations.json", result["fit"]["correlations"])
    matrix = regressor.interaction()
    if matrix is not None:
        np.save(out / "interaction_matrix.npy", matrix)
    domains = result["domains"]
    weights = [{"domain": d, "weight": w} for d, w in zip(domains, result["proportions"], strict=True)]
    write_json(out / "optimal.json", weights)
    write_json(out / "predicted_performance.json", result["predicted"])
    if figures:
        _write_figures(result, swarm, matrix, out, method, metrics)


def _write_figures(
    result: dict, swarm: Swarm, matrix: np.ndarray | None, out: Path, method: str, metrics: Sequence[str]
) -> None:
    from pipeline_lib.olmix import figures  # matplotlib only where figures are drawn

    domains = result["domains"]
    if matrix is not None:
        figures.interaction_matrix(matrix, swarm.tasks, domains, out / "interaction_matrix.png")
    fit = result["fit"]
    predicted = np.array(fit["predicted"], dtype=float)  # None (unseen by search) -> nan, left out of a plot
    loo = None if fit["loo_predicted"] is None else np.array(fit["loo_predicted"], dtype=float)
    metric = figures.metric_label(metrics) if metrics else "metric"
    figures.predicted_vs_observed(swarm, predicted, loo, out / "fit.png", metric=metric, method=method)
    figures.mixture_bars(
        domains, {"natural": result["natural"], method: result["proportions"]}, out / "optimal.png"
    )
