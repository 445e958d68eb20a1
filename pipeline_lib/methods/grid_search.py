"""Grid search (LMO: no law; the solver is the argmin over pilot runs).

The pilot with the lowest mean validation loss over groups wins. Unrestricted, the pilots are as long as the
final run, so the winner's run is the method's (``select``, no rerun); restricted, the pilots are shortened
and the final run trains on the winner's mixture (policy :class:`GridSearch`).

    python -m pipeline_lib.methods.grid_search fit --pilots .../mix*/run.json \\
        --out fits/grid_search/seed0.json
    python -m pipeline_lib.methods.grid_search select --fit fits/grid_search/seed0.json \\
        --out-dir results/<setting>/runs/grid_search/seed0
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline_lib.io import atomic_path
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.fitted import FittedStatic
from pipeline_lib.methods.pilots import PilotSet, load_pilots
from pipeline_lib.records import RUN_FILE, GridSearchFit, RunRecord

log = logging.getLogger(__name__)


class GridSearch(FittedStatic):
    """The final run on the mixture of the best (shortened) pilot."""

    fit_name = "grid_search"


def select(pilots: PilotSet) -> int:
    """Index of the pilot with the lowest average validation loss (first one on ties)."""
    return int(np.argmin(pilots.L.mean(axis=1)))


def fit_grid_search(pilots: PilotSet) -> GridSearchFit:
    """The fit record: the winning mixture, its run and every candidate."""
    best = select(pilots)
    log.info("grid search picked %s (p = %s)", pilots.paths[best], np.round(pilots.P[best], 3).tolist())
    return GridSearchFit(
        method="grid_search",
        groups=pilots.groups,
        proportions=tuple(pilots.P[best].tolist()),
        selected_run=pilots.paths[best],
        candidates=[
            {"run": path, "mixture": p.tolist(), "avg_val_loss": float(loss.mean())}
            for path, p, loss in zip(pilots.paths, pilots.P, pilots.L, strict=True)
        ],
        extra_runs=pilots.extra_runs,
    )


def copy_selected(fit_path: str | Path, out_dir: str | Path) -> None:
    """Make the selected pilot the method's run: its curve, mixture and record, with the fit's accounting."""
    fit = GridSearchFit.read(fit_path)
    src, out = Path(fit.selected_run).parent, Path(out_dir)
    for name in ("curve.csv", "mixture.csv"):
        with atomic_path(out / name) as tmp:
            shutil.copyfile(src / name, tmp)
    record = RunRecord.read(fit.selected_run)
    record.as_selected(fit.method, str(fit_path), fit.selected_run, fit.extra_runs).write(out / RUN_FILE)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="pick the best pilot")
    fit.add_argument("--pilots", nargs="+", required=True)
    fit.add_argument("--out", required=True)
    sel = sub.add_parser("select", help="copy the picked pilot into the method's run directory")
    sel.add_argument("--fit", required=True)
    sel.add_argument("--out-dir", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    if args.command == "fit":
        fit_grid_search(load_pilots(args.pilots)).write(args.out)
    else:
        copy_selected(args.fit, args.out_dir)


if __name__ == "__main__":
    main()
