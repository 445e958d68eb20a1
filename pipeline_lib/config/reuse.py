"""The mixture-reuse experiment's configuration (``reuse:``): a first domain set, a sequence of updates to it
(add, remove, revise, partition), and the strategies that get each stage's mixture (Olmix, section D).

Each stage is a view of the project, ``reuse/stage<t>``, whose groups are that stage's domains; the planner
(:mod:`pipeline_lib.plan`) turns the sequence into swarms, fits and target runs, and
:mod:`pipeline_lib.olmix.reuse` into each stage's plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline_lib.config.errors import ConfigError

KINDS = ("add", "remove", "revise", "partition")
STRATEGIES = ("natural", "full", "full_reuse", "partial_reuse", "swarm_reuse")
SHARED = "shared"
"""The first stage's swarm and fit, which every strategy but ``natural`` starts from."""
REUSE = "reuse"
"""The experiment's results directory and the name of its stage views (``reuse/stage<t>``)."""


@dataclass(frozen=True)
class Update:
    """One change of the domain set. add: ``domains`` are new; remove: ``domains`` go; revise: each of
    ``domains`` is replaced by the matching name of ``into``; partition: ``domains[0]`` becomes ``into``."""

    kind: str
    domains: tuple[str, ...]
    into: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "domains", tuple(self.domains))
        object.__setattr__(self, "into", tuple(self.into))
        if self.kind not in KINDS:
            raise ValueError(f"update kind must be one of {KINDS}, got '{self.kind}'")
        if not self.domains:
            raise ValueError(f"a {self.kind} update needs domains")
        if self.kind == "revise" and len(self.into) != len(self.domains):
            raise ValueError("revise needs one new name in 'into' per revised domain")
        if self.kind == "partition" and (len(self.domains) != 1 or len(self.into) < 2):
            raise ValueError("partition splits one domain into >= 2 parts")
        if self.kind in ("add", "remove") and self.into:
            raise ValueError(f"a {self.kind} update takes no 'into'")

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

    def describe(self) -> str:
        into = f" -> {', '.join(self.into)}" if self.into else ""
        return f"{self.kind} {', '.join(self.domains)}{into}"


@dataclass(frozen=True)
class ReuseConfig:
    """``reuse:``: the update sequence and how each strategy follows it."""

    start: tuple[str, ...]
    """Stage 0's domains (groups or views)."""
    updates: tuple[Update, ...]
    """Stage t's domains are stage t - 1's after ``updates[t - 1]``."""
    strategies: tuple[str, ...] = STRATEGIES
    """Which strategies to run (every one by default)."""
    partial: Mapping[int, tuple[str, ...]] | None = None
    """PartialMixtureReuse's recomputed unaffected domains per stage; None: chosen from the previous stage's
    law (the ``partial_count`` domains most coupled to the new ones)."""
    partial_count: int = 1
    """How many unaffected domains PartialMixtureReuse recomputes when it chooses them itself."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Each seed runs the whole sequence (its swarms, fits and target runs)."""
    pow2: bool = False
    """Round every swarm's K to a power of two (the paper's run counts)."""
    stages: tuple[tuple[str, ...], ...] = field(init=False)
    """The domains of each stage, derived."""

    def __post_init__(self) -> None:
        if self.partial_count < 0 or not self.seeds:
            raise ConfigError("reuse: partial_count must be >= 0 and seeds non-empty")
        stages = [tuple(self.start)]
        for t, update in enumerate(self.updates, start=1):
            try:
                stages.append(update.apply(stages[-1]))
            except ValueError as err:
                raise ConfigError(f"reuse.updates[{t - 1}] ({update.describe()}): {err}") from None
            if len(stages[-1]) < 2:
                raise ConfigError(f"reuse.updates[{t - 1}] leaves fewer than two domains")
        object.__setattr__(self, "stages", tuple(stages))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ReuseConfig:
        raw = dict(raw)
        updates = []
        for i, u in enumerate(raw.pop("updates", None) or ()):
            try:
                updates.append(
                    Update(u.get("kind"), tuple(u.get("domains") or ()), tuple(u.get("into") or ()))
                )
            except (ValueError, AttributeError) as err:
                raise ConfigError(f"reuse.updates[{i}]: {err}") from None
        if not updates:
            raise ConfigError("reuse.updates: give at least one update of the domain set")
        partial = raw.pop("partial", None)
        unknown = sorted(set(raw) - {"start", "strategies", "partial_count", "seeds", "pow2"})
        if unknown:
            raise ConfigError(f"reuse: unknown field(s) {unknown}")
        start = tuple(raw.pop("start", None) or ())
        if len(start) < 2 or len(set(start)) != len(start):
            raise ConfigError(f"reuse.start: give at least two distinct domains, got {list(start)}")
        strategies = tuple(raw.pop("strategies", None) or STRATEGIES)
        bad = sorted(set(strategies) - set(STRATEGIES))
        if bad:
            raise ConfigError(f"reuse.strategies: unknown {bad}; choose from {list(STRATEGIES)}")
        if partial is not None:
            partial = {int(t): tuple(v) for t, v in partial.items()}
        if "seeds" in raw:
            raw["seeds"] = tuple(raw["seeds"])
        return cls(start, tuple(updates), strategies, partial, **raw)

    def given_partial(self, stage: int, strategy: str) -> tuple[str, ...] | None:
        """The unaffected domains a link recomputes besides the new ones: none (every strategy but
        partial_reuse, and a removal), those ``partial`` names, or None: chosen from the previous law."""
        if strategy != "partial_reuse" or self.updates[stage - 1].kind == "remove":
            return ()
        return self.partial.get(stage, ()) if self.partial is not None else None

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    @property
    def final(self) -> int:
        return len(self.stages) - 1

    def chains(self, stage: int) -> tuple[str, ...]:
        """The directories a stage's results go to: the strategies, or at stage 0 ``shared`` (and
        ``natural``), since every other strategy starts from the same swarm."""
        if stage > 0:
            return self.strategies
        return tuple(dict.fromkeys(SHARED if s != "natural" else s for s in self.strategies))

    @staticmethod
    def chain(stage: int, strategy: str) -> str:
        """Where ``strategy``'s stage ``stage`` lives (stage 0: shared by all but natural)."""
        return SHARED if stage == 0 and strategy != "natural" else strategy

    def stage_key(self, stage: int) -> str:
        """The stage's view key (and results directory) ``reuse/stage<t>``."""
        return f"{REUSE}/stage{stage}"
