"""A data-parallel training job's launcher (``resources.gpus_per_run`` > 1), without torch::

    python -m pipeline_lib.train.ranks --ranks N <the arguments of pipeline_lib.train.run>

takes N GPU slots (``--gpu-slots``), starts N ranks of ``python -m pipeline_lib.train.run <arguments>`` under
``torch.distributed.run`` on this node, waits for them and exits with their status; rank 0 writes the files
(``pipeline_lib/parallel.py``). Killing it kills torchrun, and torchrun's death the ranks. It imports neither
torch nor the trainer (the standard library, the logging set-up and the GPU slots only): a job's launcher no
longer loads them to start a subprocess. It is the one way to start a data-parallel run: ``train.run`` is a
rank (``--ranks N`` there checks that torchrun started N of them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

from pipeline_lib.lifetime import die_with_parent
from pipeline_lib.logs import setup_logging
from pipeline_lib.train import gpu_slot


def entry_point(n: int) -> str:
    """The module that starts a run of ``n`` ranks: this launcher for 2 or more, else the training step."""
    return "pipeline_lib.train.ranks" if n > 1 else "pipeline_lib.train.run"


def launch(n: int, gpu_slots: int, argv: Sequence[str]) -> int:
    """Run ``pipeline_lib.train.run ARGV`` as ``n`` data-parallel ranks on this node, holding ``n`` GPU slots
    while they train; returns their exit status. Killing the launcher kills torchrun and the ranks."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
        "-m", "pipeline_lib.train.run", *argv,
    ]  # fmt: skip
    with gpu_slot.pinned_gpu(gpu_slots, count=n):
        return subprocess.run(command, check=False, preexec_fn=die_with_parent).returncode


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, required=True, help="data-parallel processes (GPUs), 2 or more")
    ap.add_argument(
        "--gpu-slots",
        type=int,
        default=int(os.environ.get(gpu_slot.SLOTS_ENV) or 0),
        help=f"take N free GPUs among these and pin the ranks to them (default: ${gpu_slot.SLOTS_ENV})",
    )
    args, _ = ap.parse_known_args(argv)  # the rest is train.run's, which the ranks parse
    if args.ranks < 2:
        ap.error(
            f"--ranks {args.ranks}: a data-parallel run has 2 or more (one: python -m pipeline_lib.train.run)"
        )
    setup_logging()
    sys.exit(launch(args.ranks, args.gpu_slots, argv))


if __name__ == "__main__":
    main()
