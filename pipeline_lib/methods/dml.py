"""Data Mixing Laws (LMO: static log-linear law, fitted on pilot runs, minimised over the simplex).

Fit step: L_i(p) = c_i + b_i exp(-sum_j A_ij p_j) per group on the pilots' final validation losses, then
p* = argmin_p sum_i L_i(p); the final run trains on p* (policy :class:`Dml`).

    python -m pipeline_lib.methods.dml --pilots .../mix*/run.json --seed 0 --out fits/dml/seed0.json
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import numpy as np

from pipeline_lib.lmo import FitReport, LogLinearStaticLaw, minimize_static_law
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.fitted import FittedStatic
from pipeline_lib.methods.pilots import PilotSet, load_pilots
from pipeline_lib.records import DmlFit

log = logging.getLogger(__name__)


class Dml(FittedStatic):
    fit_name = "dml"


def fit_dml(pilots: PilotSet, seed: int = 0, n_starts: int = 8) -> DmlFit:
    """Fit the static law on the pilots, solve for its optimum; report in-sample and leave-one-out fit."""
    law = LogLinearStaticLaw.fit(pilots.P, pilots.L, seed=seed, n_starts=n_starts)
    p_star = minimize_static_law(law, seed=seed)
    n, m = pilots.P.shape
    loo = None  # leave-one-out needs m + 1 runs for each refit
    if n - 1 >= m + 1:
        preds = LogLinearStaticLaw.leave_one_out(
            pilots.P, pilots.L, seed=seed, n_starts=max(2, n_starts // 2)
        )
        loo = FitReport.from_predictions(pilots.L, preds).to_dict()
    predicted = {
        "predicted_losses": law.predict(p_star[None, :])[0].tolist(),
        "predicted_avg_loss": float(law.total(p_star) / len(pilots.groups)),
    }
    return DmlFit(
        method="dml",
        groups=pilots.groups,
        proportions=tuple(p_star.tolist()),
        law=law.to_dict(),
        fit=law.report(pilots.P, pilots.L).to_dict(),
        leave_one_out=loo,
        runs=[
            {"run": path, "mixture": p.tolist(), "val_loss": loss.tolist()}
            for path, p, loss in zip(pilots.paths, pilots.P, pilots.L, strict=True)
        ],
        extra_runs=pilots.extra_runs,
        details=predicted,
    )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pilots", nargs="+", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    fit = fit_dml(load_pilots(args.pilots), seed=args.seed)
    fit.write(args.out)
    log.info("DML optimum %s, fit R^2 %.3f", np.round(fit.proportions, 3).tolist(), fit.fit["r2_mean"])


if __name__ == "__main__":
    main()
