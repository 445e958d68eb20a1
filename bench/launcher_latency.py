"""What a job's start costs when its step does nothing: ``python -m platform`` started as before and through
the fork server (``python -m pipeline_lib.launcher -m platform``, the server holding the trainer's imports),
launch by launch, interleaved:

    python bench/launcher_latency.py [--launches 15]

Prints the median wall time of one launch per mode and their ratio: the fixed cost of a fork (the server's
page tables, the pages the step writes, the server's exit handlers) against a bare interpreter's start. A
real step imports numpy at least, which the fork saves: forking every step ran the tiny e2e workflow in 52 s,
forking only the training steps in 67 s (docs/benchmarks.md).
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

REPO = Path(__file__).resolve().parents[1]


def launch_wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--launches", type=int, default=15)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from pipeline_lib import fork_server, launcher

    os.chdir(REPO)  # the server serves its own folder
    env = {**os.environ, **{var: "1" for var in launcher.THREAD_VARS}}
    env.pop(launcher.ENV, None)
    log = Path(tempfile.mkdtemp(prefix="bench-latency-")) / "server.log"
    server = fork_server.start_server(log, pythonpath=env.get("PYTHONPATH"))
    served = {**env, launcher.ENV: server.address}
    modes = {
        "python -m platform": ([sys.executable, "-m", "platform"], env),
        "launcher + server": ([sys.executable, "-m", "pipeline_lib.launcher", "-m", "platform"], served),
    }
    try:
        launch_wall(*modes["launcher + server"])  # waits for the server's imports
        walls: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(args.launches):
            for name, (command, mode_env) in modes.items():
                walls[name].append(launch_wall(command, mode_env))
    finally:
        fork_server.stop_server(server)
    medians = {name: statistics.median(w) for name, w in walls.items()}
    for name, w in walls.items():
        low, high = 1000 * min(w), 1000 * max(w)
        print(f"{name:20s} median {1000 * medians[name]:6.1f} ms (min {low:.1f}, max {high:.1f})")
    ratio = medians["launcher + server"] / medians["python -m platform"]
    ms = {name: round(1000 * value, 1) for name, value in medians.items()}
    print(json.dumps({"launches": args.launches, "median_ms": ms, "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
