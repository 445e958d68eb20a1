"""The trainer against a minimal nanoGPT-style loop of the same shape (issue 29, item 2).

The minimal loop trains the same model class (``pipeline_lib.model.GPT``) with the same AdamW settings
(the model's decay/no-decay groups, betas, eps, weight decay), the same warm-up + cosine schedule, the same
gradient clip, batches of the same shape drawn from the same packed memmaps (or random tokens), the same
evaluation work (the validation subset every ``eval_every`` steps, the whole test split at the end) and the
same threads. What it leaves out is everything else the project's ``Trainer`` does: the mixture sampler's
per-group chunk streams, the policy hooks, the divergence checks, the history and the run files.

    python bench/minimal_loop.py prepare --out /tmp/mp_data          # the demo's data (BPE 2048, A/SE)
    python bench/minimal_loop.py compare --data-dir /tmp/mp_data --presets tiny small --threads 1
    python bench/minimal_loop.py commands --data-dir /tmp/mp_data --preset tiny   # the two whole processes

``compare`` interleaves, in one process, blocks of training steps of a ``Trainer`` and of the minimal loop
(A B, then B A, ...) and then whole short runs (set-up, training, every evaluation, the test pass) of each,
and prints the medians and the ratio trainer/minimal (median, min-max over the pairs). ``commands`` prints
the trainer's own entry point (``python -m pipeline_lib.train.run``) and ``minimal_loop.py run`` for the same
spec, to time as whole processes side by side (imports, data loading, run files included).

Measured (December 2026, the 2-core machine idle, 1 thread, the demo's A/SE data, batch 12, both sides with
the trainer's malloc thresholds): trainer/minimal, median [min-max] of the pairs; step: tiny 1.003
[0.987-1.018] (12 pairs of 5 steps), small 1.004 [0.968-1.021] (10 of 3); whole short run in one process
(set-up, steps, 3 validations, the test pass): tiny 40 steps 1.002 [0.998-1.035] (6), small 20 steps 1.005
[0.972-1.029] (4). As whole processes (``commands``, 5 pairs): tiny 40 steps 1.037 [1.013-1.132] wall,
1.032 CPU: the entry point's extra imports (pandas for the two CSVs: ~0.5 s of a 9.4 s job); against a
minimal loop left with glibc's malloc defaults 0.915 [0.889-0.934]: the trainer's thresholds save ~1 s of
system time. Small 20 steps (4 pairs, the machine shared): 0.976 [0.941-1.015] wall, 0.989 CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO)]  # runs from a checkout, installed or not

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pipeline_lib.model import GPT, ModelConfig  # noqa: E402

GROUPS = ("arxiv", "stackexchange")
# The demo's final-run schedule (config.yaml's train block), shortened: a short run of each preset.
SCHEDULE = {
    "batch_size": 12, "lr": 2.0e-3, "init_lr": 1.0e-7, "min_lr": 2.0e-4, "warmup_steps": 4,
    "weight_decay": 0.01, "grad_clip": 1.0, "eval_every": 20, "val_sequences": 64, "eval_batch_size": 32,
    "device": "cpu",
}  # fmt: skip


# -- the minimal loop --------------------------------------------------------------------------------------
def open_splits(data_dir: str | Path, groups: Sequence[str]) -> dict[str, list[np.ndarray]]:
    """Each group's packed train/val/test tokens as read-only memmaps (``meta.json`` names the dtype)."""
    out: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for g in groups:
        meta = json.loads((Path(data_dir) / g / "meta.json").read_text())
        for split in out:
            out[split].append(np.memmap(Path(data_dir) / g / f"{split}.bin", dtype=meta["dtype"], mode="r"))
    return out


