"""What a mid-run checkpoint costs: seconds to write one, its size, and its share of the steps between two.

    python bench/checkpoint_cost.py --model tiny --vocab 2048 --batch 12 --every 50 --threads 1
    python bench/checkpoint_cost.py --model pythia-160m --vocab 50277 --batch 1 --every 500   # 160M shape

The step time is the trainer's own step (a batch of ``--batch`` sequences); the share is
save time / (every x step time). Random tokens stand in for data.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from common import fake_groups

from pipeline_lib.config import RunSpec, TrainConfig
from pipeline_lib.methods import make_policy
from pipeline_lib.model import ModelConfig
from pipeline_lib.train.checkpoint import Checkpointer
from pipeline_lib.train.trainer import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--every", type=int, default=50, help="train.checkpoint_every")
    ap.add_argument("--steps", type=int, default=3, help="timed training steps")
    ap.add_argument("--saves", type=int, default=3, help="timed checkpoint writes")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = ModelConfig.from_dict({"preset": args.model, "vocab_size": args.vocab})
    train = TrainConfig(steps=args.every * 2, batch_size=args.batch, warmup_steps=0, eval_every=args.every)
    groups = fake_groups(args.vocab, model.context, 50 * args.batch * (model.context + 1))
    spec = RunSpec("bench", ("g0", "g1"), "stratified", {}, 0, model, train)
    trainer = Trainer(spec, groups)
    policy = make_policy("stratified", spec.groups)
    trainer.set_mixture(policy.start(trainer))
    trainer.train_step()  # AdamW's state exists from the first step on
    t0 = time.perf_counter()
    for _ in range(args.steps):
        trainer.train_step()
    step_s = (time.perf_counter() - t0) / args.steps
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Checkpointer(Path(tmp) / "checkpoint.pt", args.every, "bench")
        t0 = time.perf_counter()
        for _ in range(args.saves):
            ckpt.save(trainer.checkpoint(policy, next_eval=args.every))
        save_s = (time.perf_counter() - t0) / args.saves
        size_mb = ckpt.path.stat().st_size / 1e6
        t0 = time.perf_counter()
        ckpt.load()
        load_s = time.perf_counter() - t0
    result = {
        "model": args.model,
        "params_M": round(trainer.model.n_params() / 1e6, 1),
        "device": str(trainer.device),
        "step_s": round(step_s, 4),
        "save_s": round(save_s, 4),
        "load_s": round(load_s, 4),
        "size_MB": round(size_mb, 1),
        "every": args.every,
        "share_of_run": round(save_s / (args.every * step_s), 5),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
