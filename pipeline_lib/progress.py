"""A workflow's progress in one line: jobs done/total, the elapsed time, an ETA from the finished jobs' times,
and each running job's step/steps and loss (from the ``progress.jsonl`` a training job or an Olmix design
analysis writes beside its outputs, :func:`append_progress`).

It reads what a run already writes: Snakemake's log (``.snakemake/log/*.snakemake.log``, plain text whatever
the console logger), the jobs' benchmark files and the training jobs' progress files. The workflow prints the
line every ``MIXPIPE_PROGRESS_EVERY`` seconds while it runs (default 30; 0: off); from another terminal:

    python -m pipeline_lib.progress [WORKDIR] [--every SECONDS] [--once]

prints it in place on a terminal (a line every ``--every`` seconds otherwise) until the run ends.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

EVERY_ENV = "MIXPIPE_PROGRESS_EVERY"
"""Seconds between the workflow's progress lines (0: none)."""
DEFAULT_EVERY = 30.0
SHOWN_JOBS = 3
"""Running jobs named on the line; the rest are counted."""
PROGRESS_FILE = "progress.jsonl"
"""A job's progress, a JSON line per report, in the folder of its first output."""

_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_RULE = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
_FIELD = re.compile(r"^\s+(\w+): (.*)$")
_FINISHED = re.compile(r"^Finished job(?:id)?:? (\d+)")
_ERROR = re.compile(r"^Error in rule (\w+):$")
_DONE = re.compile(r"^(\d+) of (\d+) steps \(.*\) done$")
_STATS_ROW = re.compile(r"^(\w+)\s+(\d+)$")
_FAILED = "<failed>"
_END = ("Complete log", "Exiting because a job execution failed", "Shutting down, this might take some time")


@dataclass
class Job:
    """One job as the log announces it."""

    rule: str
    started: datetime | None
    output: list[str] = field(default_factory=list)
    benchmark: str | None = None
    name: str | None = None  # the training job's directory (its ``job`` wildcard)
    finished: datetime | None = None


@dataclass
class RunLog:
    """What Snakemake's log says of one run so far."""

    counts: dict[str, int] = field(default_factory=dict)  # rule -> jobs (its "Job stats"), "total" too
    jobs: dict[str, Job] = field(default_factory=dict)  # jobid -> job
    finished: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    done: int = 0
    start: datetime | None = None
    ended: bool = False

    @property
    def total(self) -> int:
        return self.counts.get("total", 0)

    def running(self) -> list[Job]:
        gone = set(self.finished) | self.failed
        return [job for jobid, job in self.jobs.items() if jobid not in gone]


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%a %b %d %H:%M:%S %Y")


def _job_field(job: Job, key: str, value: str) -> None:
    if key == "output":
        job.output = [p.strip() for p in value.split(",")]
    elif key == "benchmark":
        job.benchmark = value.strip()
    elif key == "wildcards":
        found = re.search(r"(?:^|, )job=([^,]+)", value)
        job.name = found.group(1) if found else job.name


def parse_log(text: str) -> RunLog:
    """The run's job counts, the jobs started, finished and failed, and the first job's start time."""
    log, stamp, current, in_stats = RunLog(), None, None, False
    for line in text.splitlines():
        if line.startswith("Job stats:"):
            in_stats = not log.counts
        elif in_stats and (row := _STATS_ROW.match(line.strip())):
            log.counts[row.group(1)] = int(row.group(2))
            in_stats = row.group(1) != "total"
        elif m := _STAMP.match(line):
            stamp = _stamp(m.group(1))
            log.start = log.start or stamp
        elif m := _RULE.match(line):
            current = Job(m.group(1), stamp)
        elif m := _ERROR.match(line):
            current = Job(_FAILED, stamp)  # the block's jobid names the failed job
        elif (m := _FIELD.match(line)) and current is not None:
            if m.group(1) == "jobid":
                jobid = m.group(2).strip()
                if current.rule == _FAILED:
                    log.failed.add(jobid)
                else:
                    log.jobs.setdefault(jobid, current)
            _job_field(current, m.group(1), m.group(2))
        elif m := _FINISHED.match(line):
            log.finished.append(m.group(1))
            if m.group(1) in log.jobs:
                log.jobs[m.group(1)].finished = stamp
        elif m := _DONE.match(line):
            log.done, log.counts["total"] = int(m.group(1)), int(m.group(2))
        else:
            log.ended = log.ended or line.startswith(_END)
    return log


def job_seconds(job: Job, workdir: Path) -> float | None:
    """A finished job's run time: its benchmark's ``s`` column, else the log's start and finish stamps."""
    if job.benchmark:
        path = workdir / job.benchmark
        try:
            with open(path, encoding="utf-8") as fh:
                return float(next(csv.DictReader(fh, delimiter="\t"))["s"])
        except (OSError, StopIteration, KeyError, ValueError):
            pass
    if job.started is not None and job.finished is not None:
        return (job.finished - job.started).total_seconds()
    return None


