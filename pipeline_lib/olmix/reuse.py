"""Olmix's mixture reuse: when the domain set changes, keep the old mixture's ratios where it can.

An update (add, remove, revise, partition) turns the previous stage's domains D into D'. D_1, the domains
that remain untouched, and D'_2, the added, revised or partitioned ones, split D'. A strategy decides which
domains are recomputed (D_comp) and which keep their previous ratios (D_fix, collapsed into one virtual
domain v):

- ``full``: recompute everything (a swarm of K = 3(m + 1) over D');
- ``full_reuse`` (FullMixtureReuse): D_fix = D_1, D_comp = D'_2, a swarm over {v} + D_comp of
  K = 3(|D_comp| + 2); a removal needs no runs (drop and renormalise);
- ``partial_reuse`` (PartialMixtureReuse): D_fix = D_1 minus a chosen set, recomputed too;
- ``swarm_reuse``: the previous stage's runs, mapped onto D' with 0 on the new domains, topped up with new
  runs to K = 3(m + 1);
- ``natural``: the natural distribution, no runs.

The expansion Φ gives q_j = r_v p~_j for j in D_fix (p~ the previous ratios within D_fix) and q_j = r_j for
j in D_comp. The virtual domain's repetition cap is r_v <= min_{j in D_fix} k N_j / (R p~_j): as a domain
it holds N_v = min_j N_j / p~_j tokens, so the ordinary cap k N_v / R is exactly that bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline_lib.config.reuse import KINDS, STRATEGIES, Update
from pipeline_lib.lmo.swarm import swarm_size

__all__ = ["KINDS", "STRATEGIES", "VIRTUAL", "ReusePlan", "Update", "plan_stage"]

VIRTUAL = "existing"  # olmix's name for the virtual domain


@dataclass(frozen=True)
class ReusePlan:
    """How one stage gets its mixture: the domains recomputed and frozen, the swarm's columns and size."""

    strategy: str
    domains: tuple[str, ...]
    """D', the stage's domains (the order of the expanded mixture)."""
    fixed: tuple[str, ...]
    """D_fix, collapsed into the virtual domain."""
    computed: tuple[str, ...]
    """D_comp, the swarm's own columns."""
    frozen: np.ndarray = field(repr=False)
    """p~: the previous ratios within D_fix (sum 1; empty without D_fix)."""
    runs: int
    """New proxy runs this stage spends."""
    mapped_runs: int = 0
    """Previous runs reused (swarm reuse)."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The swarm's columns: the virtual domain (if any) then D_comp."""
        return ((VIRTUAL,) if self.fixed else ()) + self.computed

    def virtual_tokens(self, tokens: Mapping[str, float]) -> float:
        """N_v = min_j N_j / p~_j over D_fix: the cap k N_v / R is Lemma 1's r_v bound."""
        return min(tokens[d] / w for d, w in zip(self.fixed, self.frozen, strict=True) if w > 0)

    def column_tokens(self, tokens: Mapping[str, float]) -> dict[str, float]:
        out = {VIRTUAL: self.virtual_tokens(tokens)} if self.fixed else {}
        return out | {d: tokens[d] for d in self.computed}

    def expand(self, r: Sequence[float]) -> np.ndarray:
        """Φ: the swarm-column mixture r as a mixture over ``domains``."""
        r = np.asarray(r, dtype=float)
        if r.shape != (len(self.columns),):
            raise ValueError(f"r needs one weight per column {list(self.columns)}, got {r.tolist()}")
        weights = dict(zip(self.computed, r[1:] if self.fixed else r, strict=True))
        if self.fixed:
            weights |= {d: r[0] * w for d, w in zip(self.fixed, self.frozen, strict=True)}
        return np.array([weights[d] for d in self.domains])

    def domain_t(self, t: np.ndarray) -> np.ndarray:
        """A law's interactions t (tasks, columns) over ``domains``: a frozen domain takes the virtual
        column's (Φ is linear, so t_v r_v = sum_j t_v q_j over D_fix)."""
        t = np.asarray(t, dtype=float)
        col = {c: i for i, c in enumerate(self.columns)}
        return t[:, [col[VIRTUAL] if d in self.fixed else col[d] for d in self.domains]]

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy, "domains": list(self.domains), "fixed": list(self.fixed),
            "computed": list(self.computed), "frozen": self.frozen.tolist(), "columns": list(self.columns),
            "runs": self.runs, "mapped_runs": self.mapped_runs,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping) -> ReusePlan:
        return cls(
            d["strategy"], tuple(d["domains"]), tuple(d["fixed"]), tuple(d["computed"]),
            np.asarray(d["frozen"], dtype=float), int(d["runs"]), int(d.get("mapped_runs", 0)),
        )  # fmt: skip


