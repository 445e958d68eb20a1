"""Olmix's steps on the command line.

    python -m pipeline_lib.olmix fit --ratios ratios.csv --metrics metrics.csv [--priors priors.json] \\
        [--target-tokens R --repetitions 4] [--kl-weight 0.05] [--regressor gp --proposer simulation \\
        --settings '{"gp": {"n_restarts": 3}}'] --out DIR                         # any swarm, no training

The workflow's steps (rules/olmix.smk):

    python -m pipeline_lib.olmix priors --data-dir results/data --groups arxiv book --out priors.json
    python -m pipeline_lib.olmix swarm --priors priors.json --proxy-tokens N --seed 0 --config '<json>' \\
        --out fits/olmix_swarm/seed0.json
    python -m pipeline_lib.olmix fit-runs --runs pilots/swarm/seed0/run*/run.json --metric task_bpb \\
        --priors priors.json --target-tokens R --config '<json>' --method olmix \\
        --fit-out fits/olmix/seed0.json --out olmix/seed0

The mixture-reuse experiment (rules/reuse.smk), per stage, strategy and seed, then once:

    python -m pipeline_lib.olmix reuse-plan --experiment '<reuse json>' --stage 1 --strategy full_reuse \
        --seed 0 --priors reuse/stage1/priors.json --previous reuse/stage0/shared/seed0/fit.json ...
    python -m pipeline_lib.olmix reuse-fit ... --plan plan.json --runs swarm/run*/run.json --out fit.json
    python -m pipeline_lib.olmix reuse-table --fits reuse/stage*/*/seed*/fit.json \
        --targets reuse/targets/*/seed*/run.json --out reuse/report/reuse
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline_lib.config.methods import OlmixConfig
from pipeline_lib.io import read_json, write_json
from pipeline_lib.lmo import FitSettings, SwarmSettings
from pipeline_lib.lmo.swarm import draw_swarm
from pipeline_lib.logs import setup_logging
from pipeline_lib.olmix.propose import SolveSettings, Targets, Units, propose, write_outputs
from pipeline_lib.olmix.swarmio import Priors, Swarm, run_scores
from pipeline_lib.records import OlmixFit, ReuseFit, RunRecord, Spent, SwarmFile

log = logging.getLogger("pipeline_lib.olmix")


def olmix_config(cfg: dict, where: str = "--config") -> OlmixConfig:
    """The method config (``methods.olmix`` as JSON) typed and checked; a bad field raises naming it."""
    from pipeline_lib.config.methods import build_config

    return build_config(OlmixConfig, cfg, where)


def targets(cfg: OlmixConfig) -> Targets:
    """The config's task hooks: families, drops and objective weights."""
    return Targets(cfg.task_families, cfg.drop_metrics, cfg.obj_weights)


def units(cfg: OlmixConfig) -> Units:
    """The config's regressor and proposer; a unit's settings section is named as the unit (None: it has
    none, or log_linear's and exact's, which come from the fit's and solve's settings)."""
    return Units(
        cfg.regressor, cfg.proposer, getattr(cfg, cfg.regressor, None), getattr(cfg, cfg.proposer, None)
    )


@dataclass(frozen=True)
class Steps:
    """The method config as each step's settings."""

    swarm: SwarmSettings
    fit: FitSettings
    solve: SolveSettings
    units: Units
    targets: Targets
    metrics: tuple[str, ...]
    """The proxies' run.json metrics the laws fit (methods.olmix.objective's)."""


def _settings(cfg: dict, seed: int, target_tokens: int | None) -> Steps:
    """The method config (``methods.olmix``) as the swarm's, the fit's and the solve's settings, the
    regressor and proposer, the task hooks and the metrics its objective fits."""
    c = olmix_config(cfg)
    swarm = SwarmSettings(
        factor=c.swarm_factor, min_strength=c.min_strength, max_strength=c.max_strength,
        minimum_weight=c.minimum_weight, repetitions=c.swarm_repetitions,
    )  # fmt: skip
    fit = FitSettings(huber_delta=c.huber_delta, ridge=c.ridge, n_random=c.n_random, seed=seed)
    solve = SolveSettings(c.kl_weight, c.repetitions, target_tokens)
    return Steps(swarm, fit, solve, units(c), targets(c), c.metrics)


