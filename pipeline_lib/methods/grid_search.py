"""Grid search (LMO: no law; the solver is the argmin over pilot runs).

The pilot with the lowest mean validation loss over groups wins; its run is the method's (no rerun).

    python -m pipeline_lib.methods.grid_search --pilots .../mix*/run.json --fit fits/grid_search/seed0.json \\
        --out-dir results/<setting>/runs/grid_search/seed0
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline_lib.io import atomic_path, write_json
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.pilots import PilotSet, load_pilots

log = logging.getLogger(__name__)


def select(pilots: PilotSet) -> int:
    """Index of the pilot with the lowest average validation loss (first one on ties)."""
    return int(np.argmin(pilots.L.mean(axis=1)))


def grid_search(pilots: PilotSet, fit_path: str | Path, out_dir: str | Path) -> dict:
    best = select(pilots)
    fit = {
        "method": "grid_search",
        "groups": list(pilots.groups),
        "proportions": pilots.P[best].tolist(),
        "selected_run": pilots.paths[best],
        "candidates": [
            {"run": path, "mixture": p.tolist(), "avg_val_loss": float(loss.mean())}
            for path, p, loss in zip(pilots.paths, pilots.P, pilots.L, strict=True)
        ],
        "extra_runs": pilots.extra_runs,
    }
    write_json(fit_path, fit)
    src, out = Path(pilots.paths[best]).parent, Path(out_dir)
    for name in ("curve.csv", "mixture.csv"):
        with atomic_path(out / name) as tmp:
            shutil.copyfile(src / name, tmp)
    record = dict(pilots.records[best])
    record.update(
        method="grid_search",
        extra_runs=pilots.extra_runs,
        method_summary={"fit_path": str(fit_path), "selected_run": pilots.paths[best]},
    )
    write_json(out / "run.json", record)
    log.info("grid search picked %s (p = %s)", pilots.paths[best], np.round(pilots.P[best], 3).tolist())
    return fit


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pilots", nargs="+", required=True)
    ap.add_argument("--fit", required=True)
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    grid_search(load_pilots(args.pilots), args.fit, args.out_dir)


if __name__ == "__main__":
    main()
