"""The device check: one command on a GPU machine that tests and measures the whole GPU path, offline.

    bash bench/gpu_check.sh                      # on a CUDA machine: <= 8 minutes on one H100/H200
    python bench/gpu_check.py --device cpu --quick --out /tmp/check.json   # the same script on CPU (~1 min)

Needs torch, numpy, tokenizers, pandas and this repository (no Snakemake, no datasets, no network). Each
section is guarded: a failure is recorded (with its error) and the next section runs.

- ``env``: torch, CUDA, the device, flash-attn.
- ``cuda_tests``: ``pytest tests/gpu`` (bf16 step, fused AdamW, compiled = eager, flash-attn = SDPA, slot
  pinning, a resume on GPU), when pytest is installed.
- ``throughput``: the trainer's step on the 160M shape at 8 x 2048 in bf16 on random tokens, per path
  (eager, asynchronous, compiled, chunked loss, flash-attn when installed): tokens/s, MFU, peak memory,
  and the ratio to the plain eager path.
- ``data``: the shipped corpus (data/sample) tokenised and packed with the project's own steps.
- ``runs``: the gpu-sample run (stratified) and an Aioli run of the same steps through the real trainer
  (``train_run``), each twice: Aioli's wall time over stratified's, the share of time in evaluation, and
  whether the repeat gave bit-identical losses (GPU determinism).
- ``data_parallel``: the stratified run again over two data-parallel ranks (``train.ranks --ranks 2``:
  torchrun, NCCL on two GPUs, gloo on CPU) against one process: the training-time speed-up and the largest
  loss difference. Skipped with fewer than two GPUs.

Writes one JSON summary (``--out``) and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO)]  # runs from a checkout, installed or not

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import SAMPLE_GROUPS, fake_groups, pack_sample, peak_flops, without_tqdm  # noqa: E402

RUN_GROUPS = ("arxiv", "stackexchange")


def shape(args: argparse.Namespace) -> dict[str, Any]:
    """The model and batch of every measurement: the paper's (pythia-160m, 8 x 2048, a 50277 vocabulary),
    or a CPU-sized one in quick mode."""
    if args.quick:
        return {"preset": "tiny", "vocab": 2048, "batch": 4, "context": 128}
    return {"preset": "pythia-160m", "vocab": 50277, "batch": 8, "context": 2048}


def train_config(args: argparse.Namespace, steps: int, **switches: Any) -> Any:
    """The gpu-sample schedule (config/gpu-sample.yaml: lr, warm-up, evaluation) over ``steps`` steps."""
    from pipeline_lib.config import TrainConfig

    precision = "bf16" if args.device.startswith("cuda") else "fp32"
    return TrainConfig(
        steps=steps, batch_size=shape(args)["batch"], lr=5e-4, init_lr=1e-7, min_lr=1e-4,
        warmup_steps=max(1, steps // 10), weight_decay=0.01, grad_clip=1.0, eval_every=max(1, steps // 3),
        val_sequences=16, eval_batch_size=16, device=args.device, precision=precision, **switches,
    )  # fmt: skip


def model_config(args: argparse.Namespace) -> Any:
    from pipeline_lib.model import ModelConfig

    s = shape(args)
    return ModelConfig.from_dict({"preset": s["preset"], "vocab_size": s["vocab"], "context": s["context"]})


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- sections ---------------------------------------------------------------------------------------------
def section_env(args: argparse.Namespace, ctx: dict) -> dict:
    from pipeline_lib.model.gpt import flash_available

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "flash_attn": flash_available(),
        "triton": importlib.util.find_spec("triton") is not None,
        "pytest": importlib.util.find_spec("pytest") is not None,
        "c_compiler": any(Path(d, "cc").exists() or Path(d, "gcc").exists() for d in os.get_exec_path()),
        "threads": torch.get_num_threads(),
    }
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda but torch sees no CUDA device (a CPU build of torch?)")
        props = torch.cuda.get_device_properties(torch.device(args.device))
        out.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1))
        out.update(capability=f"{props.major}.{props.minor}", bf16=torch.cuda.is_bf16_supported())
        out["peak_tflops"] = (args.peak_tflops * 1e12 or peak_flops(props.name) or 0) / 1e12 or None
    return out


def section_cuda_tests(args: argparse.Namespace, ctx: dict) -> dict:
    """``pytest tests/gpu`` in a subprocess: counts of passed, failed and skipped tests."""
    if importlib.util.find_spec("pytest") is None:
        return {"status": "skipped: pytest absent"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(REPO / "tests" / "gpu")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.test_timeout)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    counts = {k: 0 for k in ("passed", "failed", "skipped", "error")}
    for part in tail.replace(" in ", ", ").split(", "):
        words = part.split()
        if len(words) >= 2 and words[0].isdigit():
            counts[words[1].rstrip("s")] = int(words[0])
    failures = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return {"returncode": proc.returncode, **counts, "summary": tail, "failures": failures[:20]}


def measure_path(args: argparse.Namespace, switches: dict[str, Any], steps: int, warmup: int) -> dict:
    """Tokens/s of the trainer's step under ``switches`` (TrainConfig fields), MFU and peak memory."""
    from pipeline_lib.config import RunSpec
    from pipeline_lib.train.trainer import Trainer

    s, model = shape(args), model_config(args)
    data = fake_groups(s["vocab"], s["context"], (s["batch"] * (steps + warmup) + 2) * (s["context"] + 1))
    spec = RunSpec("check", ("g0", "g1"), "stratified", {}, 0, model, train_config(args, 1000, **switches))
    trainer = Trainer(spec, data)
    p = np.full(2, 0.5)
    t0 = time.perf_counter()
    for _ in range(warmup):
        trainer.train_step(p)
    trainer.sync_losses()
    synchronize(trainer.device)
    warm_s = time.perf_counter() - t0
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(p)
    loss = trainer.sync_losses()
    synchronize(trainer.device)
    dt = time.perf_counter() - t0
    tokens_per_s = steps * s["batch"] * s["context"] / dt
    out = {"tokens_per_s": round(tokens_per_s), "step_ms": round(1000 * dt / steps, 2)}
    out.update(warmup_s=round(warm_s, 1), loss=round(float(loss), 4), switches=switches)
    peak = (args.peak_tflops * 1e12 or peak_flops(torch.cuda.get_device_name())) if args.cuda else None
    if peak:
        out["mfu"] = round(trainer.model_config.flops_per_token() * tokens_per_s / peak, 4)
    if trainer.device.type == "cuda":
        out["peak_mem_gb"] = round(torch.cuda.max_memory_allocated(trainer.device) / 2**30, 2)
    return out


