"""The GPU study: stratified, Aioli and an offline method on paired seeds in one short GPU window.

    bash bench/gpu_study.sh                                  # one H100/H200: <= 6 minutes of wall time
    python bench/gpu_study.py --quick --out /tmp/study.json  # CPU: tiny and short, < 60 s on 2 cores

Every run goes through the project's own trainer (``pipeline_lib.train.run.train_run``), policies
(``pipeline_lib.methods.make_policy``, via the run's spec), offline fit (``fit_grid_search`` or ``fit_dml``
on the pilots' run.json files) and paired t-interval (``pipeline_lib.report.stats.paired_diff``); nothing
here trains or mixes by itself. Needs torch, numpy, scipy, tokenizers, pandas and this checkout; no
Snakemake, no network.

Plan (defaults; ``--quick`` shrinks every number):
1. data: the demo's A/SE data (data/sample, config.yaml's split, BPE 2048 trained on all seven groups)
   packed by the project's own steps: arxiv 699k / stackexchange 242k training tokens.
2. pilots: the offline method's grid, p_arxiv = 0.1 .. 0.9 (the project's m = 2 grid), static runs on their
   own seed (1000), as long as a final run (the paper's unrestricted pilots); then the fit.
3. seeds 0 .. 47: stratified, Aioli and the offline method's final run, seed by seed. Within a seed the runs
   share the initial weights and each group's chunk order (the trainer's seeding), so the per-seed
   difference to stratified measures the mixture.
4. per method: the paired differences of the average test perplexity to stratified's (in ppl and in % of
   stratified's), their mean and 95% t-interval, the paired sd and the seeds it needs for +-1%.

Design: why it resolves ~1%.
- Scale: the tiny model (2 x 128, context 128, 0.66M parameters with the 2048 vocabulary) at batch 32 for
  240 steps: 983k tokens a run, ~1.05 passes over the two groups (stratified reads stackexchange ~2x), 4.3
  MFLOP a token (6N + attention), 4.3 TFLOP a run. The corpus caps the scale: a larger batch or more steps
  would mostly repeat stackexchange; seeds, not tokens, buy the resolution.
- Noise: at the CPU demo scale (tiny, batch 12, 100 steps) the paired sd of a method's difference to
  stratified is ~2.4% of stratified's perplexity (review-2026-11.md section 2: data order varied, unpaired
  sd 1.9% at batch 12, 1.7% at batch 24); it falls with a larger batch and a longer run, so 2.4% bounds it
  here (2.7x the batch, 2.4x the steps; the study reports the sd it gets). A 95% half-width of at most 1%
  needs t(n-1) sd / sqrt(n) <= 1%: n = 25 seeds at 2.4%, 12 at 1.5%. 48 seeds give +-0.70% at 2.4%
  (+-0.44% at 1.5%), +-1% up to a paired sd of 3.4%, and still +-1% at 2.4% if the budget guard (below)
  cuts the last third of the seeds (32 seeds: +-0.87%); and 48 is the n for 80% power to detect a true 1%
  difference at 2.4% (two-sided, 5%).
- Time per run: the step of a model this small is launch-bound, not FLOP-bound: the 160M shape (8 x 2048,
  bf16) runs at ~234k tokens/s through HF GPTNeoX with SDPA (~230 TFLOP/s) and ~428k with a compiled
  minimal GPT, at which a tiny run's 4.3 TFLOP would take 10-20 ms; instead the trainer's tiny step dispatches
  ~590 ops (profiled on CPU; fused AdamW on CUDA has fewer), ~3 ms on an H100 (the tiny model's measured
  eager rate, 379k tokens/s, ecosystem.md section 4, is 2.7 ms a step at TrainConfig's default 8 x 128
  tokens, launch-bound: the same few ms at batch 32). So a
  stratified run is 240 x ~3 ms + 7 evaluations of the whole validation split and one test pass (~0.1 s) +
  set-up (~0.2 s): ~1-1.5 s; Aioli adds 27 evaluations (LearnParams): ~1.5-2 s.
- Concurrency: 8 worker processes (1 CPU thread each) train runs side by side on the one GPU: each is
  bound by its own CPU dispatch, which processes run in parallel, while the GPU is mostly idle. Expected
  2-6x one process's rate (time-slicing without MPS; the study reports the rate it got).
- Budget: 9 pilots + 3 x 48 final runs = 153 runs; at 1.5 s a run that is 230 s in one process, 40-115 s
  with 8; plus start-up (imports, CUDA contexts of 8 workers, ~20 s) and data (~10 s): 1-4 minutes. A guard
  keeps it inside 6: no run starts after ``--budget-s`` (300 s from the start) and the seeds go in order,
  so a cut leaves complete pairs and the intervals count only them.

Writes one JSON (``--out``) and a markdown table beside it (same name, ``.md``), and prints the table.
"""

