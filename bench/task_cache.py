"""What the tokenised task set's cache saves per scoring job: the rows a job packs, built by reading the
request files and tokenising them (before: every job did this) vs reading ``data/tasks/<set>/<split>/`` and
packing (now), medians of ``--repeats`` runs; the model's scoring is the same either way and not timed.

    python bench/task_cache.py --tokenizer results/data/tokenizer.json --window 128 --repeats 7
    python bench/task_cache.py --tokenizer results/data/tokenizer.json --no-choices --max-requests 64  # demo
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from pipeline_lib.config.tasks import TasksConfig
from pipeline_lib.tasks.cache import Downstream, encode_tasks, read_encoded, write_encoded
from pipeline_lib.train.evaluations import TaskSuiteBPB


def median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--set", default="shipped")
    ap.add_argument("--split", default="test")
    ap.add_argument("--bos", default="<|endoftext|>")
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-choices", action="store_true", help="gold answers only (the demo's)")
    ap.add_argument("--max-requests", type=int, help="the first N requests per task (the demo's 64)")
    args = ap.parse_args()
    block = {"set": args.set, "choices": not args.no_choices, "max_requests": args.max_requests}
    job = Downstream(TasksConfig.from_dict(block), args.split, args.tokenizer, args.bos)
    evaluation = TaskSuiteBPB(args.split, not args.no_choices)
    with tempfile.TemporaryDirectory() as tmp:
        encoded = encode_tasks(job)
        write_encoded(tmp, encoded, job.key())
        before = median_s(lambda: evaluation.pack(encode_tasks(job), args.window), args.repeats)
        after = median_s(lambda: evaluation.pack(read_encoded(tmp, job.key()), args.window), args.repeats)
        tokenise = median_s(lambda: encode_tasks(job), args.repeats)
        read = median_s(lambda: read_encoded(tmp, job.key()), args.repeats)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    rows = sum(len(r.row_item) for r in evaluation.pack(encoded, args.window))
    print(json.dumps({
        **block, "split": args.split, "window": args.window, "rows": rows, "repeats": args.repeats,
        "before_s": round(before, 3), "after_s": round(after, 3), "saved_s": round(before - after, 3),
        "tokenise_s": round(tokenise, 3), "read_cache_s": round(read, 3), "cache_bytes": size,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