def throughput_paths(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The paths measured: the plain eager step, then each switch added on top."""
    from pipeline_lib.model.gpt import flash_available

    fast = {"sync_every": 50, "pin_memory": True}
    chunk = 2048 if not args.quick else 128
    paths = {  # the most telling first: the budget may skip the last ones
        "eager": {"attention": "sdpa"},
        "eager_async": {"attention": "sdpa", **fast},
        "compiled": {"attention": "sdpa", **fast, "compile": True},
    }
    if flash_available() and args.cuda:
        paths["flash"] = {"attention": "flash", **fast}
        paths["flash_compiled"] = {"attention": "flash", **fast, "compile": True}
    if args.cuda:  # CUDA graphs of the compiled step (static shapes, no launch overhead)
        graphs = {"compile": True, "compile_mode": "reduce-overhead"}
        paths["compiled_cudagraphs"] = {"attention": "sdpa", **fast, **graphs}
    paths["eager_chunked_loss"] = {"attention": "sdpa", **fast, "loss_chunk": chunk}
    paths["compiled_chunked_loss"] = {"attention": "sdpa", **fast, "compile": True, "loss_chunk": chunk}
    if args.quick:  # one compiled path is enough to see compile work on CPU
        paths.pop("compiled_chunked_loss")
    return paths


def section_throughput(args: argparse.Namespace, ctx: dict) -> dict:
    """Each path in turn; paths left when the section has spent ``--throughput-budget`` seconds are skipped
    (recorded as such), so the whole check keeps to its time."""
    steps, warmup = (4, 1) if args.quick else (args.steps, 5)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    for name, switches in throughput_paths(args).items():
        if time.perf_counter() - t0 > args.throughput_budget:
            out[name] = {"ok": True, "skipped": f"over the section's budget ({args.throughput_budget} s)"}
            continue
        out[name] = guarded(lambda sw=switches: measure_path(args, sw, steps, warmup))
        free_memory()
    base = out.get("eager", {}).get("tokens_per_s")
    for result in out.values():
        if base and "tokens_per_s" in result:
            result["ratio_to_eager"] = round(result["tokens_per_s"] / base, 3)
    return out


def section_data(args: argparse.Namespace, ctx: dict) -> dict:
    """Tokenise and pack the shipped corpus with the project's own steps (what the data rules call)."""
    root = Path(ctx["workdir"]) / "data"
    tok_groups = RUN_GROUPS if args.quick else SAMPLE_GROUPS  # gpu-sample trains it on all seven
    max_docs = 60 if args.quick else None  # quick: small splits, a short test pass
    out = {"groups": pack_sample(root, RUN_GROUPS, shape(args)["vocab"], tok_groups, max_docs)}
    ctx["data_dir"] = root
    return out


def one_run(args: argparse.Namespace, ctx: dict, method: str, params: dict, out_dir: Path) -> dict:
    """A run through the real trainer (``train_run``): the facts of its run.json."""
    from pipeline_lib.config import RunSpec
    from pipeline_lib.train.run import train_run

    spec = RunSpec(
        "gpu-sample", RUN_GROUPS, method, params, 0, model_config(args), train_config(args, args.run_steps)
    )
    record = train_run(spec, ctx["data_dir"], out_dir)
    compute = record.compute
    curve = [row["val_loss"] for row in json_rows(out_dir / "curve.csv")]
    return {
        "wall_s": compute.wall_time_s,
        "eval_s": compute.eval_time_s,
        "eval_share": compute.eval_time_s / compute.wall_time_s,
        "tokens_per_s": compute.tokens_per_s,
        "avg_test_ppl": record.test.avg_ppl if record.test is not None else None,
        "losses": [*(record.test.loss.values() if record.test is not None else ()), *curve],
    }


def json_rows(path: Path) -> list[dict]:
    """The rows of a CSV the trainer wrote, values as floats where they parse (no pandas needed)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, [_number(v) for v in line.split(",")], strict=True)) for line in lines[1:]]


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def section_runs(args: argparse.Namespace, ctx: dict) -> dict:
    """Stratified and Aioli for the same steps, each twice: wall-time ratio, evaluation share, determinism."""
    if "data_dir" not in ctx:
        raise RuntimeError("no prepared data (the data section failed)")
    lp_rounds = 1 if args.quick else 2
    aioli = {"lp_rounds": lp_rounds, "lp_steps": 2 if args.quick else 4, "update_steps": args.run_steps // 2,
             "eta": 0.2, "ema": 0.1, "one_hot_factor": 0.625}  # fmt: skip
    out: dict[str, Any] = {"steps": args.run_steps, "aioli_params": aioli}
    for method, params in (("stratified", {}), ("aioli", aioli)):
        runs = [
            one_run(args, ctx, method, params, Path(ctx["workdir"]) / "runs" / f"{method}{i}") for i in (0, 1)
        ]
        first, second = runs
        diff = max(abs(a - b) for a, b in zip(first["losses"], second["losses"], strict=True))
        out[method] = {k: v for k, v in first.items() if k != "losses"}
        out[method].update(repeat_wall_s=second["wall_s"], deterministic=diff == 0.0, max_abs_diff=diff)
        free_memory()
    s, a = out["stratified"], out["aioli"]
    out["aioli_over_stratified"] = round(
        min(a["wall_s"], a["repeat_wall_s"]) / min(s["wall_s"], s["repeat_wall_s"]), 3
    )
    return out


def section_data_parallel(args: argparse.Namespace, ctx: dict) -> dict:
    """The stratified run over two ranks, started by ``train.ranks`` as the workflow starts it, against one
    process: the runs section's first stratified run (the same spec), or, where that section failed, a run of
    its own."""
    from pipeline_lib.config import RunSpec
    from pipeline_lib.records import RUN_FILE, RunRecord
    from pipeline_lib.train.ranks import entry_point

    if "data_dir" not in ctx:
        raise RuntimeError("no prepared data (the data section failed)")
    if args.cuda and torch.cuda.device_count() < 2:
        return {"skipped": f"{torch.cuda.device_count()} GPU visible; two ranks need two"}
    train = train_config(args, args.run_steps)
    spec = RunSpec("gpu-sample", RUN_GROUPS, "stratified", {}, 0, model_config(args), train)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = Path(ctx["workdir"]) / "runs" / "stratified0" / RUN_FILE
    one = RunRecord.read(done) if done.exists() else None
    reused = one is not None and one.spec == spec.identity()  # what it computes, the same
    records = {1: one} if reused else {}
    for ranks in (2,) if reused else (1, 2):
        out_dir = Path(ctx["workdir"]) / f"ranks{ranks}"
        command = [
            sys.executable, "-m", entry_point(ranks),
            "--spec", json.dumps(spec.to_dict()), "--data-dir", str(ctx["data_dir"]),
            "--out-dir", str(out_dir), "--ranks", str(ranks),
        ]  # fmt: skip
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
        if proc.returncode:
            raise RuntimeError(f"--ranks {ranks} failed: {proc.stderr[-1500:]}")
        records[ranks] = RunRecord.read(out_dir / RUN_FILE)
    one, two = records[1], records[2]
    losses = [(one.tested.loss[g], two.tested.loss[g]) for g in RUN_GROUPS]
    return {
        "ranks": 2,
        "one_process": "the runs section's" if reused else "its own",
        "train_s": {n: round(r.compute.train_time_s, 2) for n, r in records.items()},
        "speedup": round(one.compute.train_time_s / two.compute.train_time_s, 3),
        "max_abs_test_loss_diff": max(abs(a - b) for a, b in losses),
    }


# -- plumbing ---------------------------------------------------------------------------------------------
def guarded(fn: Callable[[], dict]) -> dict:
    """Run one measurement; a failure becomes ``{"ok": false, "error": ...}``, and the check goes on."""
    t0 = time.perf_counter()
    try:
        out = {"ok": True, **fn()}
    except Exception as err:  # every failure is a result of the check
        out = {
            "ok": False,
            "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc()[-2000:],
        }
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def free_memory() -> None:
    import gc

    gc.collect()
    with contextlib.suppress(Exception):
        torch._dynamo.reset()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


SECTIONS: dict[str, Callable[[argparse.Namespace, dict], dict]] = {
    "env": section_env,
    "cuda_tests": section_cuda_tests,
    "throughput": section_throughput,
    "data": section_data,
    "runs": section_runs,
    "data_parallel": section_data_parallel,
}


def table(summary: dict) -> str:
    """The summary as text: a status line per section, the throughput paths, the runs."""
    lines = [
        f"device check: {summary['device']} ({summary.get('gpu') or 'no GPU'}), {summary['wall_s']:.0f} s"
    ]
    for name, sec in summary["sections"].items():
        status = "ok" if sec.get("ok") else f"FAILED {sec.get('error', '')[:150]}"
        if name == "cuda_tests" and sec.get("ok"):
            status = sec.get("status") or sec.get("summary", "")
        lines.append(f"  {name:<11} {sec.get('wall_s', 0):>7.1f} s  {status}")
    paths = {k: v for k, v in summary["sections"].get("throughput", {}).items() if isinstance(v, dict)}
    if paths:
        lines.append("\n| path | tokens/s | x eager | MFU | peak GB | step ms | warm-up s |")
        lines.append("|---|---|---|---|---|---|---|")
        for name, r in paths.items():
            if not r.get("ok") or "skipped" in r:
                why = r.get("skipped") or f"failed: {r.get('error', '')[:80]}"
                lines.append(f"| {name} | {why} | | | | | |")
                continue
            cells = [
                r["tokens_per_s"],
                r.get("ratio_to_eager"),
                r.get("mfu"),
                r.get("peak_mem_gb"),
                r["step_ms"],
            ]
            lines.append(
                f"| {name} | "
                + " | ".join("-" if c is None else str(c) for c in cells)
                + f" | {r['warmup_s']} |"
            )
    runs = summary["sections"].get("runs", {})
    if runs.get("ok"):
        lines.append(f"\nruns of {runs['steps']} steps through train_run:")
        for m in ("stratified", "aioli"):
            r = runs[m]
            lines.append(
                f"  {m:<10} wall {r['wall_s']:.1f} s (repeat {r['repeat_wall_s']:.1f} s), evaluation "
                f"{100 * r['eval_share']:.1f}% of it, {r['tokens_per_s']:.0f} tokens/s, repeat "
                f"bit-identical: {r['deterministic']} (max diff {r['max_abs_diff']:.3g})"
            )
        lines.append(f"  aioli / stratified wall time: {runs['aioli_over_stratified']}")
    dp = summary["sections"].get("data_parallel", {})
    if dp.get("ok") and "skipped" not in dp:
        lines.append(
            f"  stratified over 2 ranks: {dp['speedup']}x the training speed of one process, largest "
            f"test-loss difference {dp['max_abs_test_loss_diff']:.2g}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument(
        "--quick", action="store_true", help="tiny shapes and few steps (the CPU test of the check)"
    )
    ap.add_argument("--out", default=None, help="the JSON summary (default: gpu_check_<time>.json here)")
    ap.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    ap.add_argument("--steps", type=int, default=20, help="timed steps per throughput path")
    ap.add_argument("--run-steps", type=int, default=None, help="steps of each run (default 100; quick: 6)")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="the device's dense bf16 peak, for MFU")
    ap.add_argument("--test-timeout", type=int, default=240, help="seconds for the CUDA tests")
    ap.add_argument(
        "--throughput-budget",
        type=float,
        default=210,
        help="seconds after which throughput paths are skipped",
    )
    args = ap.parse_args(argv)
    args.cuda = args.device.startswith("cuda")
    args.run_steps = args.run_steps or (6 if args.quick else 100)
    args.out = args.out or f"gpu_check_{time.strftime('%Y%m%d_%H%M%S')}.json"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    without_tqdm()
    t0 = time.perf_counter()
    summary: dict[str, Any] = {
        "device": args.device,
        "quick": args.quick,
        "argv": sys.argv[1:],
        "sections": {},
    }
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as workdir:
        ctx: dict[str, Any] = {"workdir": workdir}
        for name in args.sections:
            print(f"[gpu_check] {name} ...", flush=True)
            summary["sections"][name] = guarded(lambda fn=SECTIONS[name]: fn(args, ctx))
            summary["wall_s"] = round(time.perf_counter() - t0, 1)
            Path(args.out).write_text(json.dumps(summary, indent=1, default=str))  # what ran so far
    summary["gpu"] = summary["sections"].get("env", {}).get("gpu")
    summary["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    summary["ok"] = all(sec.get("ok") for sec in summary["sections"].values())
    Path(args.out).write_text(json.dumps(summary, indent=1, default=str))
    print(table(summary))
    print(f"\nsummary: {Path(args.out).resolve()}")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