from __future__ import annotations

import time

T0 = time.time()  # the budget counts from the start, imports included

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO)]  # runs from a checkout, installed or not

GROUPS = ("arxiv", "stackexchange")
BASELINE = "stratified"
OFFLINE = ("grid_search", "dml")
PILOT_SEED = 1000  # pilots on their own seed: the offline fit never sees a final run's seed

FULL: dict[str, Any] = {
    "preset": "tiny",
    "vocab": 2048,
    "train": {
        "steps": 240, "batch_size": 32, "lr": 2.0e-3, "init_lr": 1.0e-7, "min_lr": 2.0e-4,
        "warmup_steps": 24, "weight_decay": 0.01, "grad_clip": 1.0, "eval_every": 40,
        "val_sequences": 256, "eval_batch_size": 128, "precision": "bf16", "sync_every": 50,
        "pin_memory": True,
    },
    # The review's direction for a resolvable LearnParams signal: the whole validation split, k = 4, s = 2,
    # epsilon_1 0.875, the first LearnParams after the warm-up; rounds of 80 steps (at 24, 104, 184).
    "aioli": {"lp_rounds": 4, "lp_steps": 2, "update_steps": 80, "eta": 0.2, "ema": 0.1,
              "one_hot_factor": 0.875, "lp_after_warmup": True},
    "grid": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],  # p_arxiv: the project's m = 2 grid
    "seeds": 48,
    "workers": 8,
    "budget_s": 300.0,
}  # fmt: skip
QUICK: dict[str, Any] = {
    "preset": "tiny",
    "vocab": 2048,
    "train": {
        "steps": 12, "batch_size": 4, "lr": 2.0e-3, "init_lr": 1.0e-7, "min_lr": 2.0e-4,
        "warmup_steps": 2, "weight_decay": 0.01, "grad_clip": 1.0, "eval_every": 6,
        "val_sequences": 8, "eval_batch_size": 64, "precision": "fp32",
    },
    "aioli": {"lp_rounds": 1, "lp_steps": 1, "update_steps": 6, "eta": 0.2, "ema": 0.1,
              "one_hot_factor": 0.875, "lp_after_warmup": True},
    "grid": [0.25, 0.4, 0.7],  # no uniform point: grid search always differs from stratified here
    "max_docs": 60,  # the first 60 documents of each group: small splits, a short test evaluation
    "seeds": 2,
    "workers": 2,
    "budget_s": 240.0,
}  # fmt: skip


# -- the plan -----------------------------------------------------------------------------------------------
def design(args: argparse.Namespace) -> dict[str, Any]:
    """The study's numbers: ``FULL`` (or ``QUICK``) with the command line's overrides."""
    plan = json.loads(json.dumps(QUICK if args.quick else FULL))
    for key in ("seeds", "workers", "budget_s"):
        if getattr(args, key) is not None:
            plan[key] = getattr(args, key)
    plan["train"]["device"] = args.device
    if not args.device.startswith("cuda"):
        plan["train"].update(precision="fp32", pin_memory=False)
    plan["offline"] = list(args.offline)
    plan["methods"] = [BASELINE, "aioli", *args.offline]
    plan["groups"] = list(GROUPS)
    plan["pilot_seed"] = PILOT_SEED
    t = plan["train"]
    plan["tokens_per_run"] = t["steps"] * t["batch_size"] * model_config(plan).context
    plan["runs_planned"] = len(plan["grid"]) * bool(args.offline) + len(plan["methods"]) * plan["seeds"]
    return plan