def _finished(log: RunLog, workdir: Path) -> list[tuple[Job, float]]:
    """Each finished job with its run time (those that have one), read once for the whole estimate."""
    out = []
    for jobid in log.finished:
        job = log.jobs.get(jobid)
        seconds = None if job is None else job_seconds(job, workdir)
        if seconds is not None:
            out.append((job, seconds))
    return out


WORK_FILE = Path(".snakemake") / "mixpipe" / "work.json"
"""Each long job's relative work, by rule, in the workflow directory (written by its ``onstart``,
:func:`write_work`): a training job's FLOPs (a 6-step pilot is not a 100-step run's worth), an Olmix design
analysis's (subset, K) cells times m (m = 7's takes 3.6 times m = 2's)."""


@dataclass(frozen=True)
class Work:
    """Each long job's relative work, by rule and then by job (:func:`job_key`) (:data:`WORK_FILE`)."""

    rules: dict[str, dict[str, float]]


def job_key(job: Job) -> str | None:
    """The name :class:`Work` gives a job: a training job's ``job`` wildcard, another's first output's folder
    (as the log gives it)."""
    return job.name or (str(Path(job.output[0]).parent) if job.output else None)


def write_work(work: Work, workdir: Path = Path(".")) -> None:
    """Record the long jobs' work for the ETA of the progress line (the workflow's and the command's)."""
    path = workdir / WORK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rules": work.rules}), encoding="utf-8")