def cmd_swarm(args: argparse.Namespace) -> None:
    priors = Priors.read(args.priors)
    swarm_s = _settings(json.loads(args.config), args.seed, None).swarm
    size = swarm_s.size(len(priors.domains))
    cfg = olmix_config(json.loads(args.config))
    settings = swarm_s if cfg.sampling == "olmix" else cfg.regmix_sampling
    drawn = draw_swarm(
        cfg.sampling, priors.natural, priors.tokens, args.proxy_tokens, size, args.seed, settings
    )
    details = {"size": size, "seed": args.seed, "proxy_tokens": args.proxy_tokens, "priors": priors.to_dict()}
    details |= {"sampling": cfg.sampling, **drawn.details} if cfg.sampling != "olmix" else {}
    SwarmFile(priors.domains, drawn.mixtures.tolist(), details).write(args.out)
    log.info("%s swarm of %d mixtures over %s (seed %d)", cfg.sampling, size, list(priors.domains), args.seed)


def swarm_from_runs(paths: Sequence[str], metric: str | Sequence[str]) -> tuple[Swarm, Spent]:
    """The swarm's table from run.json files: final mixtures and, per task, ``metric`` (``task_bpb``,
    ``val_loss``, ``downstream_bpb``; several: their columns side by side, names kept apart), and what the
    runs cost (runs, tokens, FLOPs)."""
    records = [RunRecord.read(p) for p in paths]
    domains = records[0].groups
    tasks, Y = run_scores(records, [metric] if isinstance(metric, str) else metric)
    P = np.array([r.mixture(domains) for r in records])
    runs = tuple(f"{Path(p).parent.parent.name}/{Path(p).parent.name}" for p in paths)  # seed<n>/run<k>
    return Swarm(runs, domains, P, tasks, Y), Spent.of(records)


def cmd_fit_runs(args: argparse.Namespace) -> None:
    swarm, cost = swarm_from_runs(args.runs, args.metric)
    s = _settings(json.loads(args.config), args.seed, args.target_tokens)
    out = Path(args.out)
    swarm.write(out / "ratios.csv", out / "metrics.csv", names=args.runs)
    result = propose(swarm, Priors.read(args.priors), s.fit, s.solve, s.units, s.targets)
    write_outputs(result, swarm, out, method=args.method, metrics=args.metric)
    typed = ("proportions", "natural", "fit")
    OlmixFit(
        method=args.method, groups=tuple(result["domains"]), proportions=tuple(result["proportions"]),
        natural=result["natural"], fit=result["fit"], metric="+".join(args.metric), extra_runs=cost,
        details={k: v for k, v in result.items() if k not in typed},
    ).write(args.fit_out)  # fmt: skip
    _log_result(result)


def cmd_fit(args: argparse.Namespace) -> None:
    swarm = Swarm.read(args.ratios, args.metrics)
    priors = Priors.read(args.priors) if args.priors else None
    fit_s = FitSettings(
        huber_delta=args.huber_delta, ridge=args.ridge, n_random=args.n_random, seed=args.seed
    )
    solve_s = SolveSettings(args.kl_weight, args.repetitions, args.target_tokens)
    cfg = {"regressor": args.regressor, "proposer": args.proposer, **json.loads(args.settings)}
    c = olmix_config(cfg, "olmix fit")
    result = propose(swarm, priors, fit_s, solve_s, units(c), targets(c))
    write_outputs(result, swarm, args.out)
    write_json(Path(args.out) / "result.json", result)
    _log_result(result)


def _log_result(result: dict) -> None:
    avg = result["fit"]["correlations"]["average"]
    log.info(
        "Olmix mix %s (natural %s); average metric fit: train %s, leave-one-out %s",
        dict(zip(result["domains"], np.round(result["proportions"], 3).tolist(), strict=True)),
        np.round(result["natural"], 3).tolist(),
        avg["train"],
        avg["leave_one_out"],
    )


def cmd_reuse_plan(args: argparse.Namespace) -> None:
    from pipeline_lib.config.reuse import ReuseConfig
    from pipeline_lib.olmix.sequence import plan_step

    swarm_s = _settings(json.loads(args.config), args.seed, None).swarm
    previous = ReuseFit.read(args.previous) if args.previous else None
    plan = plan_step(
        ReuseConfig.from_dict(json.loads(args.experiment)), args.stage, args.strategy, args.seed,
        Priors.read(args.priors), previous, (args.new_runs, args.mapped_runs), swarm_s, args.proxy_tokens,
        json.loads(args.task_of),
    )  # fmt: skip
    write_json(args.out, plan)
    log.info("stage %d %s: %s; columns %s, %d new runs", args.stage, args.strategy, plan["update"],
             plan["columns"], plan["plan"]["runs"])  # fmt: skip


