"""Each throughput switch of the trainer against the plain path, side by side in one process.

    python bench/train_paths.py --model tiny --vocab 8192 --batch 8 --repeats 7 --threads 2
    python bench/train_paths.py --model pythia-160m --vocab 50277 --batch 8 --device cuda   # on a GPU

Every path is its own :class:`Trainer` (same seed, same random tokens); after a warm-up (compile happens
there), the repeats interleave the paths (A, B, C, ... then again, in a rotated order) and each repeat times
``--steps`` training steps and one evaluation of the validation subset. Reported: the median step and
evaluation time per path and their ratio to the plain path (> 1: faster). Prints JSON lines and a table.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from common import fake_groups

from pipeline_lib.config import RunSpec, TrainConfig
from pipeline_lib.model import ModelConfig
from pipeline_lib.train.trainer import Trainer


def paths(device: str, chunk: int) -> dict[str, dict[str, Any]]:
    """The plain path (every switch off) and each switch alone, then compile with everything on."""
    out = {
        "plain": {},
        "sync_every=50": {"sync_every": 50},
        "pin_memory": {"pin_memory": True},
        f"loss_chunk={chunk}": {"loss_chunk": chunk},
        "compile": {"compile": True},
        "compile+eval_compile": {"compile": True, "eval_compile": True},
        "all": {"compile": True, "eval_compile": True, "sync_every": 50, "pin_memory": True},
    }
    if device == "cpu":
        out["bf16 autocast"] = {"precision": "bf16"}
    return out


def timed(trainer: Trainer, steps: int, p: np.ndarray) -> tuple[float, float]:
    """Seconds per training step (``steps`` of them, losses read at the end) and for one evaluation."""
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(p)
    trainer.sync_losses()
    sync()
    t1 = time.perf_counter()
    trainer.evaluate("val")
    return (t1 - t0) / steps, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per path and repeat")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps and evaluations per path first")
    ap.add_argument("--val-sequences", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--loss-chunk", type=int, default=256)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = ModelConfig.from_dict({"preset": args.model, "vocab_size": args.vocab})
    total = args.warmup + args.steps * args.repeats
    data = fake_groups(
        args.vocab, model.context, (args.batch * total + 2) * model.context, 2, args.val_sequences
    )
    p = np.full(2, 0.5)
    trainers = {}
    for name, switches in paths(args.device, args.loss_chunk).items():
        train = TrainConfig(
            steps=total + 1, batch_size=args.batch, warmup_steps=0, val_sequences=args.val_sequences,
            eval_batch_size=args.val_sequences, device=args.device, **switches,
        )  # fmt: skip
        trainers[name] = Trainer(RunSpec("bench", ("g0", "g1"), "stratified", {}, 0, model, train), data)
        t0 = time.perf_counter()
        timed(trainers[name], args.warmup, p)
        print(json.dumps({"path": name, "warmup_s": round(time.perf_counter() - t0, 2)}), flush=True)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trainers}
    names = list(trainers)
    for r in range(args.repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate: no path always first
            times[name].append(timed(trainers[name], args.steps, p))
    report(times, args)


def report(times: dict[str, list[tuple[float, float]]], args: argparse.Namespace) -> None:
    step0 = float(np.median([s for s, _ in times["plain"]]))
    eval0 = float(np.median([e for _, e in times["plain"]]))
    threads = torch.get_num_threads()
    print(f"\n{args.model}, vocab {args.vocab}, batch {args.batch}, {args.device}, {threads} threads")
    print(f"medians of {args.repeats} interleaved repeats ({args.steps} steps + 1 evaluation each)\n")
    rows = []
    for name, measured in times.items():
        step = float(np.median([s for s, _ in measured]))
        ev = float(np.median([e for _, e in measured]))
        row = {"path": name, "step_ms": round(1000 * step, 1), "step_speedup": round(step0 / step, 3)}
        row.update(eval_ms=round(1000 * ev, 1), eval_speedup=round(eval0 / ev, 3), repeats=len(measured))
        rows.append(row)
        print(json.dumps(row))
    print("\n| path | step ms | step speed-up | eval ms | eval speed-up |\n|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['path']} | {r['step_ms']} | {r['step_speedup']} | {r['eval_ms']} | {r['eval_speedup']} |"
        )


if __name__ == "__main__":
    main()
