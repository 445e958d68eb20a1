"""The effective settings that differ from config.yaml's: what the workflow prints before any job.

A ``--configfile`` replaces config.yaml (it does not merge into it), so a key it leaves out takes the code's
default, not the demo's. :func:`differences` compares two configs with those defaults filled in (data, model,
train, pilots and each top-level method block typed; the rest as given), one dotted key per difference.

    python -m pipeline_lib.config.effective my-config.yaml     # every difference, not only the first ones
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pipeline_lib.config.load import top_method_config
from pipeline_lib.config.types import (
    ConfigError,
    DataConfig,
    PilotConfig,
    TrainConfig,
    build_dataclass,
    deep_merge,
)
from pipeline_lib.model.config import ModelConfig

_MISSING = object()
MAX_LINES = 20
"""The startup summary shows at most this many differences (then a count and this module's command)."""


def _plain(value: Any) -> Any:
    """JSON-comparable: tuples as lists, dataclasses as dicts."""
    return json.loads(
        json.dumps(value, default=lambda v: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else str(v))
    )


def effective(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the code's defaults filled in where it is typed (it was loaded once already, so
    nothing here should raise; a block that does is compared as given)."""
    out = dict(config)
    typed = {
        "data": lambda: DataConfig.from_dict(config.get("data") or {}),
        "model": lambda: ModelConfig.from_dict(config.get("model") or {}),
        "train": lambda: build_dataclass(TrainConfig, config.get("train"), "train"),
        "pilots": lambda: build_dataclass(PilotConfig, config.get("pilots"), "pilots"),
    }
    for key, build in typed.items():
        with contextlib.suppress(ConfigError, TypeError, ValueError):
            out[key] = build()
    methods = {}
    for name, raw in (config.get("methods") or {}).items():
        try:
            methods[name] = {
                k: v for k, v in top_method_config(config, name).to_dict().items() if k != "proportions"
            }
        except (ConfigError, TypeError, ValueError, KeyError):
            methods[name] = raw
    out["methods"] = methods
    return _plain(out)


def differences(ours: Any, base: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, ours, base)`` for every leaf that differs; a key on one side only is one entry
    (its value, or the missing marker, on the other side)."""
    if isinstance(ours, Mapping) and isinstance(base, Mapping):
        found = []
        for key in [*ours, *(k for k in base if k not in ours)]:
            where = f"{prefix}.{key}" if prefix else str(key)
            found += differences(ours.get(key, _MISSING), base.get(key, _MISSING), where)
        return found
    return [] if ours == base else [(prefix, ours, base)]


def _short(value: Any, width: int = 60) -> str:
    text = "(not set)" if value is _MISSING else json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 3] + "..."


def summary(
    config: Mapping[str, Any], default: Mapping[str, Any], files: Sequence[str], limit: int | None = MAX_LINES
) -> str:
    """The lines the workflow prints: each effective setting of ``config`` (from the config ``files``, or
    config.yaml with ``--config`` values when none) that differs from ``default``'s; '' when none does."""
    found = differences(effective(config), effective(default))
    if not found:
        return ""
    lines = [
        f"  {key}: {_short(ours)}  (config.yaml: {_short(base)})"
        for key, ours, base in found
        if ours is not _MISSING
    ]
    absent: dict[str, list[str]] = {}  # keys only config.yaml has, one line per parent
    for key, ours, _ in found:
        if ours is _MISSING:
            parent, _, leaf = key.rpartition(".")
            absent.setdefault(parent, []).append(leaf)
    lines += [
        f"  {parent or '(top level)'}: not set here: {', '.join(leaves)}" for parent, leaves in absent.items()
    ]
    shown = lines if limit is None else lines[:limit]
    if len(lines) > len(shown):
        every = shlex.join(["python", "-m", __name__, *files]) if files else f"python -m {__name__} CONFIG"
        shown.append(f"  ... and {len(lines) - len(shown)} more (every one: {every})")
    label = shlex.join(["--configfile", *files]) if files else "config.yaml with --config values"
    return "\n".join(
        [f"settings that differ from config.yaml ({label}; a key left out takes the code's default):", *shown]
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("configs", nargs="+", help="config files, later ones overlaid on earlier ones")
    ap.add_argument("--default", default="config.yaml", help="the config to compare with")
    args = ap.parse_args(argv)
    config: dict[str, Any] = {}
    for path in args.configs:
        config = deep_merge(config, yaml.safe_load(Path(path).read_text()) or {})
    default = yaml.safe_load(Path(args.default).read_text())
    print(summary(config, default, args.configs, limit=None) or "no setting differs from config.yaml")


if __name__ == "__main__":
    main()