def chunks(tokens: np.ndarray, context: int, limit: int | None = None) -> np.ndarray:
    """(N, context + 1) non-overlapping evaluation chunks; ``limit`` of them evenly spaced."""
    n = len(tokens) // (context + 1)
    arr = np.asarray(tokens[: n * (context + 1)], dtype=np.int64).reshape(n, context + 1)
    return arr if limit is None or limit >= n else arr[(np.arange(limit) * n) // limit]


class MinimalLoop:
    """nanoGPT's loop around ``GPT``: get_batch, get_lr, forward/backward, clip, AdamW step, evaluation."""

    def __init__(
        self, model: ModelConfig, train: dict[str, Any], splits: dict[str, list[np.ndarray]], seed: int
    ):
        self.t, self.context = train, model.context
        torch.manual_seed(seed)
        self.model = GPT(model)
        self.opt = torch.optim.AdamW(
            self.model.param_groups(train["weight_decay"]), lr=train["lr"],
            betas=(train.get("beta1", 0.9), train.get("beta2", 0.999)), eps=train.get("eps", 1e-8),
            fused=False,  # as nanoGPT (and the trainer): fused on CUDA only, and this loop runs on CPU
        )  # fmt: skip
        self.rng = np.random.default_rng(seed)
        self.train_tokens = splits["train"]
        self.val = [chunks(v, model.context, train["val_sequences"]) for v in splits["val"]]
        self.test = splits["test"]
        self.it = 0

    def get_lr(self, it: int) -> float:
        t = self.t
        if it < t["warmup_steps"]:
            return t["init_lr"] + (t["lr"] - t["init_lr"]) * it / t["warmup_steps"]
        progress = min((it - t["warmup_steps"]) / max(t["steps"] - t["warmup_steps"], 1), 1.0)
        return t["min_lr"] + 0.5 * (t["lr"] - t["min_lr"]) * (1.0 + math.cos(math.pi * progress))

    def get_batch(self, p: np.ndarray) -> torch.Tensor:
        """(B, T + 1) tokens: each row's group drawn from p, then a random window of that group."""
        rows = []
        for g in self.rng.choice(len(p), size=self.t["batch_size"], p=p):
            start = self.rng.integers(0, len(self.train_tokens[g]) - self.context - 1)
            rows.append(self.train_tokens[g][start : start + self.context + 1])
        return torch.from_numpy(np.stack(rows).astype(np.int64))

    def step(self, p: np.ndarray) -> float:
        for group in self.opt.param_groups:
            group["lr"] = self.get_lr(self.it)
        batch = self.get_batch(p)
        _, losses = self.model(batch[:, :-1], batch[:, 1:])
        loss = losses.mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.t["grad_clip"])
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.it += 1
        return loss.item()

    @torch.no_grad()
    def evaluate(self, sets: Sequence[np.ndarray]) -> np.ndarray:
        self.model.eval()
        out = []
        for arr in sets:
            total, count = 0.0, 0
            for s in range(0, len(arr), self.t["eval_batch_size"]):
                batch = torch.from_numpy(arr[s : s + self.t["eval_batch_size"]])
                _, losses = self.model(batch[:, :-1], batch[:, 1:])
                total, count = total + losses.sum().item(), count + losses.numel()
            out.append(total / count)
        self.model.train()
        return np.asarray(out)

    def run(self) -> np.ndarray:
        """The whole run: validation at 0, every ``eval_every`` and at the end; the test losses."""
        p = np.full(len(self.train_tokens), 1.0 / len(self.train_tokens))
        self.evaluate(self.val)
        while self.it < self.t["steps"]:
            self.step(p)
            if self.it % self.t["eval_every"] == 0 or self.it == self.t["steps"]:
                self.evaluate(self.val)
        return self.evaluate([chunks(t, self.context) for t in self.test])


# -- the trainer's side ------------------------------------------------------------------------------------
def run_spec(preset: str, vocab: int, steps: int, seed: int = 0) -> Any:
    """The RunSpec both sides train: stratified over A/SE, ``SCHEDULE`` over ``steps`` steps."""
    from pipeline_lib.config import RunSpec, TrainConfig

    model = ModelConfig.from_dict({"preset": preset, "vocab_size": vocab})
    train = TrainConfig(**{**SCHEDULE, "steps": steps, "warmup_steps": min(SCHEDULE["warmup_steps"], steps)})
    return RunSpec("bench", GROUPS, "stratified", {}, seed, model, train)