def cmd_reuse_fit(args: argparse.Namespace) -> None:
    from pipeline_lib.config.reuse import ReuseConfig
    from pipeline_lib.olmix.sequence import fit_step

    s = _settings(json.loads(args.config), args.seed, args.target_tokens)
    previous = ReuseFit.read(args.previous) if args.previous else None
    out_dir = Path(args.out).with_suffix("")
    fit = fit_step(
        ReuseConfig.from_dict(json.loads(args.experiment)), args.stage, args.strategy,
        Priors.read(args.priors), read_json(args.plan) if args.plan else None, previous,
        Path(args.previous).with_suffix("") if args.previous else None, args.runs, s.fit, s.solve, out_dir,
        s.targets, s.metrics,
    )  # fmt: skip
    dataclasses.replace(fit, seed=args.seed).write(args.out)
    mix = {g: round(p, 3) for g, p in fit.mixture.items()}
    log.info("stage %d %s seed %d: %s after %d runs in all", args.stage, args.strategy, args.seed, mix,
             fit.extra_runs.runs)  # fmt: skip


def cmd_reuse_table(args: argparse.Namespace) -> None:
    from pipeline_lib.olmix.reuse_report import write_reuse_report

    write_reuse_report(args.fits, args.targets, args.out)


def cmd_priors(args: argparse.Namespace) -> None:
    natural = json.loads(args.natural) if args.natural else None
    Priors.from_data(args.data_dir, args.groups, natural).write(args.out)