def model_config(plan: dict[str, Any]) -> Any:
    from pipeline_lib.model import ModelConfig

    return ModelConfig.from_dict({"preset": plan["preset"], "vocab_size": plan["vocab"]})


def run_spec(plan: dict[str, Any], method: str, params: dict[str, Any], seed: int) -> Any:
    from pipeline_lib.config import RunSpec, TrainConfig

    return RunSpec(
        "gpu-study", GROUPS, method, params, seed, model_config(plan), TrainConfig(**plan["train"])
    )


def method_params(plan: dict[str, Any], method: str) -> dict[str, Any]:
    return dict(plan["aioli"]) if method == "aioli" else {}


def job(plan: dict, work: Path, method: str, params: dict, seed: int, name: str, fit: str | None) -> dict:
    """One run for a worker: spec, data, output folder, fit file, and the time after which it is skipped."""
    return {
        "method": method, "seed": seed, "name": name, "fit": fit,
        "spec": run_spec(plan, method, params, seed).to_dict(), "data_dir": str(work / "data"),
        "out_dir": str(work / "runs" / name), "deadline": T0 + plan["budget_s"],
    }  # fmt: skip


# -- the workers -------------------------------------------------------------------------------------------
def init_worker() -> None:
    """One CPU thread a process, quiet progress bars and logs."""
    os.environ["TQDM_DISABLE"] = "1"
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)