def load_data(data_dir: str | None, vocab: int, context: int) -> list:
    """The groups as the trainer takes them: packed (``data_dir``) or random tokens."""
    from pipeline_lib.data.tokens import GroupTokens

    if data_dir:
        return [GroupTokens.load(Path(data_dir) / g) for g in GROUPS]
    from common import fake_groups

    groups = fake_groups(vocab, context, 400_000, len(GROUPS), eval_sequences=96)
    return [dataclasses.replace(g, name=name) for name, g in zip(GROUPS, groups, strict=True)]


def minimal_for(spec: Any, data: list) -> MinimalLoop:
    splits = {s: [getattr(g, s) for g in data] for s in ("train", "val", "test")}
    train = {**SCHEDULE, "steps": spec.train.steps, "warmup_steps": spec.train.warmup_steps}
    vocab = max(int(g.meta["vocab_size"]) for g in data)
    model = ModelConfig(**{**spec.model.__dict__, "vocab_size": vocab})
    return MinimalLoop(model, train, splits, spec.seed)


# -- measurements ------------------------------------------------------------------------------------------
def paired(a: Callable[[], tuple[float, float]], b: Callable[[], tuple[float, float]], repeats: int) -> dict:
    """``repeats`` pairs, the order alternating (A B, B A, ...); each call returns (wall, CPU) seconds.
    Medians of each and of the ratio A/B, by wall time and by this process's CPU time (on a shared machine
    the CPU time leaves out the waits for a core, which the wall time does not)."""
    ta, tb = [], []
    for r in range(repeats):
        if r % 2 == 0:
            ta.append(a())
            tb.append(b())
        else:
            tb.append(b())
            ta.append(a())
    out: dict[str, Any] = {"pairs": repeats}
    for i, clock in enumerate(("wall", "cpu")):
        xa, xb = [t[i] for t in ta], [t[i] for t in tb]
        ratios = [x / y for x, y in zip(xa, xb, strict=True)]
        out[clock] = {
            "trainer_s": statistics.median(xa), "minimal_s": statistics.median(xb),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "trainer_all_s": xa, "minimal_all_s": xb,
        }  # fmt: skip
    return out


def timed(fn: Callable[[], object], n: int = 1) -> tuple[float, float]:
    """Wall and process CPU seconds per call of ``fn``, over ``n`` calls."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - w0) / n, (time.process_time() - c0) / n


def compare_preset(args: argparse.Namespace, preset: str) -> dict[str, Any]:
    """Step blocks, then whole short runs, trainer against minimal, interleaved."""
    from pipeline_lib.methods import make_policy
    from pipeline_lib.train.trainer import Trainer

    vocab = args.vocab
    data = load_data(args.data_dir, vocab, ModelConfig.from_dict({"preset": preset}).context)
    long = run_spec(preset, vocab, 10_000)  # steps never reach the end: the schedule stays in its decay
    trainer, minimal = Trainer(long, data), minimal_for(long, data)
    p = np.full(len(GROUPS), 1.0 / len(GROUPS))
    timed(lambda: trainer.train_step(p), args.warmup)
    timed(lambda: minimal.step(p), args.warmup)
    k = args.block
    steps = paired(lambda: timed(lambda: trainer.train_step(p), k), lambda: timed(lambda: minimal.step(p), k),
                   args.repeats)  # fmt: skip
    short = run_spec(preset, vocab, args.run_steps)

    def trainer_run() -> tuple[float, float]:
        return timed(lambda: Trainer(short, data).run(make_policy("stratified", GROUPS)))

    runs = paired(trainer_run, lambda: timed(lambda: minimal_for(short, data).run()), args.run_repeats)
    return {"preset": preset, "batch": short.train.batch_size, "step": steps, "run": runs,
            "run_steps": args.run_steps, "threads": torch.get_num_threads()}  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| preset | measured | clock | trainer | minimal | trainer/minimal [min-max] | pairs |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for what, unit, scale in (("step", "ms", 1e3), ("run", "s", 1.0)):
            name = (
                f"step (batch {row['batch']})" if what == "step" else f"short run ({row['run_steps']} steps)"
            )
            for clock in ("cpu", "wall"):
                r = row[what][clock]
                lines.append(
                    f"| {row['preset']} | {name} | {clock} | {r['trainer_s'] * scale:.1f} {unit} | "
                    f"{r['minimal_s'] * scale:.1f} {unit} | {r['ratio']:.3f} [{r['ratio_min']:.3f}-"
                    f"{r['ratio_max']:.3f}] | {row[what]['pairs']} |"
                )
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------------------------------
def process_setup(args: argparse.Namespace) -> None:
    """Threads, and with ``--keep-freed-memory`` the malloc thresholds the trainer's entry point sets
    (``pipeline_lib.train.allocator``): a process setting, not part of either loop."""
    torch.set_num_threads(args.threads)
    if args.keep_freed_memory:
        from pipeline_lib.train.allocator import keep_freed_memory

        keep_freed_memory()


def cmd_compare(args: argparse.Namespace) -> None:
    process_setup(args)
    rows = []
    for preset in args.presets:
        rows.append(compare_preset(args, preset))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print(f"\n{torch.get_num_threads()} thread(s); data: {args.data_dir or 'random tokens'}\n")
    print(table(rows))


def cmd_run(args: argparse.Namespace) -> None:
    """One whole run of the minimal loop from a RunSpec JSON (the trainer entry point's ``--spec``)."""
    process_setup(args)
    spec = json.loads(args.spec)
    splits = open_splits(args.data_dir, spec["groups"])
    vocab = max(
        json.loads((Path(args.data_dir) / g / "meta.json").read_text())["vocab_size"] for g in spec["groups"]
    )
    model = ModelConfig(**{**spec["model"], "vocab_size": vocab})
    test = MinimalLoop(model, spec["train"], splits, spec["seed"]).run()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "minimal.json").write_text(json.dumps({"test_loss": test.tolist()}))