def cmd_table(args: argparse.Namespace) -> None:
    from pipeline_lib.olmix.report import write_olmix_table

    write_olmix_table(args.fits, args.out, args.title)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m pipeline_lib.olmix",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fit", help="fit and propose from ratios.csv + metrics.csv (no training)")
    p.add_argument("--ratios", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--priors", help="priors.json (tokens per domain; natural distribution); default: none")
    p.add_argument("--target-tokens", type=int, help="R: the target run's tokens (caps need it and --priors)")
    p.add_argument("--repetitions", type=float, default=4.0, help="k: epochs per domain in the target run")
    p.add_argument(
        "--kl-weight", type=float, default=0.05, help="lambda: pull toward the natural distribution"
    )
    p.add_argument("--huber-delta", type=float, default=0.02)
    p.add_argument("--ridge", type=float, default=0.0, help="relative ridge on t's spread (0: olmix's)")
    p.add_argument("--n-random", type=int, default=10, help="random starts per log-c start (Olmix: 30)")
    p.add_argument("--regressor", default="log_linear", help="the law per task (see pipeline_lib.olmix.fit)")
    p.add_argument("--proposer", default="exact", help="exact (needs log_linear), simulation or search")
    p.add_argument(
        "--settings", default="{}", help='JSON: more of methods.olmix, e.g. \'{"gp": {"n_restarts": 3}}\''
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=cmd_fit)
    p = sub.add_parser("priors", help="token counts and the natural distribution from packed data")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--groups", nargs="+", required=True)
    p.add_argument("--natural", help="JSON group -> weight: the natural distribution (default: token shares)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_priors)
    p = sub.add_parser("swarm", help="draw the proxy swarm")
    for name in ("--priors", "--config", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--proxy-tokens", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_swarm)
    p = sub.add_parser("fit-runs", help="fit and propose from the swarm's (or the pilots') run.json files")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument(
        "--metric", nargs="+", choices=("task_bpb", "val_loss", "downstream_bpb"), default=["task_bpb"],
        help="the run.json metric(s) whose columns the laws are fitted on (methods.olmix.objective)",
    )  # fmt: skip
    for name in ("--priors", "--config", "--method", "--fit-out", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--target-tokens", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_fit_runs)
    _reuse_parsers(sub)
    _design_parsers(sub)
    p = sub.add_parser("table", help="the proposed mixes beside natural and DML's, per seed")
    p.add_argument("--fits", nargs="+", required=True)
    p.add_argument("--title", default="Olmix")
    p.add_argument("--out", required=True, help="output path without suffix (.csv, .md, .tex, .html)")
    p.set_defaults(func=cmd_table)
    return ap


def cmd_design(args: argparse.Namespace) -> None:
    from pipeline_lib.config.design import DesignConfig
    from pipeline_lib.olmix.design import SwarmStudy, analyse, scarce_check, trained_mixtures
    from pipeline_lib.progress import PROGRESS_FILE

    study = SwarmStudy(
        args.setting, args.seed, olmix_config(json.loads(args.config)),
        DesignConfig.from_dict(json.loads(args.design)), args.target_tokens,
    )  # fmt: skip
    swarm, _ = swarm_from_runs(args.runs, study.cfg.metrics)
    priors, out = Priors.read(args.priors), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scores, proposals = analyse(study, swarm, priors, progress=out / PROGRESS_FILE)
    scores.to_csv(out / "scores.csv", index=False)
    proposals.to_csv(out / "proposals.csv", index=False)
    (out / "scarce.json").write_text(json.dumps(scarce_check(study, swarm, priors), indent=1, sort_keys=True))
    trained_mixtures(study, swarm, priors, proposals).write(out / "trained.json")
    log.info("%s seed %d: %d fits, %d proposals", args.setting, args.seed, len(scores), len(proposals))


def cmd_design_report(args: argparse.Namespace) -> None:
    import pandas as pd

    from pipeline_lib.olmix.design_report import read_trained, write_report

    scores = pd.concat([pd.read_csv(Path(d) / "scores.csv") for d in args.dirs], ignore_index=True)
    frames = [
        pd.read_csv(Path(d) / "proposals.csv")
        for d in args.dirs
        if (Path(d) / "proposals.csv").stat().st_size > 1
    ]
    proposals = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    scarce = [json.loads((Path(d) / "scarce.json").read_text()) for d in args.dirs]
    trained = read_trained(args.dirs, args.train_seeds)
    result = write_report(scores, proposals, scarce, args.threshold, args.out, trained)
    log.info("claims: %s", result["verdict"].tolist())


def _design_parsers(sub) -> None:
    """The design experiment's subcommands."""
    p = sub.add_parser("design", help="one swarm's resampled fits and proposals (design:)")
    p.add_argument("--runs", nargs="+", required=True)
    for name in ("--priors", "--config", "--design", "--setting", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--target-tokens", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_design)
    p = sub.add_parser("design-report", help="the design experiment's tables, figure and claims")
    p.add_argument("--dirs", nargs="+", required=True, help="each swarm's design directory")
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--train-seeds", type=int, nargs="*", default=[], help="the trained mixtures' seeds")
    p.add_argument("--out", required=True, help="the report directory")
    p.set_defaults(func=cmd_design_report)


def _reuse_parsers(sub) -> None:
    """The reuse experiment's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    for name in ("--experiment", "--strategy", "--priors", "--config", "--out"):
        common.add_argument(name, required=True)
    common.add_argument("--stage", type=int, required=True)
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--previous", help="the previous stage's fit.json (stage >= 1)")
    p = sub.add_parser("reuse-plan", parents=[common], help="a reuse stage's plan and swarm")
    p.add_argument("--new-runs", type=int, required=True)
    p.add_argument("--mapped-runs", type=int, default=0)
    p.add_argument("--proxy-tokens", type=int, required=True)
    p.add_argument("--task-of", default="{}", help="JSON domain -> its task (a view's parent)")
    p.set_defaults(func=cmd_reuse_plan)
    p = sub.add_parser("reuse-fit", parents=[common], help="a reuse stage's fit and mixture")
    p.add_argument("--plan", help="plan.json (every strategy but natural)")
    p.add_argument("--runs", nargs="*", default=[])
    p.add_argument("--target-tokens", type=int, required=True)
    p.set_defaults(func=cmd_reuse_fit)
    p = sub.add_parser("reuse-table", help="the reuse experiment's table, stage table and figure")
    p.add_argument("--fits", nargs="+", required=True)
    p.add_argument("--targets", nargs="+", required=True)
    p.add_argument("--out", required=True, help="output path without suffix")
    p.set_defaults(func=cmd_reuse_table)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    setup_logging()
    try:
        args.func(args)
    except ValueError as err:  # infeasible caps or swarm bounds, malformed CSVs: the message, no traceback
        raise SystemExit(f"olmix {args.command}: {err}") from None


if __name__ == "__main__":
    main()
