"""Olmix's design space on one swarm: resampled fits of every regressor, scored on held-out runs, and every
workable (regressor, proposer) pair's proposal (``design:``; :mod:`.design_report` pools the swarms).

For each of ``subsets`` seeded permutations of the K_max runs, the first ``n_holdout`` runs are held out and
the next K (K on :meth:`DesignConfig.k_grid`, nested: a larger K adds runs) train every regressor. A fit is
scored by the Spearman and Pearson correlation of its predicted task average with the observed one on the
held-out runs. A regressor that cannot predict unseen mixtures (search) predicts each held-out run by the
nearest training mixture's metrics (L1), the lookup's best guess. Each pair's proposal is scored by its own
regressor and by the judge (``design.judge`` fitted on the whole swarm). A few proposals (``design.train_*``)
are then trained as proxies beside natural and the swarm's best run (:func:`trained_mixtures` writes them;
the training jobs are the planner's).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline_lib.config.design import DesignConfig
from pipeline_lib.config.methods import OBJECTIVES, OlmixConfig
from pipeline_lib.config.units import ExactSettings
from pipeline_lib.lmo import FitSettings, repetition_caps
from pipeline_lib.lmo.tasklaw import correlations
from pipeline_lib.olmix.fit.proposers import Problem, make_proposer, pairing_problem
from pipeline_lib.olmix.fit.regressors import FitContext, Regressor, make_regressor
from pipeline_lib.olmix.swarmio import Priors, Swarm
from pipeline_lib.progress import append_progress
from pipeline_lib.records import SwarmFile

log = logging.getLogger(__name__)
FIT_ERRORS = (ValueError, RuntimeError, FloatingPointError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class SwarmStudy:
    """One swarm's analysis: its setting and seed, Olmix's config (units' settings, k, lambda), the design
    and R, the target run's tokens (the caps)."""

    setting: str
    seed: int
    cfg: OlmixConfig
    design: DesignConfig
    target_tokens: int

    def regressor(self, name: str, seed: int) -> Regressor:
        """An unfitted regressor with the config's settings (log_linear: its fit settings)."""
        c = self.cfg
        settings = (
            FitSettings(huber_delta=c.huber_delta, ridge=c.ridge, n_random=c.n_random, seed=seed)
            if name == "log_linear"
            else getattr(c, name, None)
        )
        return make_regressor(name, settings, FitContext(seed=seed, target_tokens=self.target_tokens))

    def kl_weights(self, proposer: str) -> tuple[float, ...]:
        """The exact proposer with and without the KL pull; the others have none."""
        return tuple(dict.fromkeys((self.cfg.kl_weight, 0.0))) if proposer == "exact" else (float("nan"),)

    def propose(self, reg: Regressor, proposer: str, kl: float, problem: Problem, seed: int) -> np.ndarray:
        settings = ExactSettings(kl_weight=kl) if proposer == "exact" else getattr(self.cfg, proposer, None)
        return make_proposer(proposer, settings).propose(reg, problem, seed)

    def pairs(self) -> list[tuple[str, str]]:
        """The workable (regressor, proposer) pairs of the design's lists."""
        d = self.design
        return [(r, p) for r in d.regressors for p in d.proposers if pairing_problem(r, p) is None]

    def caps(self, priors: Priors) -> np.ndarray | None:
        """The repetition caps of the corpus's tokens; None when they leave no mixture (logged)."""
        caps = repetition_caps(priors.tokens, self.target_tokens, self.cfg.repetitions)
        if caps.sum() < 1.0:
            log.warning("the caps %s sum to < 1: proposals here are uncapped", caps.tolist())
            return None
        return caps


def held_out_prediction(
    reg: Regressor, P_train: np.ndarray, Y_train: np.ndarray, P: np.ndarray
) -> np.ndarray:
    """The regressor's predictions of ``P``; a lookup (no extrapolation) gives the nearest training run's."""
    if reg.can_extrapolate:
        return reg.predict(P)
    nearest = np.abs(P[:, None, :] - P_train[None, :, :]).sum(axis=2).argmin(axis=1)
    return Y_train[nearest]


def subsets(study: SwarmStudy, K_max: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(subset, held-out runs, training pool) for each seeded permutation of the swarm's runs."""
    H = study.design.n_holdout(K_max)
    for s in range(study.design.subsets):
        perm = np.random.default_rng([study.seed, s]).permutation(K_max)
        yield s, perm[:H], perm[H:]


def _score(reg: Regressor | None, swarm: Swarm, train: np.ndarray, held: np.ndarray) -> dict[str, Any]:
    if reg is None:
        return {"spearman": np.nan, "pearson": np.nan}
    pred = held_out_prediction(reg, swarm.P[train], swarm.Y[train], swarm.P[held])
    r = correlations(swarm.Y[held].mean(axis=1), pred.mean(axis=1))
    return {k: np.nan if v is None else v for k, v in r.items()}


def _fit(study: SwarmStudy, name: str, seed: int, swarm: Swarm, train: np.ndarray) -> tuple[Any, float, str]:
    """(the fitted regressor or None, CPU seconds, the error if it failed)."""
    start = time.process_time()
    try:
        reg = study.regressor(name, seed).fit(swarm.P[train], swarm.Y[train], swarm.tasks)
        return reg, time.process_time() - start, ""
    except FIT_ERRORS as err:
        log.warning("%s on %d runs (seed %d) failed: %s", name, len(train), seed, err)
        return None, time.process_time() - start, str(err)


def analyse(
    study: SwarmStudy, swarm: Swarm, priors: Priors, progress: Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores: one row per subset, K and regressor; proposals: one per subset, K, pair and KL weight). Each
    subset done is reported to ``progress`` (the workflow's progress line and ETA read it)."""
    if progress is not None:  # afresh (a killed job's lines are not this one's)
        progress.write_text("")
        append_progress(progress, 0, study.design.subsets)
    K_max, m = swarm.P.shape
    prior = priors.select(swarm.domains)
    caps, grid = study.caps(prior), study.design.k_grid(m, K_max)
    judge = study.regressor(study.design.judge, study.seed).fit(swarm.P, swarm.Y, swarm.tasks)
    pairs, scores, proposals = study.pairs(), [], []
    key = {"setting": study.setting, "m": m, "seed": study.seed, "k_max": K_max}
    for s, held, pool in subsets(study, K_max):
        for K in grid:
            train, cell = pool[:K], {**key, "subset": s, "K": K}
            fitted = {}
            for name in study.design.regressors:
                reg, secs, err = _fit(study, name, 1000 * study.seed + s, swarm, train)
                fitted[name] = reg
                scores.append(
                    {
                        **cell,
                        "regressor": name,
                        **_score(reg, swarm, train, held),
                        "cpu_s": secs,
                        "error": err,
                    }
                )
            problem = Problem(prior.natural, caps, swarm.P[train])
            for name, proposer in pairs:
                if fitted[name] is not None:
                    proposals += _proposals(study, fitted[name], proposer, problem, judge, cell, s)
        log.info("%s seed %d: subset %d of %d done", study.setting, study.seed, s + 1, study.design.subsets)
        if progress is not None:
            append_progress(progress, s + 1, study.design.subsets)
    return pd.DataFrame(scores), pd.DataFrame(proposals)


def _proposals(
    study: SwarmStudy, reg: Regressor, proposer: str, problem: Problem, judge: Regressor, cell: dict, s: int
) -> list[dict[str, Any]]:
    """One pair's proposal (the exact proposer's with and without the KL pull), predicted."""
    rows = []
    for kl in study.kl_weights(proposer):
        try:
            p = study.propose(reg, proposer, kl, problem, 1000 * study.seed + s)
        except FIT_ERRORS as err:
            log.warning("%s + %s failed: %s", reg.name, proposer, err)
            continue
        rows.append(
            {
                **cell,
                "regressor": reg.name,
                "proposer": proposer,
                "kl_weight": kl,
                "self_predicted": float(reg.predict(p[None, :])[0].mean()),
                "judge_predicted": float(judge.predict(p[None, :])[0].mean()),
                "tv_natural": float(0.5 * np.abs(p - problem.natural).sum()),
                "mixture": json.dumps([round(float(v), 10) for v in p]),
            }
        )
    return rows


def scarce_check(study: SwarmStudy, swarm: Swarm, priors: Priors) -> dict[str, Any]:
    """Caps where data is scarce: the exact proposal on the whole swarm, free (no caps), then with the group
    it weighs most given tokens N_j = f p_j R / k (its cap f p_j): does the capped mix sit on the cap?
    Also whether the corpus's own caps bind the free proposal."""
    prior = priors.select(swarm.domains)
    reg = study.regressor("log_linear", study.seed).fit(swarm.P, swarm.Y, swarm.tasks)
    kl, k, R = study.cfg.kl_weight, study.cfg.repetitions, study.target_tokens
    free = study.propose(reg, "exact", kl, Problem(prior.natural, None, swarm.P), study.seed)
    j = int(np.argmax(free))
    caps = np.ones_like(free)
    caps[j] = study.design.scarce_fraction * free[j]
    capped = study.propose(reg, "exact", kl, Problem(prior.natural, caps, swarm.P), study.seed)
    tokens = caps[j] * R / k
    real = repetition_caps(prior.tokens, R, k)
    return {
        "setting": study.setting,
        "m": len(free),
        "seed": study.seed,
        "group": swarm.domains[j],
        "free_weight": float(free[j]),
        "cap": float(caps[j]),
        "capped_weight": float(capped[j]),
        "binds": bool(abs(capped[j] - caps[j]) <= 1e-6),
        "scarce_tokens": float(tokens),
        "free_epochs": float(free[j] * R / tokens),
        "capped_epochs": float(capped[j] * R / tokens),
        "corpus_caps": dict(zip(swarm.domains, real.tolist(), strict=True)),
        "corpus_caps_bind": bool(np.any(free > real + 1e-9)),
        "free": free.tolist(),
        "capped": capped.tolist(),
        "domains": list(swarm.domains),
    }


def trained_mixtures(study: SwarmStudy, swarm: Swarm, priors: Priors, proposals: pd.DataFrame) -> SwarmFile:
    """The mixtures the design trains for this swarm (``design.n_trained`` rows, the planner's count): the
    natural distribution, the swarm's best run (lowest observed task average), then each trained pair's
    proposal of each of the first ``train_subsets`` subsets, fitted on K = ``design.train_k`` runs (exact:
    with the config's kl_weight). A proposal that failed is trained at natural, marked ``missing``."""
    d = study.design
    if not d.n_trained:
        return SwarmFile(swarm.domains, [], {"rows": [], "setting": study.setting, "seed": study.seed})
    K_max, m = swarm.P.shape
    natural, K = priors.select(swarm.domains).natural, d.train_k(m, K_max)
    observed = swarm.Y.mean(axis=1)
    best = int(np.argmin(observed))
    rows = [{"kind": "natural"}, {"kind": "best", "run": swarm.runs[best], "observed": float(observed[best])}]
    mixtures = [natural.tolist(), swarm.P[best].tolist()]
    for regressor, proposer in d.trained_pairs:
        kl = study.cfg.kl_weight if proposer == "exact" else None
        for s in range(d.train_subsets):
            row, p = _proposal_row(proposals, K, s, regressor, proposer, kl)
            rows.append(
                {"kind": "proposal", "regressor": regressor, "proposer": proposer, "subset": s, **row}
            )
            mixtures.append(p if p is not None else natural.tolist())
    details = {"rows": rows, "K": K, "setting": study.setting, "seed": study.seed}
    metrics = study.cfg.metrics  # named when not the groups' (read_trained's default)
    details |= {"metrics": list(metrics)} if metrics != OBJECTIVES["groups"] else {}
    return SwarmFile(swarm.domains, mixtures, details)


def _proposal_row(
    proposals: pd.DataFrame, K: int, s: int, regressor: str, proposer: str, kl: float | None
) -> tuple[dict[str, Any], list[float] | None]:
    """A pair's proposal of subset ``s`` at K: (its label fields, its mixture; None when it failed)."""
    if proposals.empty:
        return {"K": K, "missing": True}, None
    hit = proposals[
        (proposals["K"] == K)
        & (proposals["subset"] == s)
        & (proposals["regressor"] == regressor)
        & (proposals["proposer"] == proposer)
        & (proposals["kl_weight"].isna() if kl is None else np.isclose(proposals["kl_weight"], kl))
    ]
    if hit.empty:
        return {"K": K, "missing": True}, None
    first = hit.iloc[0]
    label = {
        "K": K,
        "kl_weight": kl,
        "predicted": float(first["self_predicted"]),
        "judge_predicted": float(first["judge_predicted"]),
        "missing": False,
    }
    return label, [float(v) for v in json.loads(first["mixture"])]
