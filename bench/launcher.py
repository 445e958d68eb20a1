"""A training job's wall time started as before (``python -m pipeline_lib.train.run``) and through the fork
server (``python -m pipeline_lib.launcher -m ...`` with a server running), pair by pair, interleaved:

    python bench/launcher.py [--pairs 5] [--steps 100]

The job is the demo's stratified run on A/SE (config.yaml: tiny model, 12 x 128 tokens a step), ``--steps``
long, one thread, on the shipped corpus packed as the demo packs it. Prints per mode the median job wall
time, the run's own wall time (run.json ``compute.wall_time_s``) and the part outside it (interpreter
start-up, imports, data loading), the ratio of the medians, and whether both modes wrote the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]


def job_spec(steps: int) -> str:
    """The demo's stratified A/SE run spec (config.yaml through the planner), ``steps`` long."""
    from pipeline_lib.config.load import load_project
    from pipeline_lib.plan.planner import Planner

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["train"]["steps"] = steps
    spec = Planner(load_project(config)).train_jobs["as/runs/stratified/seed0"].spec
    return json.dumps(spec.identity(), sort_keys=True)


def timed(command: list[str], env: dict[str, str], out: Path) -> tuple[float, float, dict]:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    record = json.loads((out / "run.json").read_text())
    return wall, record["compute"]["wall_time_s"], record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    from common import pack_sample

    from pipeline_lib import fork_server, launcher

    work = Path(tempfile.mkdtemp(prefix="bench-launcher-"))
    pack_sample(work / "data", ("arxiv", "stackexchange"))
    spec = job_spec(args.steps)
    env = dict(os.environ, **{var: "1" for var in launcher.THREAD_VARS})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    server = fork_server.start_server(work / "server.log", pythonpath=env["PYTHONPATH"])
    served = dict(env, **{launcher.ENV: server.address})
    time.sleep(8)  # the server's imports, paid once per workflow
    modes = {
        "python -m": ([sys.executable, "-m"], env),
        "launcher": ([sys.executable, "-m", "pipeline_lib.launcher", "-m"], served),
    }
    times: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    numbers: dict[str, dict] = {}
    try:
        for pair in range(args.pairs):
            for mode, (prefix, mode_env) in modes.items() if pair % 2 == 0 else reversed(modes.items()):
                out = work / f"{mode.split()[0]}-{pair}"
                command = [*prefix, "pipeline_lib.train.run", "--spec", spec, "--threads", "1",
                           "--data-dir", str(work / "data"), "--out-dir", str(out)]  # fmt: skip
                wall, run_wall, record = timed(command, mode_env, out)
                times[mode].append((wall, run_wall))
                numbers[mode] = {k: record[k] for k in ("val_loss", "test_loss", "final_mixture")}
    finally:
        fork_server.stop_server(server)
    report(times, numbers, args)


def report(
    times: dict[str, list[tuple[float, float]]], numbers: dict[str, dict], args: argparse.Namespace
) -> None:
    print(f"demo stratified A/SE run, {args.steps} steps, one thread, {args.pairs} interleaved pairs\n")
    print("| start | job wall (median, min-max) | run's own wall | outside the run |")
    print("|---|---|---|---|")
    medians = {}
    for mode, rows in times.items():
        walls = [w for w, _ in rows]
        inside = statistics.median(r for _, r in rows)
        outside = statistics.median(w - r for w, r in rows)
        medians[mode] = (statistics.median(walls), outside)
        print(f"| {mode} | {medians[mode][0]:.2f} s ({min(walls):.2f}-{max(walls):.2f}) | {inside:.2f} s | "
              f"{outside:.2f} s |")  # fmt: skip
    (a_wall, a_out), (b_wall, b_out) = medians["python -m"], medians["launcher"]
    print(f"\nlauncher / python -m: job wall {b_wall / a_wall:.3f}, outside the run {b_out / a_out:.3f}")
    print("same numbers (val loss, test pass, mixture):", numbers["python -m"] == numbers["launcher"])


if __name__ == "__main__":
    main()
