"""Power analysis for the CPU study: how many paired seeds resolve a method's difference to stratified.

For each (steps, batch) point it trains stratified and one fixed skewed mixture (a stand-in for a method)
on the same seeds, pairs their average test perplexities by seed, and reports the paired sd and the seeds
needed for a 95% t-interval half-width of at most ``--target`` (1%) of stratified's perplexity. It also
measures evaluation noise: the sd of the mean validation loss over disjoint subsets of N sequences of one
trained model, against the training noise (the sd over seeds of the whole-split validation loss).

    python bench/power.py --data results/data --groups arxiv stackexchange --seeds 4 \\
        --points 100x12 150x24 --eval-sizes 16 64 256

Runs go two at a time (one thread each). Prints one JSON line per point and a summary table.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def _run(args: tuple) -> dict:
    """One run (in a worker process): average test perplexity and the full-split validation losses."""
    data_dir, groups, steps, batch, seed, mixture, val_sequences, eval_sizes = args
    import torch

    torch.set_num_threads(1)
    from pipeline_lib.config import RunSpec, TrainConfig
    from pipeline_lib.data.sampler import eval_chunks
    from pipeline_lib.data.tokens import GroupTokens
    from pipeline_lib.methods import make_policy
    from pipeline_lib.model import ModelConfig
    from pipeline_lib.train.evaluate import group_losses
    from pipeline_lib.train.trainer import Trainer

    data = [GroupTokens.load(Path(data_dir) / g) for g in groups]
    model = ModelConfig.from_dict({"preset": "tiny", "vocab_size": int(data[0].meta["vocab_size"])})
    warmup = max(1, steps // 10)
    train = TrainConfig(
        steps=steps, batch_size=batch, lr=2e-3, min_lr=2e-4, warmup_steps=warmup, eval_every=steps,
        val_sequences=val_sequences,
    )  # fmt: skip
    method = "static" if mixture else "stratified"
    params = {"proportions": list(mixture)} if mixture else {}
    spec = RunSpec("power", tuple(groups), method, params, seed, model, train)
    trainer = Trainer(spec, data)
    t0 = time.perf_counter()
    test = trainer.run(make_policy(method, spec.groups, params))
    chunks = [eval_chunks(g.val, model.context) for g in data]
    val_chunks = group_losses(trainer.model, chunks, 32, trainer.device, trainer.autocast)
    out = {
        "seed": seed,
        "method": method,
        "ppl": float(np.exp(test).mean()),
        "seconds": time.perf_counter() - t0,
    }
    out["val_loss"] = val_chunks.tolist()
    if not mixture and seed == 0:  # evaluation noise of one trained model, per subset size
        out["eval_noise"] = _eval_noise(trainer, chunks, eval_sizes)
    return out


def _eval_noise(trainer, chunks: list[np.ndarray], sizes: list[int]) -> dict[str, float]:
    """sd over disjoint subsets of N chunks of the mean (over groups) validation loss, per N."""
    from pipeline_lib.train.evaluate import group_losses

    rng = np.random.default_rng(0)
    noise = {}
    for n in sizes:
        k = min(len(c) for c in chunks) // n
        if k < 2:
            continue
        orders = [rng.permutation(len(c)) for c in chunks]
        means = []
        for i in range(k):
            subset = [c[o[i * n : (i + 1) * n]] for c, o in zip(chunks, orders, strict=True)]
            means.append(group_losses(trainer.model, subset, 32, trainer.device, trainer.autocast).mean())
        noise[str(n)] = float(np.std(means, ddof=1))
    return noise


def seeds_needed(sd: float, target: float) -> int:
    """The smallest n with t(0.975, n - 1) * sd / sqrt(n) <= target."""
    from scipy.stats import t

    for n in range(2, 200):
        if t.ppf(0.975, n - 1) * sd / math.sqrt(n) <= target:
            return n
    return 200


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a packed data folder (results/data)")
    ap.add_argument("--groups", nargs="+", default=["arxiv", "stackexchange"])
    ap.add_argument("--mixture", nargs="+", type=float, default=[0.3, 0.7], help="the skewed stand-in")
    ap.add_argument("--points", nargs="+", default=["100x12", "150x24"], help="STEPSxBATCH")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--eval-sizes", nargs="+", type=int, default=[16, 64, 256])
    ap.add_argument("--val-sequences", type=int, default=64)
    ap.add_argument("--target", type=float, default=0.01, help="CI half-width as a share of stratified ppl")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for point in args.points:
        steps, batch = map(int, point.split("x"))
        jobs = [
            (args.data, args.groups, steps, batch, seed, mixture, args.val_sequences, args.eval_sizes)
            for seed in range(args.seeds)
            for mixture in (None, tuple(args.mixture))
        ]
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(_run, jobs))
        strat = {r["seed"]: r for r in results if r["method"] == "stratified"}
        skew = {r["seed"]: r for r in results if r["method"] == "static"}
        diffs = np.array([skew[s]["ppl"] - strat[s]["ppl"] for s in sorted(strat)])
        base = float(np.mean([r["ppl"] for r in strat.values()]))
        train_noise = float(np.std([np.mean(r["val_loss"]) for r in strat.values()], ddof=1))
        row = {
            "steps": steps,
            "batch": batch,
            "stratified_ppl": round(base, 3),
            "ppl_sd_over_seeds": round(float(np.std([r["ppl"] for r in strat.values()], ddof=1)), 3),
            "paired_diff_mean": round(float(diffs.mean()), 3),
            "paired_sd": round(float(diffs.std(ddof=1)), 3),
            "paired_sd_pct": round(100 * float(diffs.std(ddof=1)) / base, 3),
            "seeds_for_target": seeds_needed(float(diffs.std(ddof=1)), args.target * base),
            "run_seconds": round(float(np.mean([r["seconds"] for r in results])), 1),
            "train_noise_val_loss_sd": round(train_noise, 5),
            "eval_noise_val_loss_sd": strat[0].get("eval_noise", {}),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        "\nsteps x batch | stratified ppl | paired sd (%) | seeds for ±1% | s/run | eval sd by N vs train sd"
    )
    for r in rows:
        evals = ", ".join(f"{n}: {v:.4f}" for n, v in r["eval_noise_val_loss_sd"].items())
        print(
            f"{r['steps']} x {r['batch']} | {r['stratified_ppl']} | {r['paired_sd']} "
            f"({r['paired_sd_pct']}%) | {r['seeds_for_target']} | {r['run_seconds']} | {evals} vs "
            f"{r['train_noise_val_loss_sd']:.4f}"
        )


if __name__ == "__main__":
    main()
