"""Complete run records for tests: a real final run's run.json (``tests/fixtures/records/``) with the fields a
test cares about replaced, so hand-made records stay readable by :class:`pipeline_lib.records.RunRecord`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline_lib.records import TestResult

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "records"


def fixture(name: str) -> dict[str, Any]:
    """A fixture file's parsed JSON (``run_final``, ``fit_dml``, ...)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def run_dict(
    groups: Sequence[str] = ("a", "b"),
    mixture: Sequence[float] | None = None,
    val_loss: Sequence[float] | None = None,
    test_loss: Sequence[float] | None = (1.0, 2.0),
    flops: float | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """run.json of a final run over ``groups`` (uniform mixture, validation losses 1; ``test_loss`` None: a
    learning run, no test pass; ``flops``: compute's), then ``overrides`` (top-level keys)."""
    record = fixture("run_final")
    n = len(groups)
    record["groups"] = list(groups)
    record["final_mixture"] = dict(zip(groups, mixture or [1 / n] * n, strict=True))
    record["val_loss"] = dict(zip(groups, val_loss or [1.0] * n, strict=True))
    record["data_sha256"] = {g: {s: f"{g}-{s}" for s in ("train", "val", "test")} for g in groups}
    for key in TestResult.KEYS:
        record.pop(key, None)
    if test_loss is not None:
        losses = [*test_loss, *[1.0] * n][:n]
        record |= {"test_loss": dict(zip(groups, losses, strict=True))}
        record |= {"test_ppl": {g: math.exp(v) for g, v in record["test_loss"].items()}}
        record |= {"avg_test_ppl": sum(record["test_ppl"].values()) / n, "exp_mean_test_loss": 1.0}
    if flops is not None:
        record["compute"] = {**record["compute"], "flops": flops}
    return record | overrides


def write_run(path: str | Path, **fields: Any) -> str:
    """Write :func:`run_dict` (``fields``: its arguments) to ``path`` (a run.json) and, when its directory
    has none, a one-row ``mixture.csv`` of its final mixture; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = run_dict(**fields)
    path.write_text(json.dumps(record))
    mixture = path.parent / "mixture.csv"
    if not mixture.exists():  # a static run's trace (one row), unless the test wrote its own
        groups = record["groups"]
        row = ",".join(repr(float(record["final_mixture"][g])) for g in groups)
        mixture.write_text(f"step,{','.join(groups)}\n0,{row}\n")
    return str(path)


def assert_records_read_back(results: Path) -> int:
    """Every run.json and fit file under a finished workflow's ``results`` reads back to its parsed JSON (the
    records' round trip); returns how many files were checked."""
    from pipeline_lib.records import RUN_FILE, FitRecord, RunRecord, SwarmFile

    runs = sorted(results.rglob(RUN_FILE))
    fits = sorted([*results.glob("**/fits/*/seed*.json"), *results.glob("reuse/stage*/*/seed*/fit.json")])
    swarms = [p for p in fits if p.parent.name == "olmix_swarm"] + sorted(results.glob("reuse/**/plan.json"))
    fits = [p for p in fits if p.parent.name not in ("olmix_swarm", "fidelity")]  # fidelity: a report's data
    for reader, paths in ((RunRecord.read, runs), (FitRecord.read, fits), (SwarmFile.read, swarms)):
        for path in paths:
            assert reader(path).to_dict() == json.loads(path.read_text()), path
    return len(runs) + len(fits) + len(swarms)