def run_job(task: dict) -> dict:
    """Train one run through ``train_run``; its facts, or why it was skipped or failed."""
    key = {k: task[k] for k in ("method", "seed", "name")}
    if time.time() > task["deadline"]:
        return {**key, "status": "skipped", "why": "the study's budget was spent before it started"}
    from pipeline_lib.config import RunSpec
    from pipeline_lib.methods import RunInputs
    from pipeline_lib.train.run import train_run

    t0 = time.perf_counter()
    try:
        spec = RunSpec.from_dict(task["spec"])
        record = train_run(spec, task["data_dir"], task["out_dir"], inputs=RunInputs(fit=task["fit"]))
    except Exception as err:  # a failed run is a result of the study
        return {**key, "status": "failed", "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc()[-1500:]}  # fmt: skip
    test = record.test
    if test is None or test.avg_ppl is None:  # an overflowing test perplexity: no number to pair
        return {**key, "status": "failed", "error": (test and test.overflow) or "no test perplexity"}
    compute = record.compute
    return {
        **key, "status": "ok", "avg_test_ppl": test.avg_ppl,
        "mean_test_loss": sum(test.loss.values()) / len(test.loss),
        "test_loss": dict(test.loss), "val_loss": dict(record.val_loss),
        "final_mixture": dict(record.final_mixture), "run_json": str(Path(task["out_dir"]) / "run.json"),
        "wall_s": compute.wall_time_s, "train_s": compute.train_time_s,
        "eval_s": compute.eval_time_s, "tokens": record.trained_tokens,
        "process_s": time.perf_counter() - t0,
    }  # fmt: skip


def run_all(pool: ProcessPoolExecutor, tasks: list[dict], log: list[str]) -> list[dict]:
    """Submit in order (the pool starts them in that order); results in the same order."""
    worker = importlib.import_module("gpu_study")  # by module name: picklable from any __main__
    futures = {pool.submit(worker.run_job, t): i for i, t in enumerate(tasks)}
    out: list[dict] = [{}] * len(tasks)
    for future in as_completed(futures):
        task = tasks[futures[future]]
        try:
            r = future.result()
        except Exception as err:  # a worker that died (a broken pool): the run failed, the rest is kept
            r = {k: task[k] for k in ("method", "seed", "name")}
            r.update(status="failed", error=f"{type(err).__name__}: {err}")
        out[futures[future]] = r
        detail = f"ppl {r['avg_test_ppl']:.3f}, {r['wall_s']:.1f} s" if r["status"] == "ok" else r["status"]
        line = f"[gpu_study] {time.time() - T0:6.1f} s  {r['name']}: {detail}"
        log.append(line)
        print(line, flush=True)
    return out


# -- pilots and the offline fit -----------------------------------------------------------------------------
def fit_offline(method: str, pilots: list[dict], out: Path) -> dict[str, Any]:
    """The offline step of ``method`` on the pilots that finished: its fit file (the final runs read it)."""
    from pipeline_lib.methods.pilots import load_pilots

    paths = [p["run_json"] for p in pilots if p.get("status") == "ok"]
    if len(paths) < 2:
        raise RuntimeError(f"{method}: {len(paths)} pilot(s) finished; the fit needs at least 2")
    if method == "grid_search":
        from pipeline_lib.methods.grid_search import fit_grid_search

        fit = fit_grid_search(load_pilots(paths))
    else:
        from pipeline_lib.methods.dml import fit_dml

        fit = fit_dml(load_pilots(paths), seed=PILOT_SEED)
    fit.write(out)
    return {"fit": str(out), "proportions": list(fit.proportions), "pilots": len(paths)}


def pilot_tasks(plan: dict[str, Any], work: Path) -> list[dict]:
    return [
        job(
            plan,
            work,
            "static",
            {"proportions": [p, round(1.0 - p, 10)]},
            PILOT_SEED,
            f"pilot_p{p:.2f}",
            None,
        )
        for p in plan["grid"]
    ]


def final_tasks(plan: dict[str, Any], work: Path, fits: dict[str, dict]) -> list[dict]:
    """Seed by seed, every method with a fit (a cut of the budget leaves whole seeds)."""
    methods = [m for m in plan["methods"] if m not in OFFLINE or m in fits]
    return [
        job(plan, work, m, method_params(plan, m), s, f"{m}_seed{s}", fits.get(m, {}).get("fit"))
        for s in range(plan["seeds"])
        for m in methods
    ]


# -- statistics ---------------------------------------------------------------------------------------------
def interval(diff: Any) -> dict[str, Any]:
    """A :class:`PairedDiff` as JSON."""
    return {"mean": diff.mean, "half_width": diff.half_width, "lo": diff.lo, "hi": diff.hi, "n": diff.n,
            "verdict": diff.verdict, "label": diff.label()}  # fmt: skip


def compare(runs: dict[str, dict[int, dict]], method: str, baseline: str = BASELINE) -> dict[str, Any]:
    """``method`` against ``baseline`` over the seeds where both finished: per-seed differences of the
    average test perplexity (ppl, % of the baseline's) and of the mean test loss, their paired t-intervals
    (``paired_diff``), the paired sd in % and the seeds it needs for a 95% half-width of 1%."""
    from power import seeds_needed

    from pipeline_lib.report.stats import paired_diff

    done = {m: {s for s, r in runs.get(m, {}).items() if r.get("status") == "ok"} for m in (method, baseline)}
    seeds = sorted(done[method] & done[baseline])
    pairs = [(runs[method][s], runs[baseline][s]) for s in seeds]
    d_ppl = [m["avg_test_ppl"] - b["avg_test_ppl"] for m, b in pairs]
    d_pct = [100.0 * (m["avg_test_ppl"] - b["avg_test_ppl"]) / b["avg_test_ppl"] for m, b in pairs]
    d_loss = [m["mean_test_loss"] - b["mean_test_loss"] for m, b in pairs]
    sd = statistics.stdev(d_pct) if len(d_pct) >= 2 else None
    return {
        "baseline": baseline, "seeds": seeds, "n": len(seeds),
        "diff_ppl": d_ppl, "diff_pct": d_pct, "diff_mean_test_loss": d_loss,
        "ppl": interval(paired_diff(d_ppl)), "pct": interval(paired_diff(d_pct)),
        "mean_test_loss": interval(paired_diff(d_loss)),
        "paired_sd_pct": sd, "seeds_for_1pct": seeds_needed(sd, 1.0) if sd else None,
    }  # fmt: skip


def summarise(plan: dict[str, Any], finals: list[dict]) -> tuple[dict, dict]:
    """The runs by method and seed, and each method's comparison with stratified."""
    runs: dict[str, dict[int, dict]] = {m: {} for m in plan["methods"]}
    for r in finals:
        runs[r["method"]][r["seed"]] = r
    comparisons = {m: compare(runs, m) for m in plan["methods"] if m != BASELINE}
    return runs, comparisons


# -- report -------------------------------------------------------------------------------------------------
def _num(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def table(summary: dict[str, Any]) -> str:
    """The markdown report: one row per method, the design and timing lines under it."""
    plan, runs, comps = summary["design"], summary["runs"], summary["comparisons"]
    lines = [
        f"GPU study on {summary.get('gpu') or summary['device']}: {plan['preset']} model, batch "
        f"{plan['train']['batch_size']} x {plan['train']['steps']} steps ({plan['tokens_per_run']:,} "
        f"tokens a run), {plan['seeds']} seeds planned, {summary['wall_s']:.0f} s",
        "",
        "| method | seeds | avg test ppl | vs stratified: ppl [95% CI] | % [95% CI] | paired sd % "
        "| seeds for ±1% | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method in plan["methods"]:
        done = [r for r in runs.get(method, {}).values() if r.get("status") == "ok"]
        mean = statistics.fmean(r["avg_test_ppl"] for r in done) if done else None
        if method == BASELINE:
            lines.append(f"| {method} | {len(done)} | {_num(mean)} | - | - | - | - | baseline |")
            continue
        c = comps[method]
        lines.append(
            f"| {method} | {c['n']} | {_num(mean)} | {c['ppl']['label']} | {c['pct']['label']} | "
            f"{_num(c['paired_sd_pct'], '.2f')} | {c['seeds_for_1pct'] or '-'} | {c['pct']['verdict']} |"
        )
    lines.append("")
    for method, fit in summary["pilots"].get("fits", {}).items():
        p = fit.get("proportions")
        lines.append(
            f"- {method} fit on {fit.get('pilots', 0)} pilots: p = {[round(x, 3) for x in p] if p else fit}"
        )
    t = summary["timing"]
    lines.append(
        f"- runs: {t['runs_ok']} finished, {t['runs_skipped']} skipped (budget), {t['runs_failed']} failed; "
        f"median wall a run {_num(t['median_run_s'], '.2f')} s in one of {plan['workers']} workers; "
        f"{_num(t['runs_per_min'], '.1f')} runs/min, {_num(t['tokens_per_s'], ',.0f')} training tokens/s "
        "overall"
    )
    lines.append(
        f"- data {t['data_s']:.1f} s, pilots and fit {t['pilots_s']:.1f} s, final runs {t['finals_s']:.1f} s"
    )
    return "\n".join(lines)


def timing(all_runs: list[dict], start: float) -> dict[str, Any]:
    ok = [r for r in all_runs if r.get("status") == "ok"]
    span = time.time() - start
    return {
        "runs_ok": len(ok),
        "runs_skipped": sum(r.get("status") == "skipped" for r in all_runs),
        "runs_failed": sum(r.get("status") == "failed" for r in all_runs),
        "median_run_s": statistics.median(r["wall_s"] for r in ok) if ok else None,
        "median_run_s_by_method": {
            m: statistics.median(r["wall_s"] for r in ok if r["method"] == m)
            for m in sorted({r["method"] for r in ok})
        },
        "runs_per_min": 60 * len(ok) / span if span > 0 else None,
        "tokens_per_s": sum(r["tokens"] for r in ok) / span if span > 0 else None,
    }


# -- main ---------------------------------------------------------------------------------------------------
def environment(device: str) -> dict[str, Any]:
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count()}
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit(
                "--device cuda but torch sees no CUDA device (a CPU build of torch?); --device cpu"
            )
        env["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return env


def study(args: argparse.Namespace, plan: dict[str, Any], work: Path, summary: dict[str, Any]) -> None:
    """Data, pilots and fits, final runs, statistics: each stage recorded in ``summary`` as it ends."""
    from common import SAMPLE_GROUPS, pack_sample

    t = time.time()
    tokenizer = GROUPS if args.quick else SAMPLE_GROUPS  # quick: a smaller BPE training set
    summary["data"] = pack_sample(work / "data", GROUPS, plan["vocab"], tokenizer, plan.get("max_docs"))
    summary["timing"] = {"data_s": time.time() - t}
    context = multiprocessing.get_context("spawn")  # CUDA in workers: never fork a CUDA parent
    with ProcessPoolExecutor(plan["workers"], mp_context=context, initializer=init_worker) as pool:
        t = time.time()
        pilots = run_all(pool, pilot_tasks(plan, work), summary["log"]) if plan["offline"] else []
        fits = {}
        for method in plan["offline"]:
            try:
                fits[method] = fit_offline(method, pilots, work / "fits" / f"{method}.json")
            except Exception as err:  # the method is left out; the others go on
                summary["pilots"].setdefault("errors", {})[method] = f"{type(err).__name__}: {err}"
        summary["pilots"].update(runs=pilots, fits=fits)
        summary["timing"]["pilots_s"] = time.time() - t
        t = time.time()
        finals = run_all(pool, final_tasks(plan, work, fits), summary["log"])
        summary["timing"]["finals_s"] = time.time() - t
    summary["runs"], summary["comparisons"] = summarise(plan, finals)
    summary["timing"].update(timing(pilots + finals, T0 + summary["timing"]["data_s"]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="CPU, tiny and short: 2 seeds, 12 steps (< 60 s)")
    ap.add_argument(
        "--device", default=None, help="cuda (default), cuda:N, or cpu (the default with --quick)"
    )
    ap.add_argument("--offline", nargs="*", choices=OFFLINE, default=["grid_search"],
                    help="offline method(s) fitted on the pilot grid (default grid_search)")  # fmt: skip
    ap.add_argument("--seeds", type=int, default=None, help="paired seeds (default 48; quick 2)")
    ap.add_argument("--workers", type=int, default=None, help="runs side by side (default 8; quick 2)")
    ap.add_argument("--budget-s", type=float, default=None, help="no run starts after this (default 300 s)")
    ap.add_argument("--out", default=None, help="the JSON (default gpu_study_<time>.json); the table: .md")
    ap.add_argument("--keep", default=None, help="keep the data and runs in this folder (default: temporary)")
    args = ap.parse_args(argv)
    args.device = args.device or ("cpu" if args.quick else "cuda")
    args.out = Path(args.out or f"gpu_study_{time.strftime('%Y%m%d_%H%M%S')}.json")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")  # the pack step's bars; the workers inherit it
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    plan = design(args)
    summary: dict[str, Any] = {"study": "gpu_study", "device": args.device, "quick": args.quick,
                               "argv": sys.argv[1:], "design": plan, **environment(args.device),
                               "pilots": {}, "log": []}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="gpu_study_") as tmp:
        work = Path(args.keep or tmp)
        try:
            study(args, plan, work, summary)
            summary["ok"] = summary["timing"]["runs_failed"] == 0 and not summary["pilots"].get("errors")
        except Exception as err:  # what ran is still written
            summary.update(ok=False, error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
        summary["wall_s"] = time.time() - T0
        args.out.write_text(json.dumps(summary, indent=1, default=str))
    if "comparisons" in summary:
        text = table(summary)
        args.out.with_suffix(".md").write_text(text + "\n")
        print("\n" + text)
    print(
        f"\nsummary: {args.out.resolve()}" + ("" if summary["ok"] else f"  (not ok: {summary.get('error')})")
    )
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