def plan_stage(
    strategy: str,
    previous: Mapping[str, float],
    update: Update,
    partial: Sequence[str] = (),
    previous_runs: int = 0,
    factor: float = 3.0,
    pow2: bool = False,
) -> ReusePlan:
    """The plan of the stage after ``update`` given the previous stage's mixture ``previous`` (domain ->
    weight); ``partial``: the unaffected domains PartialMixtureReuse recomputes too."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got '{strategy}'")
    domains = update.apply(tuple(previous))
    m = len(domains)
    if strategy == "natural":
        return ReusePlan(strategy, domains, (), domains, np.zeros(0), 0)
    if strategy == "full":
        return ReusePlan(strategy, domains, (), domains, np.zeros(0), swarm_size(m, factor, pow2))
    if strategy == "swarm_reuse":
        new = max(0, swarm_size(m, factor, pow2) - previous_runs)
        return ReusePlan(strategy, domains, (), domains, np.zeros(0), new, previous_runs)
    kept = [d for d in domains if d in previous]  # D_1
    bad = sorted(set(partial) - set(kept))
    if bad or (partial and strategy != "partial_reuse"):
        raise ValueError(
            f"partial must name unaffected domains of a partial_reuse stage; got {bad or partial}"
        )
    fixed = tuple(d for d in kept if d not in partial)
    computed = tuple(d for d in domains if d not in fixed)
    frozen = np.array([previous[d] for d in fixed], dtype=float)
    if fixed and frozen.sum() <= 0:
        raise ValueError(f"the frozen domains {list(fixed)} had no weight in the previous mixture")
    frozen = frozen / frozen.sum() if fixed else frozen
    runs = 0 if not computed else swarm_size(len(computed) + (1 if fixed else 0), factor, pow2)
    return ReusePlan(strategy, domains, fixed, computed, frozen, runs)


def map_runs(P: np.ndarray, domains: Sequence[str], update: Update) -> tuple[np.ndarray, np.ndarray]:
    """Swarm reuse: previous runs' mixtures P (K, m) over ``domains`` as mixtures over D', with 0 on the
    affected domains; a domain that is gone (removed, revised, partitioned) is dropped and the row
    renormalised. Returns the mapped rows and which rows were kept (a row with no weight left is not)."""
    new = update.apply(domains)
    index = {d: i for i, d in enumerate(domains)}
    P = np.asarray(P, dtype=float)
    Q = np.column_stack([P[:, index[d]] if d in index else np.zeros(len(P)) for d in new])
    totals = Q.sum(axis=1)
    keep = totals > 0
    return Q[keep] / totals[keep, None], keep


def restrict_law(law: Mapping, domains: Sequence[str]) -> dict:
    """A stage's domain law (``tasks``, ``domains``, ``t``) kept on ``domains`` (after a removal)."""
    index = [list(law["domains"]).index(d) for d in domains]
    return {
        "tasks": list(law["tasks"]),
        "domains": list(domains),
        "t": np.asarray(law["t"])[:, index].tolist(),
    }


def choose_partial(
    law: Mapping, update: Update, count: int, task_of: Mapping[str, str] | None = None
) -> tuple[tuple[str, ...], dict[str, float]]:
    """PartialMixtureReuse's recomputed domains: the ``count`` unaffected domains most coupled to the new
    ones in the previous stage's law ``law`` (``tasks``, ``domains``, ``t``). The coupling of domain j is
    sum_i |t_ij| over the tasks of the affected domains (a domain's task is itself, or what ``task_of`` names,
    e.g. a view's parent); over every task when none is one. Ties go to the earlier domain."""
    tasks, domains = list(law["tasks"]), list(law["domains"])
    t = np.abs(np.asarray(law["t"], dtype=float))
    kept = [d for d in update.apply(domains) if d in domains]
    if update.kind == "remove" or count <= 0 or not kept:
        return (), {}
    linked = {(task_of or {}).get(d, d) for d in update.affected} | set(update.domains)
    rows = [i for i, task in enumerate(tasks) if task in linked] or list(range(len(tasks)))
    score = {d: float(t[rows, domains.index(d)].sum()) for d in kept}
    ranked = sorted(kept, key=lambda d: (-score[d], kept.index(d)))
    return tuple(d for d in kept if d in ranked[:count]), score
