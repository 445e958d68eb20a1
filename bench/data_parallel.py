"""One run over N data-parallel ranks against the same run in one process, side by side.

    python bench/data_parallel.py --model tiny --batch 16 --ranks 2 --repeats 5      # CPU, gloo
    python bench/data_parallel.py --model pythia-160m --vocab 50277 --batch 64 --ranks 8 --device cuda

Each repeat trains the same spec (random tokens, stratified, ``--steps`` steps, one evaluation at the
start and one at the end) in one process (``python -m pipeline_lib.train.run``) and over N ranks
(``python -m pipeline_lib.train.ranks --ranks N``), the order alternating between repeats. Reported: median
training time and tokens/s of each (from run.json, rank 0's timers; process start-up excluded), the
speed-up of N ranks and its scaling efficiency (speed-up / N), and the largest test-loss difference between
the two (they train the same batches).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import fake_groups

from pipeline_lib.config import RunSpec, TrainConfig
from pipeline_lib.model import ModelConfig
from pipeline_lib.records import RUN_FILE, RunRecord
from pipeline_lib.train.ranks import entry_point

REPO = Path(__file__).resolve().parents[1]


def write_groups(root: Path, vocab: int, context: int, tokens: int) -> None:
    for g in fake_groups(vocab, context, tokens, 2, 16):
        splits = {s: {"sha256": f"{g.name}-{s}"} for s in ("train", "val", "test")}
        dataclasses.replace(g, meta={**g.meta, "splits": splits}).save(root / g.name)


def train(spec: RunSpec, data: Path, out: Path, ranks: int, threads: int) -> RunRecord:
    command = [
        sys.executable, "-m", entry_point(ranks), "--spec", json.dumps(spec.to_dict()),
        "--data-dir", str(data), "--out-dir", str(out), "--threads", str(threads), "--ranks", str(ranks),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(command, check=True, env=env, cwd=REPO, capture_output=True)
    return RunRecord.read(out / RUN_FILE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    model = ModelConfig.from_dict({"preset": args.model, "vocab_size": args.vocab})
    train_cfg = TrainConfig(
        steps=args.steps, batch_size=args.batch, warmup_steps=0, eval_every=args.steps, val_sequences=16,
        eval_batch_size=16, device=args.device,
    )  # fmt: skip
    spec = RunSpec("bench", ("g0", "g1"), "stratified", {}, 0, model, train_cfg)
    results: dict[int, list[RunRecord]] = {1: [], args.ranks: []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_groups(root / "data", args.vocab, model.context, (args.batch * args.steps + 2) * model.context)
        for r in range(args.repeats):
            for n in (1, args.ranks) if r % 2 == 0 else (args.ranks, 1):
                record = train(spec, root / "data", root / f"r{r}n{n}", n, args.threads)
                results[n].append(record)
                print(json.dumps({"ranks": n, "repeat": r, "train_s": round(record.compute.train_time_s, 3)}))
    report(results, args)


def report(results: dict[int, list[RunRecord]], args: argparse.Namespace) -> None:
    one, many = results[1], results[args.ranks]
    t1 = float(np.median([r.compute.train_time_s for r in one]))
    tn = float(np.median([r.compute.train_time_s for r in many]))
    diff = max(
        abs(a - b)
        for x, y in zip(one, many, strict=True)
        for a, b in zip(x.tested.loss.values(), y.tested.loss.values(), strict=True)
    )
    tokens = one[0].trained_tokens
    print(
        f"\n{args.model}, batch {args.batch}, {args.steps} steps, {args.device}, {args.threads} threads/rank"
    )
    print(f"medians of {args.repeats} alternating repeats\n")
    print("| ranks | train s | tokens/s | speed-up | efficiency |\n|---|---|---|---|---|")
    print(f"| 1 | {t1:.2f} | {tokens / t1:,.0f} | 1.00 | 1.00 |")
    print(f"| {args.ranks} | {tn:.2f} | {tokens / tn:,.0f} | {t1 / tn:.2f} | {t1 / tn / args.ranks:.2f} |")
    print(f"\nlargest test-loss difference, {args.ranks} ranks vs 1: {diff:.2e}")


if __name__ == "__main__":
    main()
