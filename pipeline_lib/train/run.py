"""Training step: one run of one method on one setting and seed (a final run or a learning run).

Run by the ``train`` rule, which the planner (``pipeline_lib/plan.py``) feeds every training job::

    python -m pipeline_lib.train.run --spec '<RunSpec json>' --data-dir results/data \\
        --out-dir results/<setting>/runs/<method>/seed<n> [--fit F] [--reference R] [--init-state S] ...

Writes ``curve.csv`` (per-group validation loss over steps), ``mixture.csv`` (p over steps), optionally
``state.pt`` (model, optimizer, sampler), and last ``run.json`` (spec, config hash, per-group test loss and
perplexity, compute): a run.json means the job finished.

A run trained data-parallel over N processes (``resources.gpus_per_run`` > 1) starts as ``python -m
pipeline_lib.train.ranks --ranks N ...`` (:mod:`pipeline_lib.train.ranks`: N GPU slots, N ranks of this
module under ``torch.distributed.run``); here ``--ranks N`` says this process is one of them. Rank 0 writes
the files (``pipeline_lib/parallel.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pipeline_lib import parallel
from pipeline_lib.config import RunSpec
from pipeline_lib.config.types import EXECUTION_ENV
from pipeline_lib.data.documents import DataError
from pipeline_lib.data.tokens import GroupTokens
from pipeline_lib.io import stable_hash, write_rows_csv
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods import NO_INPUTS, MixturePolicy, RunInputs, make_policy
from pipeline_lib.parallel import SINGLE, Ranks
from pipeline_lib.progress import PROGRESS_FILE
from pipeline_lib.records import RUN_FILE, Compute, DownstreamResult, RunRecord
from pipeline_lib.state_file import UnreadableStateError, read_state, write_state_file
from pipeline_lib.storage import StorageError, storage_errors
from pipeline_lib.tasks.cache import Downstream, encode_tasks, read_encoded
from pipeline_lib.train import gpu_slot
from pipeline_lib.train.allocator import keep_freed_memory
from pipeline_lib.train.checkpoint import NAME as CHECKPOINT
from pipeline_lib.train.checkpoint import Checkpointer
from pipeline_lib.train.evaluations import TEST, VALIDATION, SplitBPB, TaskSuiteBPB, scored
from pipeline_lib.train.tracking import make_tracker
from pipeline_lib.train.trainer import DivergenceError, Trainer

log = logging.getLogger(__name__)


def task_bpb(trainer: Trainer, tasks: Sequence[GroupTokens], split: str = "val") -> dict[str, float]:
    """Bits per byte of each task's whole ``split`` (Olmix's tasks: groups, mixed or not): val for what
    fits read, test for what tables report."""
    evaluation, items = SplitBPB(split), scored(tasks, split)
    return evaluation.record(items, trainer.score(evaluation, items))[evaluation.key]


def downstream_result(trainer: Trainer, job: Downstream) -> DownstreamResult:
    """The task set scored on ``job.split`` by the trained model, timed (reading the tokenised set from
    ``job.cache``, or tokenising it here when there is none; packing; scoring). Every data-parallel rank
    reads the set and scores its share of the batches."""
    t0 = time.perf_counter()
    encoded = read_encoded(job.cache, job.key()) if job.cache is not None else encode_tasks(job)
    evaluation = TaskSuiteBPB(job.split, job.tasks.choices)
    rows = evaluation.pack(encoded, trainer.model_config.context)
    row_nll = trainer.score_rows(rows)
    result = evaluation.record(job.tasks.name, encoded, rows, row_nll, time.perf_counter() - t0)
    truncated = sum(t.n_truncated for t in result.tasks.values())
    log.info("%s tasks (%s): macro BPB %.4f in %.1f s, %d truncated request(s)", job.tasks.name, job.split,
             result.macro_bpb, result.wall_time_s, truncated)  # fmt: skip
    return result


def run_record(
    spec: RunSpec,
    trainer: Trainer,
    data: Sequence[GroupTokens],
    policy: MixturePolicy,
    start: tuple[int, int],
    test_losses: np.ndarray | None,
    wall: float,
    init_state: str | Path | None = None,
) -> RunRecord:
    """run.json: the spec as trained (the tokenizer's vocabulary) and its hash, the data's hashes, where the
    job started (``start``: step, tokens), the outcome, compute, and what the policy reports."""
    start_step, start_tokens = start
    final_val = trainer.history.curve[-len(spec.groups) :]
    data_hashes = {g.name: {s: g.meta["splits"][s]["sha256"] for s in ("train", "val", "test")} for g in data}
    trained = dataclasses.replace(spec, model=trainer.model_config)
    tokens = trainer.tokens - start_tokens
    val = VALIDATION.record(trainer.val_items, np.array([row["val_loss"] for row in final_val]))
    return RunRecord(
        setting=spec.setting,
        method=spec.method,
        seed=spec.seed,
        groups=tuple(spec.groups),
        spec=trained.identity(),
        config_hash=stable_hash({"spec": trained.identity(), "data": data_hashes}),
        data_sha256=data_hashes,
        start_step=start_step,
        init_state=str(init_state) if init_state is not None else None,
        steps=trainer.step,
        tokens=trainer.tokens,  # on the model's whole schedule, a resumed parent's included
        tokens_trained=tokens,  # by this job
        final_mixture={g: float(v) for g, v in zip(spec.groups, trainer.p, strict=True)},
        val_loss=val["val_loss"],
        test=TEST.result(spec.groups, test_losses) if test_losses is not None else None,
        compute=Compute(
            device=str(trainer.device),
            n_params=trainer.model.n_params(),
            flops=trainer.model_config.flops_per_token() * tokens,
            wall_time_s=wall,
            train_time_s=trainer.timers["train"],
            eval_time_s=trainer.timers["eval"],
            tokens_per_s=tokens / max(trainer.timers["train"], 1e-9),
            torch_threads=torch.get_num_threads(),
        ),
        extra_runs=policy.extra_runs,
        method_summary=policy.summary(),
    )


def train_run(
    spec: RunSpec,
    data_dir: str | Path,
    out_dir: str | Path,
    init_state: str | Path | None = None,
    until: int | None = None,
    save_state: bool = False,
    inputs: RunInputs = NO_INPUTS,
    tasks: Sequence[str] = (),
    task_split: str = "val",
    ranks: Ranks = SINGLE,
    downstream: Downstream | None = None,
) -> RunRecord:
    """Train one run; optionally resume from a saved state, stop at a break step, save the state.
    ``inputs``: the files the method reads (its fit, DoReMi's reference model); ``tasks``: groups whose
    bits per byte on ``task_split`` go into run.json (``task_bpb``, or ``test_task_bpb`` on test);
    ``ranks``: this process's data-parallel rank (only rank 0 writes); ``downstream``: a task set to score
    (run.json's ``downstream``)."""
    policy = make_policy(spec.method, spec.groups, spec.method_params, inputs)
    data = [GroupTokens.load(Path(data_dir) / g) for g in spec.groups]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    main = ranks.is_main
    name = f"{spec.setting}/{spec.method}/seed{spec.seed}"
    tracker = make_tracker(spec.train.tracker_names, out, name, spec.identity()) if main else None
    progress = out / PROGRESS_FILE if main else None
    trainer = Trainer(spec, data, progress=progress, tracker=tracker, ranks=ranks)
    if init_state is not None:
        trainer.load_state_dict(read_state(init_state))
    start_step, start_tokens = trainer.step, trainer.tokens
    log.info("%s/%s seed %d: %d groups, %.2fM params, %d steps x %d tokens on %s", spec.setting, spec.method,
             spec.seed, len(spec.groups), trainer.model.n_params() / 1e6, spec.train.steps,
             spec.tokens_per_step, trainer.device)  # fmt: skip
    checkpointer = None
    if spec.train.checkpoint_every:
        key = stable_hash({"spec": spec.identity(), "init_state": str(init_state), "until": until})
        checkpointer = Checkpointer(out / CHECKPOINT, spec.train.checkpoint_every, key, owner=main)
    start = time.perf_counter()
    test_losses = trainer.run(policy, until=until, checkpointer=checkpointer)
    wall = time.perf_counter() - start

    origin = (start_step, start_tokens)
    record = run_record(spec, trainer, data, policy, origin, test_losses, wall, init_state)
    if tasks:  # every rank scores its share
        loaded = {g.name: g for g in data}
        task_data = [loaded.get(t) or GroupTokens.load(Path(data_dir) / t) for t in tasks]
        record = record.with_task_bpb(task_split, task_bpb(trainer, task_data, task_split))
    if downstream is not None and trainer.step == spec.train.steps:  # a complete run's model
        record = record.with_downstream(downstream.split, downstream_result(trainer, downstream))
    if main:
        write_outputs(out, trainer, record, save_state or spec.train.save_checkpoint)
    if tracker is not None:
        tracker.close()
    if checkpointer is not None:
        checkpointer.remove()
    _log_outcome(spec, trainer, record, wall)
    return record


def _log_outcome(spec: RunSpec, trainer: Trainer, record: RunRecord, wall: float) -> None:
    if record.test is not None:
        ppl = record.test.avg_ppl
        outcome = f"avg test ppl {ppl:.3f}" if ppl is not None else "test perplexity not finite"
    else:
        outcome = "done (learning run, no test pass)" if trainer.step == spec.train.steps else "stopped"
    log.info("%s/%s seed %d at step %d: %s in %.1f s", spec.setting, spec.method, spec.seed, trainer.step,
             outcome, wall)  # fmt: skip


def write_outputs(out: Path, trainer: Trainer, record: RunRecord, save_state: bool) -> None:
    """curve.csv, mixture.csv, state.pt if asked, and last run.json, the marker of a finished job; a full disk
    or a refused write names the file and the fix (:class:`~pipeline_lib.storage.StorageError`)."""
    for name, rows in (("curve.csv", trainer.history.curve), ("mixture.csv", trainer.history.mixture)):
        with storage_errors(out / name, "the run's " + name):
            write_rows_csv(out / name, rows)
    if save_state:
        write_state_file(out / "state.pt", trainer.state_dict())
    with storage_errors(out / RUN_FILE, "the run's record"):
        record.write(out / RUN_FILE)


def execution_of(view: str, given: str | None) -> dict:
    """The execution settings a job's spec leaves out: ``given`` (``--execution``), else its view's in the
    workflow's environment, else none (the defaults)."""
    if given is not None:
        return json.loads(given)
    return json.loads(os.environ.get(EXECUTION_ENV) or "{}").get(view, {})


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True, help="the run spec as JSON")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--init-state", default=None, help="resume from this state.pt (a break run's)")
    ap.add_argument("--until", type=int, default=None, help="stop at this step (a break) instead of the end")
    ap.add_argument("--save-state", action="store_true", help="write state.pt (model, optimizer, sampler)")
    ap.add_argument("--fit", default=None, help="the fit file the method reads (offline methods, Skill-It)")
    ap.add_argument("--reference", default=None, help="DoReMi's proxy: the reference model's state.pt")
    ap.add_argument("--task-bpb", nargs="+", default=(), help="score these groups' whole split in bits/byte")
    ap.add_argument("--task-split", choices=("val", "test"), default="val", help="--task-bpb's split")
    ap.add_argument(
        "--downstream", default=None, help="JSON: a task set to score (tasks, split, tokenizer, bos)"
    )
    ap.add_argument(
        "--gpu-slots",
        type=int,
        default=int(os.environ.get(gpu_slot.SLOTS_ENV) or 0),
        help=f"take a free GPU among N and pin to it (default: ${gpu_slot.SLOTS_ENV}, 0 = off)",
    )
    ap.add_argument("--ranks", type=int, default=1, help="the run's ranks (train.ranks starts them)")
    ap.add_argument(
        "--execution",
        default=None,
        help=f"JSON of execution settings the spec leaves out (default: the run's view in ${EXECUTION_ENV})",
    )
    args = ap.parse_args(argv)
    ranks = parallel.from_env()
    if args.ranks > 1 and not ranks.parallel:
        ap.error(f"--ranks {args.ranks}: start a data-parallel run with python -m pipeline_lib.train.ranks")
    if ranks.world != args.ranks:
        ap.error(f"--ranks {args.ranks} but this process is one of {ranks.world} ranks")
    setup_logging(logging.INFO if ranks.is_main else logging.WARNING)
    keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    raw = json.loads(args.spec)
    spec = RunSpec.from_dict(raw, execution_of(raw["setting"], args.execution))
    slots = 0 if ranks.parallel else args.gpu_slots  # the launcher pinned the ranks' GPUs
    with gpu_slot.pinned_gpu(slots):  # before anything initialises CUDA
        inputs = RunInputs(fit=args.fit, reference=args.reference)
        parallel.start(ranks)
        try:
            train_run(
                spec, args.data_dir, args.out_dir, args.init_state, args.until, args.save_state, inputs,
                args.task_bpb, args.task_split, ranks,
                Downstream.from_json(args.downstream) if args.downstream else None,
            )  # fmt: skip
        except (
            DivergenceError,
            UnreadableStateError,
            StorageError,
            DataError,
        ) as err:  # stops with a message
            log.error("%s", err)
            sys.exit(1)
        finally:
            parallel.stop(ranks)


if __name__ == "__main__":
    main()
