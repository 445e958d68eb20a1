"""The mixture-reuse experiment's steps: a stage's plan and swarm, then its fit and mixture.

Each (stage, strategy, seed) is one link of a chain: its plan reads the previous link's fit (the frozen
ratios, the law PartialMixtureReuse picks its domains from, the runs swarm reuse maps), its proxies train on
the plan's expanded mixtures, and its fit solves over the plan's columns and expands the answer with Φ.
Stage 0 is one link every strategy but natural shares; natural needs no runs at any stage.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pipeline_lib.config.methods import OBJECTIVES
from pipeline_lib.config.reuse import SHARED, STRATEGIES, ReuseConfig
from pipeline_lib.lmo import FitSettings, SwarmSettings, dirichlet_swarm
from pipeline_lib.lmo.swarm import swarm_size
from pipeline_lib.olmix.propose import SolveSettings, Targets, propose, write_outputs
from pipeline_lib.olmix.reuse import VIRTUAL, ReusePlan, choose_partial, map_runs, plan_stage, restrict_law
from pipeline_lib.olmix.swarmio import Priors, Swarm, run_scores
from pipeline_lib.records import ReuseFit, RunRecord, Spent

log = logging.getLogger(__name__)
NO_PROXIES = Spent(0, 0, 0.0)


def swarm_seed(seed: int, stage: int, chain: str) -> int:
    """The Dirichlet draw's seed: one per link, so two strategies' swarms of a stage differ."""
    return seed * 1000 + stage * 10 + (*STRATEGIES, SHARED).index(chain)


def stage_plan(
    reuse: ReuseConfig,
    stage: int,
    strategy: str,
    previous: ReuseFit | None,
    previous_runs: int,
    factor: float,
    task_of: Mapping[str, str] | None = None,
) -> tuple[ReusePlan, dict]:
    """The link's plan and how PartialMixtureReuse chose its domains (their coupling scores)."""
    if stage == 0:
        domains = reuse.stages[0]
        size = swarm_size(len(domains), factor, reuse.pow2)
        return ReusePlan("full", domains, (), domains, np.zeros(0), size), {}
    if previous is None:
        raise ValueError(f"stage {stage} needs the previous stage's fit")
    update = reuse.updates[stage - 1]
    mixture = previous.mixture
    partial, scores = reuse.given_partial(stage, strategy), {}
    if partial is None:
        partial, scores = choose_partial(previous.domain_law, update, reuse.partial_count, task_of)
    plan = plan_stage(strategy, mixture, update, partial, previous_runs, factor, reuse.pow2)
    return plan, {"recomputed": list(partial), "coupling": scores}


def column_priors(plan: ReusePlan, priors: Priors) -> Priors:
    """The swarm columns' priors: the virtual domain holds N_v tokens (Lemma 1's cap) and D_fix's natural
    share; the recomputed domains keep theirs."""
    tokens = dict(zip(priors.domains, priors.tokens.tolist(), strict=True))
    natural = dict(zip(priors.domains, priors.natural.tolist(), strict=True))
    shares = {VIRTUAL: sum(natural[d] for d in plan.fixed)} if plan.fixed else {}
    shares |= {d: natural[d] for d in plan.computed}
    return Priors.from_tokens(plan.column_tokens(tokens), shares)


def plan_step(
    reuse: ReuseConfig,
    stage: int,
    strategy: str,
    seed: int,
    priors: Priors,
    previous: ReuseFit | None,
    counts: tuple[int, int],
    swarm: SwarmSettings,
    proxy_tokens: int,
    task_of: Mapping[str, str] | None = None,
) -> dict:
    """plan.json: the plan, the swarm over its columns and (``mixtures``) the same expanded over the stage's
    domains, which the proxies train on. ``counts``: the planner's (new runs, previous runs mapped)."""
    plan, partial = stage_plan(reuse, stage, strategy, previous, counts[1], swarm.factor, task_of)
    if plan.runs != counts[0]:
        raise ValueError(
            f"stage {stage} {strategy}: the plan has {plan.runs} new runs, the workflow {counts[0]}"
        )
    cols = column_priors(plan, priors.select(plan.domains))
    R = np.zeros((0, len(plan.columns)))
    if plan.runs:
        s = swarm_seed(seed, stage, strategy)
        R = dirichlet_swarm(cols.natural, cols.tokens, proxy_tokens, plan.runs, s, swarm)
    update = reuse.updates[stage - 1].describe() if stage else "start"
    return {
        "stage": stage, "strategy": strategy, "seed": seed, "update": update, "plan": plan.to_dict(),
        "partial": partial, "groups": list(plan.domains), "columns": list(plan.columns),
        "column_priors": cols.to_dict(), "column_mixtures": R.tolist(),
        "mixtures": [plan.expand(r).tolist() for r in R], "proxy_tokens": proxy_tokens,
    }  # fmt: skip