def read_work(workdir: Path) -> Work | None:
    """The recorded work, or None (none recorded, or not rules mapping names to finite numbers >= 0)."""
    try:
        raw = json.loads((workdir / WORK_FILE).read_text(encoding="utf-8"))["rules"]
        rules = {str(r): {str(k): float(v) for k, v in jobs.items()} for r, jobs in raw.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    finite = all(math.isfinite(v) and v >= 0 for jobs in rules.values() for v in jobs.values())
    return Work(rules) if finite else None


def reported_seconds(job: Job, workdir: Path, now: datetime) -> float | None:
    """A running job's whole time by its own report: the time it has run over the fraction it reports done
    (:func:`append_progress`); None before it reports a step > 0."""
    fraction = done_fraction(_job_progress(job, workdir))
    if fraction is None or job.started is None:
        return None
    return max((now - job.started).total_seconds(), 0.0) / fraction


def _work_seconds(
    log: RunLog,
    workdir: Path,
    now: datetime,
    rule: str,
    jobs: dict[str, float],
    finished: list[tuple[Job, float]],
) -> Callable[[float], float] | None:
    """Seconds a job of ``rule`` with the given work takes: a line through its finished jobs' (work, seconds),
    or through the origin while their works are one value (or the line slopes down). Before one has
    finished, the rate of its running jobs' reports (:func:`reported_seconds`); None without either."""
    points = _points(finished, rule, jobs)
    if not points:
        reports = ((job, reported_seconds(job, workdir, now)) for job in log.running() if job.rule == rule)
        points = _points(reports, rule, jobs)
        return _through_origin(points) if points else None
    x, y = (list(v) for v in zip(*points, strict=True))
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxx = sum((a - mx) ** 2 for a in x)
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sxx if sxx > 0 else -1.0
    if slope >= 0 and my - slope * mx >= 0:
        return lambda w: my + slope * (w - mx)
    return _through_origin(points)


def _points(
    timed: Iterable[tuple[Job, float | None]], rule: str, jobs: dict[str, float]
) -> list[tuple[float, float]]:
    """(work, seconds) of the jobs of ``rule`` that have both."""
    return [
        (jobs[key], seconds)
        for job, seconds in timed
        if seconds is not None and job.rule == rule and (key := job_key(job)) in jobs
    ]


def _through_origin(points: list[tuple[float, float]]) -> Callable[[float], float]:
    """Seconds in proportion to work at the points' overall rate (their mean seconds if they have no work)."""
    work, seconds = sum(x for x, _ in points), sum(y for _, y in points)
    rate = seconds / work if work > 0 else 0.0
    return (lambda w: rate * w) if rate > 0 else (lambda w: seconds / len(points))


def eta_seconds(log: RunLog, workdir: Path, now: datetime, work: Work | None = None) -> float | None:
    """Seconds left: the work left at the pace of the run so far (work done per elapsed second, which counts
    the jobs run side by side). A job's work is the mean time of its rule's finished jobs; where ``work``
    gives a rule's jobs' work (a training job's FLOPs, a design analysis's cells x m), the time its work takes
    at its rule's rate, from the finished jobs or else from the running jobs' own reports (a job not started:
    the mean over the jobs not started yet). A rule with neither takes the median of the other rules' means
    (the rules that do not train, if any has finished: a workflow's other steps take seconds where a training
    job takes minutes), or what its running job has run if that is longer (over the fraction done where it
    reports its step of steps). A running job has done the time it has run, up to its expected time. None
    before a job has finished."""
    finished = _finished(log, workdir)
    done = sum(seconds for _, seconds in finished)
    if log.start is None or done <= 0:
        return None
    expect = _expected(log, workdir, now, finished, work)
    left = 0.0
    for rule, count in log.counts.items():
        if rule != "total":
            finished = sum(1 for j in log.finished if j in log.jobs and log.jobs[j].rule == rule)
            left += max(count - finished, 0) * expect(rule, None)
    for job in log.running():
        if job.started is not None:
            planned = expect(job.rule, job)
            ran = min(max((now - job.started).total_seconds(), 0.0), planned)
            done, left = done + ran, left - ran + planned - expect(job.rule, None)
    elapsed = max((now - log.start).total_seconds(), 0.0)
    return max(left, 0.0) * elapsed / done


def _expected(
    log: RunLog, workdir: Path, now: datetime, finished: list[tuple[Job, float]], work: Work | None
) -> Callable[[str, Job | None], float]:
    """A job's expected seconds, by rule and job (None: a job of the rule not started yet)."""
    rules = work.rules if work else {}
    priced = {
        r: fn for r, jobs in rules.items() if (fn := _work_seconds(log, workdir, now, r, jobs, finished))
    }
    training = _training_rules(log)
    times: dict[str, list[float]] = {}
    for job, seconds in finished:
        times.setdefault(job.rule, []).append(seconds)
    mean = {rule: sum(v) / len(v) for rule, v in times.items()}
    others = sorted(m for r, m in mean.items() if r not in training | set(rules)) or sorted(mean.values())
    overall = others[len(others) // 2]  # the median rule's: one slow analysis rule leaves the others be
    floor: dict[str, float] = {}  # a job of a rule yet to finish one takes what its jobs have run, at least
    for job in log.running():
        if job.rule not in mean and job.rule not in training | set(priced) and job.started is not None:
            ran = reported_seconds(job, workdir, now) or (now - job.started).total_seconds()
            floor[job.rule] = max(floor.get(job.rule, overall), ran)
    mean |= floor
    seen = {job_key(job) for job in log.jobs.values()}
    unstarted = {}  # a line: the time of the mean work of the rule's jobs not started yet
    for rule, seconds in priced.items():
        if rest := [w for key, w in rules[rule].items() if key not in seen]:
            unstarted[rule] = seconds(sum(rest) / len(rest))

    def expect(rule: str, job: Job | None) -> float:
        if rule in priced:
            if job is not None and (key := job_key(job)) in rules[rule]:
                return priced[rule](rules[rule][key])
            if job is None and rule in unstarted:
                return unstarted[rule]
        return mean.get(rule, overall)

    return expect


def _training_rules(log: RunLog) -> set[str]:
    """The rules whose jobs train (a training job names its run directory, the ``job`` wildcard)."""
    return {job.rule for job in log.jobs.values() if job.name is not None}


def append_progress(path: Path, step: int, steps: int, **fields: object) -> None:
    """Report a job's ``step`` of ``steps`` (and what else it tells: a training job's losses) as one line of
    its progress file, which the line and its ETA read."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": step, "steps": steps, **fields}) + "\n")


def last_progress(path: Path) -> dict | None:
    """The last complete line of a job's progress file (None: none yet, or not a JSON object)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            found = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written
        return found if isinstance(found, dict) else None
    return None


def _job_progress(job: Job, workdir: Path) -> dict | None:
    """A running job's last progress line (its progress file is in the folder of its first output)."""
    return last_progress(workdir / Path(job.output[0]).parent / PROGRESS_FILE) if job.output else None


def done_fraction(line: dict | None) -> float | None:
    """A progress line's step / steps where both are numbers and 0 < step <= steps; None otherwise."""
    step, steps = (line or {}).get("step"), (line or {}).get("steps")
    numbers = _number(step) and _number(steps)
    return step / steps if numbers and 0 < step <= steps and math.isfinite(steps) else None


def duration(seconds: float) -> str:
    """``1h02m``, ``9m40s``, ``12s``."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _job_part(job: Job, workdir: Path) -> str | None:
    """``as/runs/aioli/seed0 60/100 loss 5.123`` for a running job that reports its progress: its last line's
    step, and a training job's loss (the validation mean before a training loss is read back); a training job
    (it has a ``job`` wildcard) before its first report is ``starting``; None for other jobs."""
    line = _job_progress(job, workdir)
    if line is None or not _number(line.get("step")):
        return None if job.name is None else f"{job.name} starting"
    name = job.name or str(Path(job.output[0]).parent)
    steps = f"/{_count(line['steps'])}" if _number(line.get("steps")) else ""
    word = line.get("unit")
    unit = f" {word}" if isinstance(word, str) and word.isalpha() and len(word) <= 16 else ""
    loss = line.get("train_loss")
    if loss is None and isinstance(line.get("val_loss"), dict) and line["val_loss"]:
        values = list(line["val_loss"].values())
        loss = sum(values) / len(values) if all(_number(v) for v in values) else None
    loss_part = f" loss {loss:.3f}" if _number(loss) else ""
    return f"{name} {_count(line['step'])}{steps}{unit}{loss_part}"


def _count(value: float) -> str:
    """``60``, ``1,200,000``; a fraction as ``2.5``."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _number(value: object) -> bool:
    """A real number (not a bool), as a progress line's step, steps and losses must be to be shown."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def status_line(log: RunLog, workdir: Path, now: datetime) -> str:
    """The one line: jobs done/total (%), elapsed, ETA, and the running training jobs."""
    total = log.total
    pct = f" ({100 * log.done / total:.0f}%)" if total else ""
    parts = [f"progress: {log.done}/{total or '?'} jobs{pct}"]
    if log.start is not None:
        parts[0] += f", {duration((now - log.start).total_seconds())} elapsed"
    eta = eta_seconds(log, workdir, now, read_work(workdir))
    parts[0] += ", ETA " + ("after the first job" if eta is None else duration(eta))
    running = [p for p in (_job_part(j, workdir) for j in log.running()) if p is not None]
    parts += running[:SHOWN_JOBS]
    if len(running) > SHOWN_JOBS:
        parts.append(f"+{len(running) - SHOWN_JOBS} more")
    return " | ".join(parts)


def latest_log(workdir: Path) -> Path | None:
    """The newest Snakemake log of the workflow run in ``workdir``."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1] if logs else None


def read_status(logfile: Path) -> tuple[str, bool]:
    """The line for the run ``logfile`` records (its workflow directory holds ``.snakemake/``), and whether
    the run has ended."""
    log = parse_log(logfile.read_text(encoding="utf-8", errors="replace"))
    return status_line(log, logfile.resolve().parents[2], datetime.now()), log.ended


def every_seconds() -> float:
    """``MIXPIPE_PROGRESS_EVERY`` (seconds; 0 turns the workflow's line off), or the default."""
    raw = os.environ.get(EVERY_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_EVERY
    except ValueError:
        raise ValueError(f"{EVERY_ENV}={raw!r}: give seconds between progress lines (0: none)") from None
    return value if math.isfinite(value) and value > 0 else 0.0


def start_reporter(
    logfiles: Sequence[str], emit: Callable[[str], None], every: float
) -> threading.Thread | None:
    """From the workflow's ``onstart``: a daemon thread that emits the line every ``every`` seconds until the
    run's log says it ended. Nothing when ``every`` is 0 or no log file is known."""
    candidates = [Path(f) for f in logfiles] or [p for p in [latest_log(Path.cwd())] if p is not None]
    if every <= 0 or not candidates:
        return None
    logfile = candidates[0]

    def loop() -> None:
        while True:
            time.sleep(every)
            try:
                line, ended = read_status(logfile)
            except Exception:  # a display must never stop the workflow
                return
            if ended:
                return
            emit(line)

    thread = threading.Thread(target=loop, name="mixpipe-progress", daemon=True)
    thread.start()
    return thread


def watch(logfile: Path, every: float, once: bool) -> None:
    """Print the line until the run ends: in place on a terminal, one line each time otherwise."""
    tty = sys.stdout.isatty()
    while True:
        line, ended = read_status(logfile)
        if tty:
            width = shutil.get_terminal_size().columns - 1
            print("\r" + line[:width] + "\x1b[K", end="" if not (ended or once) else "\n", flush=True)
        else:
            print(line, flush=True)
        if ended or once:
            return
        time.sleep(every)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workdir", nargs="?", default=".", help="the workflow's directory (holds .snakemake/)")
    ap.add_argument("--log", help="a Snakemake log file (default: the newest in WORKDIR/.snakemake/log/)")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between updates")
    ap.add_argument("--once", action="store_true", help="print the line once and exit")
    args = ap.parse_args(argv)
    logfile = Path(args.log) if args.log else latest_log(Path(args.workdir))
    if logfile is None:
        sys.exit(
            f"no Snakemake log in {Path(args.workdir).resolve()}/.snakemake/log/: start the workflow first"
        )
    watch(logfile, args.every, args.once)


if __name__ == "__main__":
    main()