def cmd_commands(args: argparse.Namespace) -> None:
    spec = run_spec(args.preset, args.vocab, args.run_steps)
    text = json.dumps(spec.to_dict(), separators=(",", ":"))
    common = f"--spec {shlex.quote(text)} --data-dir {args.data_dir} --threads {args.threads}"
    print(f"{sys.executable} -m pipeline_lib.train.run {common} --out-dir {args.out_dir}/trainer")
    keep = " --keep-freed-memory" if args.keep_freed_memory else ""
    print(f"{sys.executable} {Path(__file__).resolve()} run {common} --out-dir {args.out_dir}/minimal{keep}")


def cmd_prepare(args: argparse.Namespace) -> None:
    """The demo's data (BPE 2048 on arxiv and stackexchange, packed) by the project's own steps."""
    from common import pack_sample

    print(json.dumps(pack_sample(args.out, GROUPS, 2048)))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    compare = sub.add_parser("compare", help="interleaved steps and short runs, trainer vs minimal")
    compare.add_argument("--presets", nargs="+", default=["tiny", "small"])
    compare.add_argument("--block", type=int, default=5, help="steps per timed block")
    compare.add_argument("--repeats", type=int, default=8, help="pairs of step blocks")
    compare.add_argument("--warmup", type=int, default=3, help="untimed steps of each first")
    compare.add_argument("--run-repeats", type=int, default=4, help="pairs of whole short runs")
    compare.add_argument("--out", default=None, help="the JSON of every measurement")
    run = sub.add_parser("run", help="one whole minimal run from a RunSpec JSON")
    run.add_argument("--spec", required=True)
    run.add_argument("--out-dir", required=True)
    commands = sub.add_parser("commands", help="print the trainer and minimal commands of one short run")
    commands.add_argument("--preset", default="tiny")
    commands.add_argument("--out-dir", default="/tmp/minimal_loop")
    prepare = sub.add_parser("prepare", help="tokenise and pack the demo's A/SE data")
    prepare.add_argument("--out", required=True)
    for p in (compare, run, commands):
        p.add_argument("--data-dir", default=None, required=p is run, help="packed groups (default: random)")
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--keep-freed-memory", action="store_true", help="the trainer's malloc thresholds")
    for p in (compare, commands):
        p.add_argument("--vocab", type=int, default=2048, help="the vocabulary of random tokens")
        p.add_argument("--run-steps", type=int, default=40, help="steps of a whole short run")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    {"compare": cmd_compare, "run": cmd_run, "commands": cmd_commands, "prepare": cmd_prepare}[args.command](
        args
    )


if __name__ == "__main__":
    main()
