"""Training throughput of the trainer's step (tokens/s, and MFU on CUDA) for a model preset.

    python bench/train_throughput.py --model tiny --vocab 4096 --batch 16 --steps 30
    python bench/train_throughput.py --model pythia-160m --batch 8 --context 2048 --vocab 50277   # on a GPU
    python bench/train_throughput.py --model tiny --vocab 2048 --batch 12 --threads 1 --glibc-malloc

Random tokens stand in for data (throughput does not depend on the text); the step is the trainer's own
``Trainer.train_step`` (sampling, forward, backward, clipping, AdamW).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch
from common import fake_groups, peak_flops

from pipeline_lib.config import RunSpec, TrainConfig
from pipeline_lib.model import ModelConfig
from pipeline_lib.train.allocator import keep_freed_memory
from pipeline_lib.train.trainer import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny", help="a model preset (tiny, small, pythia-160m)")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--context", type=int, default=None, help="override the preset's context")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--glibc-malloc", action="store_true", help="keep glibc's malloc defaults (no tuning)")
    args = ap.parse_args()
    malloc_tuned = False if args.glibc_malloc else keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {"preset": args.model, "vocab_size": args.vocab}
    if args.context:
        overrides["context"] = args.context
    model = ModelConfig.from_dict(overrides)
    train = TrainConfig(
        steps=args.steps + args.warmup,
        batch_size=args.batch,
        warmup_steps=0,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
    )
    data = fake_groups(
        args.vocab, model.context, (args.batch * (args.steps + args.warmup) + 2) * model.context
    )
    spec = RunSpec("bench", tuple(g.name for g in data), "stratified", {}, 0, model, train)
    trainer = Trainer(spec, data)
    p = np.full(len(data), 1 / len(data))
    for _ in range(args.warmup):
        trainer.train_step(p)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    t0, sys0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
    for _ in range(args.steps):
        trainer.train_step(p)
    sync()
    dt = time.perf_counter() - t0
    sys_s = resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0
    tokens = args.steps * args.batch * model.context
    result = {
        "model": args.model,
        "params_M": round(trainer.model.n_params() / 1e6, 2),
        "vocab": args.vocab,
        "batch": args.batch,
        "context": model.context,
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
        "step_ms": round(1000 * dt / args.steps, 1),
        "tokens_per_s": round(tokens / dt),
        "kernel_time_fraction": round(sys_s / dt, 3),
        "malloc_tuned": malloc_tuned,
    }
    if trainer.device.type == "cuda":
        name = torch.cuda.get_device_name()
        peak = peak_flops(name)
        result["gpu"] = name
        if peak:
            result["mfu"] = round(model.flops_per_token() * tokens / dt / peak, 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
