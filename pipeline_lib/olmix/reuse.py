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

from pipeline_lib.lmo.swarm import swarm_size

VIRTUAL = "existing"  # olmix's name for the virtual domain
KINDS = ("add", "remove", "revise", "partition")
STRATEGIES = ("full", "full_reuse", "partial_reuse", "swarm_reuse", "natural")


@dataclass(frozen=True)
class Update:
    """One change of the domain set. add: ``domains`` are new; remove: ``domains`` go; revise: each of
    ``domains`` is replaced by the matching name of ``into``; partition: ``domains[0]`` becomes ``into``."""

    kind: str
    domains: tuple[str, ...]
    into: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"update kind must be one of {KINDS}, got '{self.kind}'")
        if not self.domains:
            raise ValueError(f"a {self.kind} update needs domains")
        if self.kind == "revise" and len(self.into) != len(self.domains):
            raise ValueError("revise needs one new name in 'into' per revised domain")
        if self.kind == "partition" and (len(self.domains) != 1 or len(self.into) < 2):
            raise ValueError("partition splits one domain into >= 2 parts")

    def apply(self, domains: Sequence[str]) -> tuple[str, ...]:
        """D': revised and partitioned domains take their place; added ones come last."""
        unknown = sorted(set(self.domains) - set(domains)) if self.kind != "add" else []
        clash = sorted(set(self.domains if self.kind == "add" else self.into) & set(domains))
        if unknown or clash:
            raise ValueError(f"{self.kind}: unknown domain(s) {unknown} or existing name(s) {clash}")
        if self.kind == "add":
            return (*domains, *self.domains)
        if self.kind == "remove":
            return tuple(d for d in domains if d not in self.domains)
        swap = dict(zip(self.domains, self.into, strict=True)) if self.kind == "revise" else {}
        out: list[str] = []
        for d in domains:
            out += [swap[d]] if d in swap else list(self.into) if d in self.domains else [d]
        return tuple(out)

    @property
    def affected(self) -> tuple[str, ...]:
        """D'_2: the domains of D' with no previous ratio (added, revised, the parts)."""
        return () if self.kind == "remove" else self.domains if self.kind == "add" else self.into


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
