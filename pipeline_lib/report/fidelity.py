"""Law fidelity: how well the two LMO laws describe real loss-vs-mixture behaviour (Aioli, section 3).

Static: the log-linear law fitted on the pilot grid (in-sample and leave-one-out), read from the DML fit.
Dynamic: a parent run stopped at a break step, children resumed from it under each grid mixture for a few
steps; the linear law L_after = L_before - A p is fitted per group on (mixture, before, after).
Parameter similarity (the paper's measure): how well an online method's own A^t, at the round nearest the
break step, matches the fitted A*: sim = 0.5 cos(colsum A^t, colsum A*) + 0.5 Spearman(colsum A^t, colsum A*)
(scale-free, so the fitted scalar b^t of the paper drops out). Methods: Aioli (its A^t per round), Skill-It
(A^t = diag(L^t) G^T), and the DoReMi and DoGE proxies (the per-step scores their fits trace are the column
sums of their A^t: the clipped excess losses; the alignments <grad L^train_j, grad L^val>).

    python -m pipeline_lib.report.fidelity fit --static fits/dml/seed0.json --parent .../parent/run.json \\
        --children .../child*/run.json --out fits/fidelity/seed0.json
    python -m pipeline_lib.report.fidelity table --fits fits/fidelity/seed*.json --out tables/fidelity
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from pipeline_lib.io import read_json, write_json
from pipeline_lib.lmo import LinearDynamicLaw
from pipeline_lib.lmo.dynamic import skillit_A
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.pilots import load_pilots
from pipeline_lib.records import RUN_FILE, DmlFit, ProxyFit, RunRecord, Spent
from pipeline_lib.report.tables import write_formats

log = logging.getLogger(__name__)


def dynamic_fidelity(parent_path: str, child_paths: Sequence[str]) -> dict:
    """Fit the linear dynamic law on children resumed from one parent state."""
    parent = RunRecord.read(parent_path)
    children = load_pilots(child_paths)
    before = np.array([parent.val_losses(children.groups)] * len(child_paths))
    law = LinearDynamicLaw.fit(before, children.P, children.L)
    return {
        "break_step": parent.steps,
        "child_steps": children.records[0].steps - parent.steps,
        "A": law.to_dict(),
        "fit": law.report(before, children.P, children.L).to_dict(),
        "observations": {"P": children.P.tolist(), "before": before.tolist(), "after": children.L.tolist()},
        "extra_runs": Spent.of([parent, *children.records]).to_dict(),
    }


def similarity(colsum_method: np.ndarray, colsum_star: np.ndarray) -> float:
    """0.5 cos + 0.5 Spearman of two A matrices' column sums (1 = same ranking and direction)."""
    a, b = np.asarray(colsum_method, dtype=float), np.asarray(colsum_star, dtype=float)
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    rho = spearmanr(a, b).statistic if np.ptp(a) > 0 and np.ptp(b) > 0 else 0.0
    return 0.5 * cos + 0.5 * float(rho)


def read_online(path: str) -> RunRecord | ProxyFit:
    """An online run's record (a ``run.json``) or a proxy's fit (any other file)."""
    return RunRecord.read(path) if Path(path).name == RUN_FILE else ProxyFit.read(path)


def method_column_sums(record: RunRecord | ProxyFit, step: int) -> tuple[int, np.ndarray] | None:
    """(step, column sums of A^t) at the update nearest ``step`` of an online run (``run.json``: Aioli's
    rounds, Skill-It's trace) or a proxy fit (``fits/{doremi,doge}``: its score trace); None otherwise."""
    if isinstance(record, ProxyFit):
        trace = record.trace if record.trace and "scores" in record.trace[0] else []
        entries = [(t["step"], np.asarray(t["scores"])) for t in trace]
    elif (summary := record.method_summary).get("rounds"):  # the policies' own summaries
        entries = [(r["step"], np.asarray(r["A"]).sum(0)) for r in summary["rounds"]]
    elif "graph" in summary and summary.get("trace"):
        G = np.asarray(summary["graph"])
        entries = [(t["step"], skillit_A(G, t["loss_sum"]).sum(0)) for t in summary["trace"]]
    else:
        entries = []
    return min(entries, key=lambda e: abs(e[0] - step)) if entries else None


def fidelity(
    static_fit_path: str, parent_path: str, child_paths: Sequence[str], online: Sequence[str] = ()
) -> dict:
    static = DmlFit.read(static_fit_path)
    dynamic = dynamic_fidelity(parent_path, child_paths)
    colsum_star = np.asarray(dynamic["A"]["A"]).sum(0)
    sims = {}
    for path in online:
        record = read_online(path)
        found = method_column_sums(record, dynamic["break_step"])
        if found is not None:
            sims[record.method] = {"step": found[0], "similarity": similarity(found[1], colsum_star)}
    return {
        "groups": list(static.groups),
        "static": {"fit": static.fit, "leave_one_out": static.leave_one_out, "runs": len(static.runs)},
        "dynamic": dynamic,
        "similarity": sims,
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
                **{f"sim_{m}": v["similarity"] for m, v in fit.get("similarity", {}).items()},
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
    fit.add_argument(
        "--online", nargs="*", default=[], help="online runs and proxy fits whose A^t is compared with A*"
    )
    fit.add_argument("--out", required=True)
    table = sub.add_parser("table")
    table.add_argument("--fits", nargs="+", required=True)
    table.add_argument("--out", required=True, help="output path without suffix (.csv, .md, .tex)")
    args = ap.parse_args(argv)
    setup_logging()
    if args.cmd == "fit":
        result = {
            "setting": args.setting,
            "seed": args.seed,
            **fidelity(args.static, args.parent, args.children, args.online),
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
        note = "sim_<method>: parameter similarity of the method's A^t to the fitted A* (1 = same)."
        table = fidelity_table(fidelity_rows(args.fits))
        write_formats(args.out, table, table, title, note, floatfmt=".4g")


if __name__ == "__main__":
    main()