def _collapse(plan: ReusePlan, q: np.ndarray) -> np.ndarray:
    """A mixture over the stage's domains as the swarm's columns (the virtual domain sums D_fix)."""
    weights = dict(zip(plan.domains, q, strict=True))
    head = [sum(weights[d] for d in plan.fixed)] if plan.fixed else []
    return np.array(head + [weights[d] for d in plan.computed])


def link_swarm(
    plan: ReusePlan,
    stage: int,
    runs: Sequence[str],
    previous_dir: str | Path | None,
    update,
    metrics: Sequence[str] = OBJECTIVES["groups"],
) -> tuple[Swarm | None, Spent]:
    """The swarm a link fits: its new runs over the plan's columns (their realised mixtures collapsed) and
    their ``metrics``' columns, after (swarm reuse) the previous link's runs mapped onto the stage's domains;
    and the new runs' cost."""
    records = [RunRecord.read(p) for p in runs]
    tasks, scores = run_scores(records, metrics)
    P = [_collapse(plan, np.array(r.mixture(plan.domains))) for r in records]
    Y = list(scores)
    names = [f"stage{stage}/{Path(p).parent.name}" for p in runs]
    if plan.mapped_runs and previous_dir is not None:
        old = Swarm.read(Path(previous_dir) / "ratios.csv", Path(previous_dir) / "metrics.csv")
        mapped, keep = map_runs(old.P, old.domains, update)
        tasks = tasks or old.tasks
        if old.tasks != tasks:
            raise ValueError(f"swarm reuse needs one task set: {list(old.tasks)} vs {list(tasks)}")
        P, Y = list(mapped) + P, list(old.Y[keep]) + Y
        names = [n for n, k in zip(old.runs, keep, strict=True) if k] + names
    if not P:
        return None, NO_PROXIES
    swarm = Swarm(tuple(names), plan.columns, np.array(P), tasks, np.array(Y))
    return swarm, Spent.of(records)


def fit_step(
    reuse: ReuseConfig,
    stage: int,
    strategy: str,
    priors: Priors,
    plan_file: Mapping | None,
    previous: ReuseFit | None,
    previous_dir: str | Path | None,
    runs: Sequence[str],
    fit: FitSettings,
    solve: SolveSettings,
    out_dir: str | Path,
    targets: Targets | None = None,
    metrics: Sequence[str] = OBJECTIVES["groups"],
) -> ReuseFit:
    """fit.json: the link's mixture over the stage's domains, what it cost (this stage and cumulative), and
    the law over the domains the next link's PartialMixtureReuse reads. The laws fit the proxies' ``metrics``
    (methods.olmix.objective's), as ``targets`` (families, drops, weights) shape them."""
    domains = reuse.stages[stage]
    natural = priors.select(domains).natural
    link = ReuseFit(
        method="olmix", stage=stage, strategy=strategy, groups=tuple(domains), natural=natural.tolist(),
        update=reuse.updates[stage - 1].describe() if stage else "start", proportions=tuple(natural.tolist()),
        extra_runs=NO_PROXIES, stage_runs=NO_PROXIES,
    )  # fmt: skip
    if strategy == "natural":
        return link
    cumulative = previous.extra_runs if previous is not None else NO_PROXIES
    plan = ReusePlan.from_dict(plan_file["plan"])
    update = reuse.updates[stage - 1] if stage else None
    swarm, cost = link_swarm(plan, stage, runs, previous_dir, update, metrics)
    details = {"plan": plan.to_dict(), "partial": plan_file.get("partial", {})}
    link = dataclasses.replace(link, extra_runs=cumulative + cost, stage_runs=cost)
    if swarm is None:  # a removal: drop the domain, keep the others' ratios
        details["domain_law"] = restrict_law(previous.domain_law, domains)
        return dataclasses.replace(link, proportions=tuple(plan.expand([1.0]).tolist()), details=details)
    cols = column_priors(plan, priors.select(domains))
    result = propose(swarm, cols, fit, solve, targets=targets or Targets())
    out_dir = Path(out_dir)
    swarm.write(out_dir / "ratios.csv", out_dir / "metrics.csv")
    write_outputs(result, swarm, out_dir, figures=False)
    t = plan.domain_t(np.asarray(result["law"]["t"]))
    details |= {
        "columns": list(plan.columns), "column_proportions": result["proportions"], "pool": len(swarm.runs),
        "domain_law": {"tasks": result["tasks"], "domains": list(domains), "t": t.tolist()},
        "predicted_average": result["predicted_average"], "fit": result["fit"]["correlations"]["average"],
    }  # fmt: skip
    proportions = plan.expand(result["proportions"]).tolist()
    return dataclasses.replace(link, proportions=tuple(proportions), details=details)
