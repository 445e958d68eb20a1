"""Export the mixture a final run answers with, in the formats training code reads.

The mixture is the run's final one, or, for a mixture that moved during the run (an online method's), its
time-average over the run (:func:`pipeline_lib.records.chosen_mixture`). Formats:

``plain``          ``{group: weight}``, JSON (or YAML when ``--out`` ends in .yaml / .yml)
``olmo-core``      YAML: ``source_configs``, a list of OLMo-core ``SourceMixtureConfig`` entries
                   (``source_name``, ``target_ratio``, ``paths``: placeholders from ``--paths``)
``megatron``       one line of Megatron-LM ``--data-path`` arguments, ``w1 prefix1 w2 prefix2 ...``
                   (prefixes from ``--prefix``)
``hf-interleave``  JSON ``{"groups": [...], "probabilities": [...]}``, for
                   ``datasets.interleave_datasets([ds[g] for g in groups], probabilities=probabilities)``

    python -m pipeline_lib.export --run results/as/runs/aioli/seed0/run.json --format olmo-core --out mix.yaml

Weights are written with every digit (``repr``): parsed back they equal the run's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import yaml

from pipeline_lib.io import atomic_open
from pipeline_lib.records import RunRecord, chosen_mixture

PREFIX = "{group}_text_document"
PATHS = "/path/to/{group}/*.npy"
SUM_TOLERANCE = 1e-9


class ExportError(ValueError):
    """A mixture that cannot be exported as asked (the message names the run and the fix)."""


def run_mixture(run_path: str | Path) -> dict[str, float]:
    """The mixture a final run answers with, group -> weight in the run's group order, checked to sum to 1."""
    mixture, _ = chosen_mixture(RunRecord.read(run_path))
    total = math.fsum(mixture.values())
    if abs(total - 1.0) > SUM_TOLERANCE or any(w < 0 for w in mixture.values()):
        raise ExportError(f"{run_path}: the mixture {mixture} is not a distribution (sum {total!r})")
    return mixture


def plain(mixture: Mapping[str, float], as_yaml: bool = False) -> str:
    if as_yaml:
        return yaml.safe_dump(dict(mixture), sort_keys=False)
    return json.dumps(dict(mixture), indent=2) + "\n"


def olmo_core(mixture: Mapping[str, float], paths: str = PATHS) -> str:
    """OLMo-core's ``SourceMixtureDatasetConfig.source_configs``: one source per group (fill in the paths)."""
    sources = [
        {"source_name": g, "target_ratio": w, "paths": [paths.format(group=g)]} for g, w in mixture.items()
    ]
    return yaml.safe_dump({"source_configs": sources}, sort_keys=False)


def megatron(mixture: Mapping[str, float], prefix: str = PREFIX) -> str:
    """Megatron-LM's blended ``--data-path``: ``w1 prefix1 w2 prefix2 ...`` (one line)."""
    return " ".join(f"{w!r} {prefix.format(group=g)}" for g, w in mixture.items()) + "\n"


def hf_interleave(mixture: Mapping[str, float]) -> str:
    """``datasets.interleave_datasets`` probabilities, in the order of ``groups``."""
    return json.dumps({"groups": list(mixture), "probabilities": list(mixture.values())}, indent=2) + "\n"


def render(mixture: Mapping[str, float], fmt: str, out: str | None, prefix: str, paths: str) -> str:
    """The text of ``mixture`` in format ``fmt`` (``out``'s suffix picks plain's JSON or YAML)."""
    writers: dict[str, Callable[[], str]] = {
        "plain": lambda: plain(mixture, as_yaml=bool(out) and Path(out).suffix in (".yaml", ".yml")),
        "olmo-core": lambda: olmo_core(mixture, paths),
        "megatron": lambda: megatron(mixture, prefix),
        "hf-interleave": lambda: hf_interleave(mixture),
    }
    return writers[fmt]()


FORMATS = ("plain", "olmo-core", "megatron", "hf-interleave")


def parse(text: str, fmt: str, prefix: str = PREFIX) -> dict[str, float]:
    """A written mixture read back, group -> weight (the inverse of :func:`render`; for checks and tests)."""
    if fmt == "plain":
        return {str(g): float(w) for g, w in yaml.safe_load(text).items()}  # YAML reads JSON too
    if fmt == "olmo-core":
        return {s["source_name"]: float(s["target_ratio"]) for s in yaml.safe_load(text)["source_configs"]}
    if fmt == "hf-interleave":
        data = json.loads(text)
        return dict(zip(data["groups"], map(float, data["probabilities"]), strict=True))
    words = text.split()
    head, tail = prefix.split("{group}")
    return {
        p.removeprefix(head).removesuffix(tail): float(w)
        for w, p in zip(words[::2], words[1::2], strict=True)
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--run", required=True, help="a final run's run.json (results/<setting>/runs/<m>/seed<n>/)"
    )
    ap.add_argument("--format", choices=FORMATS, default="plain")
    ap.add_argument(
        "--out", nargs="+", help="the file(s) to write, each in --format (default: standard output)"
    )
    ap.add_argument("--prefix", default=PREFIX, help=f"megatron: each group's data prefix (default {PREFIX})")
    ap.add_argument("--paths", default=PATHS, help=f"olmo-core: each group's paths (default {PATHS})")
    args = ap.parse_args(argv)
    for template, flag in ((args.prefix, "--prefix"), (args.paths, "--paths")):
        if template.count("{group}") != 1:
            ap.error(f"{flag} {template!r}: needs {{group}} exactly once, e.g. {PREFIX}")
    try:
        mixture = run_mixture(args.run)
        texts = {
            out: render(mixture, args.format, out, args.prefix, args.paths) for out in args.out or [None]
        }
    except (ExportError, OSError, ValueError) as err:
        sys.exit(f"export: {err}")
    for out, text in texts.items():
        if out is None:
            sys.stdout.write(text)
            continue
        with atomic_open(out, "w", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
