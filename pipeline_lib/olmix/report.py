"""Olmix's per-setting table: the proposed mixes beside natural and DML's, with the law's fit and its cost.

python -m pipeline_lib.olmix table --fits fits/{olmix,olmix_pilots,dml}/seed*.json --out tables/olmix
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipeline_lib.records import FitRecord, OlmixFit
from pipeline_lib.report.tables import write_formats


def _r(corr: dict | None, kind: str) -> float | None:
    return None if not corr or corr.get(kind) is None else corr[kind]["pearson"]


def mix_rows(paths: Sequence[str]) -> pd.DataFrame:
    """One row per (seed, mixture): natural (once per seed), each fit's proposal; the law's average-metric
    Pearson r in sample and leave-one-out (Olmix fits), and the learning runs and FLOPs spent."""
    rows, seen = [], set()
    for path in paths:
        fit = FitRecord.read(path)
        seed = int(path.rsplit("seed", 1)[1].split(".")[0])
        olmix = fit.as_type(OlmixFit) if fit.has(OlmixFit) else None  # DML's fit: no natural, no r
        if olmix is not None and seed not in seen:
            seen.add(seed)
            rows.append(
                {"seed": seed, "mixture": "natural", **dict(zip(fit.groups, olmix.natural, strict=True))}
            )
        avg = olmix.average_correlations if olmix is not None else None
        rows.append(
            {
                "seed": seed,
                "mixture": fit.method,
                **fit.mixture,
                "fit r": _r(avg, "train"),
                "LOO r": _r(avg, "leave_one_out"),
                "runs": fit.extra_runs.runs,
                "FLOPs": fit.extra_runs.flops,
            }
        )
    return pd.DataFrame(rows).set_index(["seed", "mixture"]).sort_index(level=0, sort_remaining=False)


def write_olmix_table(paths: Sequence[str], out: str, title: str) -> None:
    numbers = mix_rows(paths)
    shown = numbers.copy()
    shown["FLOPs"] = [f"{v:.2e}" if pd.notna(v) else "" for v in numbers["FLOPs"]]
    shown["runs"] = [f"{v:g}" if pd.notna(v) else "" for v in numbers["runs"]]
    note = (
        "Mixtures per seed: natural (the packed train tokens' shares, or methods.olmix.natural), Olmix's "
        "proposal from its swarm, olmix_pilots (the same law and solve on DML's pilots) and DML. fit r / "
        "LOO r: Pearson r of the task-average metric, in sample and leave-one-out. runs, FLOPs: the learning "
        "runs."
    )
    write_formats(out, numbers.reset_index(), shown, title, note)  # the CSV keeps seed and mixture
