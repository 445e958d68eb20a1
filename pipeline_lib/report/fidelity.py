"""Law fidelity: how well the two LMO laws describe real loss-vs-mixture behaviour (Aioli, section 3).

Static: the log-linear law fitted on the pilot grid (in-sample and leave-one-out), read from the DML fit.
Dynamic: a parent run stopped at a break step, children resumed from it under each grid mixture for a few
steps; the linear law L_after = L_before - A p is fitted per group on (mixture, before, after).

    python -m pipeline_lib.report.fidelity fit --static fits/dml/seed0.json --parent .../parent/run.json \\
        --children .../child*/run.json --out fits/fidelity/seed0.json
    python -m pipeline_lib.report.fidelity table --fits fits/fidelity/seed*.json --csv t.csv --md t.md
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline_lib.io import read_json, write_json
from pipeline_lib.lmo import LinearDynamicLaw
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.pilots import load_pilots
from pipeline_lib.report.tables import write_table

log = logging.getLogger(__name__)


def dynamic_fidelity(parent_path: str, child_paths: Sequence[str]) -> dict:
    """Fit the linear dynamic law on children resumed from one parent state."""
    parent = read_json(parent_path)
    children = load_pilots(child_paths)
    before = np.array([[parent["val_loss"][g] for g in children.groups]] * len(child_paths))
    law = LinearDynamicLaw.fit(before, children.P, children.L)
    return {
        "break_step": parent["steps"],
        "child_steps": int(children.records[0]["steps"]) - int(parent["steps"]),
        "A": law.to_dict(),
        "fit": law.report(before, children.P, children.L).to_dict(),
        "extra_runs": {"runs": 1 + len(child_paths), "tokens": parent["tokens_trained"] + children.tokens},
    }


def fidelity(static_fit_path: str, parent_path: str, child_paths: Sequence[str]) -> dict:
    static = read_json(static_fit_path)
    return {
        "groups": static["groups"],
        "static": {
            "fit": static["fit"],
            "leave_one_out": static["leave_one_out"],
            "runs": len(static["runs"]),
        },
        "dynamic": dynamic_fidelity(parent_path, child_paths),
    }


def fidelity_rows(paths: Sequence[str]) -> pd.DataFrame:
    rows = []
    for path in paths:
        fit = read_json(path)
        rows.append(
            {
                "setting": fit["setting"],
                "seed": fit["seed"],
                "static_r2": fit["static"]["fit"]["r2_mean"],
                "static_mse": fit["static"]["fit"]["mse_mean"],
                "static_loo_r2": (fit["static"]["leave_one_out"] or {}).get("r2_mean", float("nan")),
                "static_loo_mse": (fit["static"]["leave_one_out"] or {}).get("mse_mean", float("nan")),
                "dynamic_r2": fit["dynamic"]["fit"]["r2_mean"],
                "dynamic_mse": fit["dynamic"]["fit"]["mse_mean"],
            }
        )
    return pd.DataFrame(rows)


def fidelity_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per setting (one row per setting)."""
    table = rows.drop(columns="seed").groupby("setting", sort=False).mean()
    table["seeds"] = rows.groupby("setting", sort=False)["seed"].nunique()
    return table


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    fit = sub.add_parser("fit")
    fit.add_argument("--static", required=True)
    fit.add_argument("--parent", required=True)
    fit.add_argument("--children", nargs="+", required=True)
    fit.add_argument("--setting", required=True)
    fit.add_argument("--seed", type=int, required=True)
    fit.add_argument("--out", required=True)
    table = sub.add_parser("table")
    table.add_argument("--fits", nargs="+", required=True)
    table.add_argument("--csv", required=True)
    table.add_argument("--md", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    if args.cmd == "fit":
        result = {
            "setting": args.setting,
            "seed": args.seed,
            **fidelity(args.static, args.parent, args.children),
        }
        write_json(args.out, result)
        log.info(
            "static R^2 %.3f, dynamic R^2 %.3f",
            result["static"]["fit"]["r2_mean"],
            result["dynamic"]["fit"]["r2_mean"],
        )
    else:
        title = (
            "Law fidelity: R^2 and MSE of the static (log-linear) and dynamic (linear) laws, mean over seeds"
        )
        write_table(fidelity_table(fidelity_rows(args.fits)), args.csv, args.md, title, floatfmt=".4g")


if __name__ == "__main__":
    main()
