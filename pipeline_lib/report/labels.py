"""What the tables print: readable setting names, mixtures, FLOPs, counts and relative gaps.

A setting is named by its groups ("ArXiv/StackExchange"); one of more than :data:`MAX_NAMED` groups by its
key and group count ("all7: 7 groups"). Two settings that would share a name keep their keys beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pipeline_lib.config import RESTRICTED

GROUP_NAMES = {
    "arxiv": "ArXiv",
    "book": "Books",
    "c4": "C4",
    "cc": "CommonCrawl",
    "commoncrawl": "CommonCrawl",
    "github": "GitHub",
    "stackexchange": "StackExchange",
    "wikipedia": "Wikipedia",
    "manpages": "Manpages",
    "dictionary": "Dictionary",
}
"""The papers' spelling of the SlimPajama groups and the shipped corpus's; other groups keep their names."""
MAX_NAMED = 4
ONE_SEED_NOTE = "No interval with one seed: Δ is that seed's difference, and no verdict is given."


def group_name(group: str) -> str:
    return GROUP_NAMES.get(group.lower(), group)


def setting_name(setting: str, groups: Sequence[str]) -> str:
    """ "ArXiv/StackExchange" (its groups), "all7: 7 groups" (many); a restricted view adds ", restricted"."""
    base, _, view = setting.partition("/")
    name = "/".join(map(group_name, groups)) if len(groups) <= MAX_NAMED else f"{base}: {len(groups)} groups"
    return f"{name}, {view}" if view == RESTRICTED else name


def setting_names(groups: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """setting -> its readable name; a name two settings would share gets the key: "ArXiv/Books (ab)"."""
    names = {s: setting_name(s, g) for s, g in groups.items()}
    shared = {n for n in names.values() if list(names.values()).count(n) > 1}
    return {s: f"{n} ({s})" if n in shared else n for s, n in names.items()}


def mixture_cell(mixture: Mapping[str, float], groups: Sequence[str]) -> str:
    """ "0.450 / 0.550": the weights in the order of ``groups`` (blank when the mixture is unknown)."""
    values = [mixture.get(g, math.nan) for g in groups]
    return "" if any(math.isnan(v) for v in values) else " / ".join(f"{v:.3f}" for v in values)


def flops(value: float) -> str:
    """Scientific notation with three significant digits: 6.68e11 (not 667680768000.000 or 6.68e+11)."""
    if not math.isfinite(value):
        return ""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def count(value: float) -> str:
    """A count as an integer ("9", not "9.000"); a mean over seeds that is not whole keeps one decimal."""
    if not math.isfinite(value):
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def percent(value: float, signed: bool = True) -> str:
    """ "+2.21%" (blank when unknown)."""
    if not math.isfinite(value):
        return ""
    return (f"{value:+.2f}%" if signed else f"{value:.2f}%").replace("-", "−")
