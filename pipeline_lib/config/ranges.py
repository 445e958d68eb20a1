"""Declared ranges of numeric config fields, checked in one place.

A field states its range where it is declared, ``eta: float = ranged(0.2, gt=0)``; :func:`range_problems`
checks the declared ranges of a dataclass's values (``None`` always passes: a nullable field's "off"; each
entry of a tuple or each value of a dict is checked on its own). Cross-field rules stay code in the classes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RANGE = "range"  # the dataclass field metadata key of a Range


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


@dataclass(frozen=True)
class Range:
    """The allowed values of a number: above ``gt`` (or from ``ge``), below ``lt`` (or up to ``le``),
    finite; a missing bound is open-ended."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def __post_init__(self) -> None:
        if (self.gt is not None and self.ge is not None) or (self.lt is not None and self.le is not None):
            raise TypeError("a Range takes one lower bound (gt or ge) and one upper bound (lt or le)")
        if all(b is None for _, b in self._bounds()):
            raise TypeError("a Range needs a bound")

    def contains(self, value: float) -> bool:
        return (
            math.isfinite(value)
            and (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.lt is None or value < self.lt)
            and (self.le is None or value <= self.le)
        )

    def __str__(self) -> str:
        if (self.gt is not None or self.ge is not None) and (self.lt is not None or self.le is not None):
            low = f"({_num(self.gt)}" if self.gt is not None else f"[{_num(self.ge)}"
            high = f"{_num(self.lt)})" if self.lt is not None else f"{_num(self.le)}]"
            return f"in {low}, {high}"
        op, bound = next((op, b) for op, b in self._bounds() if b is not None)
        return f"{op} {_num(bound)}"

    def _bounds(self) -> tuple[tuple[str, float | None], ...]:
        return ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le))

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of range (a message without the field's name), or None."""
        if self.contains(value):
            return None
        return f"must be {'' if math.isfinite(value) else 'a finite number '}{self}, got {value!r}"


def ranged(default: Any, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
           le: float | None = None) -> Any:  # fmt: skip
    """A dataclass field with ``default`` whose values must lie in the given range (for a tuple or dict
    field: each entry)."""
    return dataclasses.field(default=default, metadata={RANGE: Range(gt=gt, ge=ge, lt=lt, le=le)})


def field_range(cls: type, name: str) -> Range | None:
    """The range declared on field ``name`` of dataclass ``cls``, if any."""
    return next((f.metadata.get(RANGE) for f in dataclasses.fields(cls) if f.name == name), None)


def range_problems(cls: type, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for every value given for a field of dataclass ``cls`` that lies outside the field's
    declared range; a tuple's entries are named ``field[i]``, a dict's ``field.key``."""
    out = []
    for f in dataclasses.fields(cls):
        rng, value = f.metadata.get(RANGE), values.get(f.name)
        if rng is None or value is None:
            continue
        if isinstance(value, Mapping):
            entries = [(f"{f.name}.{k}", v) for k, v in value.items()]
        elif isinstance(value, tuple | list):
            entries = [(f"{f.name}[{i}]", v) for i, v in enumerate(value)]
        else:
            entries = [(f.name, value)]
        out += [(name, msg) for name, v in entries if (msg := rng.problem(v)) is not None]
    return out


def instance_range_problems(obj: Any) -> list[tuple[str, str]]:
    """:func:`range_problems` of a dataclass instance's own values."""
    return range_problems(type(obj), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
