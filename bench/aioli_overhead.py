"""Aioli's wall-time overhead: Aioli vs stratified for the same steps, side by side, same trainer.

Aioli's extra cost is evaluation: k * m + 1 validation passes per round (LearnParams). Its training steps
are part of the budget, so the ratio is (train + Aioli's evals) / (train + scheduled evals).

    python bench/aioli_overhead.py --model tiny --vocab 2048 --batch 16 --steps 120 --m 2 \\
        --update-steps 40 --lp-rounds 2 --lp-steps 2 --eval-every 20 --val-sequences 16
    # paper scale on a GPU (A/SE): --model pythia-160m --vocab 50277 --batch 8 --steps 500 --m 2 \\
    #   --update-steps 250 --lp-rounds 4 --lp-steps 4 --eval-every 250 --val-sequences 64
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from common import fake_groups

from pipeline_lib.config import RunSpec, TrainConfig
from pipeline_lib.methods import make_policy
from pipeline_lib.model import ModelConfig
from pipeline_lib.train.trainer import Trainer


def timed_run(spec: RunSpec, data, params: dict) -> tuple[float, Trainer]:
    trainer = Trainer(spec, data)
    policy = make_policy(spec.method, spec.groups, params)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    trainer.run(policy)
    sync()
    return time.perf_counter() - t0, trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--m", type=int, default=2)
    ap.add_argument("--update-steps", type=int, default=40)
    ap.add_argument("--lp-rounds", type=int, default=2)
    ap.add_argument("--lp-steps", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=20)
    ap.add_argument("--val-sequences", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = ModelConfig.from_dict({"preset": args.model, "vocab_size": args.vocab})
    train = TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        warmup_steps=min(10, args.steps),
        eval_every=args.eval_every,
        val_sequences=args.val_sequences,
        device=args.device,
    )
    data = fake_groups(
        args.vocab, model.context, (args.batch * args.steps + 2) * model.context, args.m, args.val_sequences
    )
    groups = tuple(g.name for g in data)
    aioli = dict(
        lp_rounds=args.lp_rounds,
        lp_steps=args.lp_steps,
        update_steps=args.update_steps,
        eta=0.2,
        one_hot_factor=0.625,
    )
    strat_s, strat = timed_run(RunSpec("bench", groups, "stratified", {}, 0, model, train), data, {})
    aioli_s, aioli_t = timed_run(RunSpec("bench", groups, "aioli", aioli, 0, model, train), data, aioli)
    print(
        json.dumps(
            {
                "model": args.model,
                "m": args.m,
                "steps": args.steps,
                "device": str(strat.device),
                "stratified_s": round(strat_s, 2),
                "aioli_s": round(aioli_s, 2),
                "ratio": round(aioli_s / strat_s, 3),
                "stratified_eval_s": round(strat.timers["eval"], 2),
                "aioli_eval_s": round(aioli_t.timers["eval"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
