"""The progress line (pipeline_lib/progress.py) on a fabricated workflow folder: Snakemake's log, benchmark
files and training jobs' progress.jsonl; its numbers checked by hand."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

import pytest

from pipeline_lib import progress

LOG = """\
Building DAG of jobs...
Provided cores: 2
Job stats:
job        count
-------  -------
pack           2
train          3
all            1
total          6

Select jobs to execute...
Execute 2 jobs...
[Sat Dec  5 10:00:00 2026]
localrule pack:
    input: data/sample/arxiv.jsonl.gz
    output: results/data/arxiv/meta.json, results/data/arxiv/train.bin
    log: results/logs/data/pack_arxiv.log
    jobid: 1
    benchmark: results/benchmarks/data/pack_arxiv.tsv
    wildcards: group=arxiv
    resources: tmpdir=/tmp
[Sat Dec  5 10:00:00 2026]
localrule pack:
    output: results/data/book/meta.json, results/data/book/train.bin
    jobid: 2
    benchmark: results/benchmarks/data/pack_book.tsv
    wildcards: group=book
[Sat Dec  5 10:00:10 2026]
Finished jobid: 1 (Rule: pack)
1 of 6 steps (17%) done
[Sat Dec  5 10:00:20 2026]
Finished jobid: 2 (Rule: pack)
2 of 6 steps (33%) done
[Sat Dec  5 10:00:20 2026]
localrule train:
    output: results/as/runs/stratified/seed0/run.json, results/as/runs/stratified/seed0/curve.csv
    jobid: 3
    benchmark: results/benchmarks/as/runs/stratified/seed0.tsv
    wildcards: job=as/runs/stratified/seed0
[Sat Dec  5 10:00:20 2026]
localrule train:
    output: results/as/runs/aioli/seed0/run.json, results/as/runs/aioli/seed0/curve.csv
    jobid: 4
    benchmark: results/benchmarks/as/runs/aioli/seed0.tsv
    wildcards: job=as/runs/aioli/seed0
[Sat Dec  5 10:01:00 2026]
Finished jobid: 3 (Rule: train)
3 of 6 steps (50%) done
[Sat Dec  5 10:01:00 2026]
localrule train:
    output: results/as/runs/doge/seed0/run.json, results/as/runs/doge/seed0/curve.csv
    jobid: 5
    benchmark: results/benchmarks/as/runs/doge/seed0.tsv
    wildcards: job=as/runs/doge/seed0
"""
NOW = datetime(2026, 12, 5, 10, 1, 10)  # 70 s after the first job started


def _benchmark(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t90.0\n")


def _progress(path: Path, *lines: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture
def workdir(tmp_path):
    """A workflow folder mid-run: two packs and one training job finished, two training jobs running."""
    (tmp_path / ".snakemake" / "log").mkdir(parents=True)
    (tmp_path / ".snakemake" / "log" / "2026-12-05T100000.0.snakemake.log").write_text(LOG)
    bench = tmp_path / "results" / "benchmarks"
    _benchmark(bench / "data" / "pack_arxiv.tsv", 8.0)  # the log's stamps say 10 s: the benchmark wins
    _benchmark(bench / "data" / "pack_book.tsv", 12.0)
    _benchmark(bench / "as" / "runs" / "stratified" / "seed0.tsv", 40.0)
    _progress(
        tmp_path / "results" / "as" / "runs" / "aioli" / "seed0" / "progress.jsonl",
        {"step": 0, "steps": 100, "tokens": 0, "train_loss": None, "val_loss": {"a": 7.6, "b": 7.7}},
        {"step": 60, "steps": 100, "tokens": 4096, "train_loss": 5.12345, "val_loss": {"a": 5.3, "b": 5.5}},
    )
    return tmp_path


def test_the_log_is_read_into_counts_jobs_and_start(workdir):
    log = progress.parse_log(LOG)
    assert log.counts == {"pack": 2, "train": 3, "all": 1, "total": 6}
    assert (log.done, log.total, log.finished, log.ended) == (3, 6, ["1", "2", "3"], False)
    assert log.start == datetime(2026, 12, 5, 10, 0, 0)
    assert [j.name for j in log.running()] == ["as/runs/aioli/seed0", "as/runs/doge/seed0"]
    assert log.jobs["1"].benchmark == "results/benchmarks/data/pack_arxiv.tsv" and log.jobs["1"].name is None


def test_the_line_has_jobs_elapsed_eta_and_each_running_jobs_step_and_loss(workdir):
    # Finished: 8 + 12 + 40 = 60 s of jobs. Running: aioli for 50 s (counted up to train's mean, 40 s) and
    # doge for 10 s: 110 s of work done in 70 s. Left: 3 - 1 train jobs x 40 s and `all` at the mean of the
    # finished jobs that do not train (the packs: 20 / 2 = 10 s; of every job, 20 s), less the 50 s run: 40 s
    # of work at 110/70 per second -> 25.5 s.
    log = progress.parse_log(LOG)
    assert progress.eta_seconds(log, workdir, NOW) == pytest.approx(40 * 70 / 110)
    line = progress.status_line(log, workdir, NOW)
    assert line == (
        "progress: 3/6 jobs (50%), 1m10s elapsed, ETA 25s | as/runs/aioli/seed0 60/100 loss 5.123"
        " | as/runs/doge/seed0 starting"
    )


def test_with_the_jobs_work_a_training_job_takes_the_time_its_flops_take(workdir):
    # One training job finished: 40 s for 1 unit of work, so 40 s a unit. aioli (2 units: 80 s) has run 50 s
    # of it, doge (0.5: 20 s) 10 s; `all` 10 s. Done 60 + 50 + 10 = 120 s in 70 s; left 30 + 10 + 10 = 50 s.
    jobs = {f"as/runs/{m}/seed0": w for m, w in [("stratified", 1), ("aioli", 2), ("doge", 0.5)]}
    work = progress.Work({"train": jobs, "design_swarm": {}})
    progress.write_work(work, workdir)
    assert progress.read_work(workdir) == work
    log = progress.parse_log(LOG)
    assert progress.eta_seconds(log, workdir, NOW, work) == pytest.approx(50 * 70 / 120)
    assert "ETA 29s" in progress.status_line(log, workdir, NOW)  # the line reads the recorded work
    # a fourth training job, not started: the mean work of the jobs not seen yet (3 units: 120 s)
    more = progress.parse_log(LOG.replace("train          3", "train          4"))
    jobs.update(x=2.0, y=4.0)
    assert progress.eta_seconds(more, workdir, NOW, work) == pytest.approx((50 + 120) * 70 / 120)


@pytest.mark.parametrize(
    ("points", "work", "seconds"),
    [([(1, 10), (3, 20)], 5, 30), ([(1, 20), (3, 10)], 2, 15), ([(2, 10), (2, 14)], 1, 6)],
    ids=["a line", "a falling line: through the origin", "one work: through the origin"],
)
def test_the_seconds_a_unit_of_work_takes(tmp_path, points, work, seconds):
    text, jobs = "", {}
    for i, (w, s) in enumerate(points):
        text += f"[Sat Dec  5 10:00:00 2026]\nlocalrule train:\n    jobid: {i}\n    wildcards: job=j{i}\n"
        text += f"[Sat Dec  5 10:00:{s:02d} 2026]\nFinished jobid: {i} (Rule: train)\n"
        jobs[f"j{i}"] = float(w)
    log = progress.parse_log(text)
    fitted = progress._work_seconds(log, tmp_path, NOW, "train", jobs, progress._finished(log, tmp_path))
    assert fitted is not None and fitted(work) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "content",
    [
        '{"rules": {"train": {"a": "x"}}}',
        '{"rules": {"train": {"a": -1}}}',
        '{"rules": {"train": {"a": Infinity}}}',
        '{"rules": {"train": [1]}}',
        '{"rule": "train", "jobs": {"a": 1}}',
        "[1]",
        "{",
    ],
)
def test_a_work_file_that_is_not_names_to_work_is_ignored(tmp_path, content):
    (tmp_path / progress.WORK_FILE).parent.mkdir(parents=True)
    (tmp_path / progress.WORK_FILE).write_text(content)
    assert progress.read_work(tmp_path) is None


def test_a_rule_yet_to_finish_a_job_takes_at_least_what_its_running_job_has_run(workdir):
    """A long analysis step (Olmix's design) running for 60 s is not expected to take the packs' 10 s."""
    text = LOG.replace("all            1", "report         2\nall            1").replace(
        "total          6", "total          8"
    )
    text += "[Sat Dec  5 10:00:10 2026]\nlocalrule report:\n    jobid: 9\n"
    log = progress.parse_log(text)
    # as the first test, plus the report: 60 s run of 60 (done), and one more report of 60 s left
    assert progress.eta_seconds(log, workdir, NOW) == pytest.approx((40 + 60) * 70 / (110 + 60))
    # two running, the shorter announced first: the longer's 60 s is the floor (the other has run 20 of 60)
    both = text.replace(
        "[Sat Dec  5 10:00:10 2026]\nlocalrule report:", "[Sat Dec  5 10:00:50 2026]\nlocalrule report:"
    )
    both += "[Sat Dec  5 10:00:10 2026]\nlocalrule report:\n    jobid: 10\n"
    assert progress.eta_seconds(progress.parse_log(both), workdir, NOW) == pytest.approx(80 * 70 / 190)


def test_a_rule_yet_to_finish_a_job_takes_its_running_jobs_time_over_the_fraction_it_reports(workdir):
    """An Olmix design analysis 60 s in, 3 of its 30 subsets done: 600 s, for it and the next one."""
    text = LOG.replace("all            1", "design_swarm   2\nall            1").replace(
        "total          6", "total          8"
    )
    text += "[Sat Dec  5 10:00:10 2026]\nlocalrule design_swarm:\n"
    text += "    output: results/d/m5/scores.csv\n    jobid: 9\n"
    _progress(
        workdir / "results" / "d" / "m5" / "progress.jsonl",
        {"step": 0, "steps": 30},
        {"step": 3, "steps": 30},
    )
    log = progress.parse_log(text)
    # as the first test, plus the analyses: 60 s of the running one's 600 done, 540 + 600 left
    assert progress.eta_seconds(log, workdir, NOW) == pytest.approx((40 + 540 + 600) * 70 / (110 + 60))
    # with the analyses' work (m5: 54 units, m2 not started: 27), the next one takes half as long
    work = progress.Work({"design_swarm": {"results/d/m5": 54.0, "results/d/m2": 27.0}})
    assert progress.eta_seconds(log, workdir, NOW, work) == pytest.approx((40 + 540 + 300) * 70 / (110 + 60))
    assert "| results/d/m5 3/30" in progress.status_line(log, workdir, NOW)  # no loss: none reported


@pytest.mark.parametrize(
    ("line", "fraction"),
    [
        ({"step": 3, "steps": 30}, 0.1),
        ({"step": 0, "steps": 30}, None),
        ({"step": 31, "steps": 30}, None),
        ({"step": True, "steps": 30}, None),
        ({"step": "3", "steps": 30}, None),
        ({"step": 3, "steps": float("inf")}, None),
        ({"step": float("nan"), "steps": 30}, None),
        ({"steps": 30}, None),
        (None, None),
    ],
)
def test_a_progress_line_gives_a_fraction_only_when_its_step_of_steps_is_one(line, fraction):
    assert progress.done_fraction(line) == fraction


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("[3, 30]\n", None),
        ('"3 of 30"\n', None),
        ('{"steps": 30}\n', None),
        ('{"step": 1, "val_loss": 7}\n', "results/data/arxiv 1"),  # a step, no loss
        (
            '{"step": 1200000, "steps": 5000000, "unit": "tokens"}\n',
            "results/data/arxiv 1,200,000/5,000,000 tokens",
        ),
        ('{"step": "\\u001b[2J", "steps": 3}\n', None),  # a terminal escape is not a step
        ('{"step": 2, "steps": 4, "unit": "\\u001b[31m", "train_loss": "x"}\n', "results/data/arxiv 2/4"),
    ],
)
def test_a_progress_line_shows_numbers_and_a_word_for_a_unit_only(tmp_path, text, shown):
    head = LOG.split("[Sat Dec  5 10:00:10 2026]")[0]
    (tmp_path / "results" / "data" / "arxiv").mkdir(parents=True)
    (tmp_path / "results" / "data" / "arxiv" / "progress.jsonl").write_text(text)
    line = progress.status_line(progress.parse_log(head), tmp_path, NOW)
    assert line == "progress: 0/6 jobs (0%), 1m10s elapsed, ETA after the first job" + (
        f" | {shown}" if shown else ""
    )


def test_without_benchmarks_the_logs_stamps_give_the_times(workdir):
    for tsv in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        tsv.unlink()
    # pack: 10 s and 20 s, train: 40 s (10:00:20 -> 10:01:00): 70 s, and the running 40 + 10 s;
    # left: 2 x 40 + the packs' mean (15 s) - 50
    log = progress.parse_log(LOG)
    assert progress.eta_seconds(log, workdir, NOW) == pytest.approx((80 + 15 - 50) * 70 / 120)


def test_before_any_other_step_finishes_a_rule_without_times_takes_the_training_jobs_mean(tmp_path):
    """One training job finished (30 s, the run's 30 s so far), two to start, then ``all``: 30 s each."""
    stats = LOG.split("Select jobs")[0].replace("pack           2\n", "")
    text = stats.replace("total          6", "total          4")
    text += (
        "[Sat Dec  5 10:00:00 2026]\nlocalrule train:\n    output: results/a/run.json\n    jobid: 1\n"
        "    benchmark: results/benchmarks/a.tsv\n    wildcards: job=a\n"
        "[Sat Dec  5 10:00:30 2026]\nFinished jobid: 1 (Rule: train)\n1 of 4 steps (25%) done\n"
    )
    _benchmark(tmp_path / "results" / "benchmarks" / "a.tsv", 30.0)
    log = progress.parse_log(text)
    assert progress._training_rules(log) == {"train"} and log.counts == {"train": 3, "all": 1, "total": 4}
    assert progress.eta_seconds(log, tmp_path, datetime(2026, 12, 5, 10, 0, 30)) == pytest.approx(3 * 30)


def test_no_eta_before_a_job_finishes_and_the_validation_mean_before_a_training_loss(tmp_path):
    head = LOG.split("[Sat Dec  5 10:00:10 2026]")[0]
    _progress(
        tmp_path / "results" / "data" / "arxiv" / "progress.jsonl",
        {"step": 0, "steps": 8, "train_loss": None, "val_loss": {"a": 7.0, "b": 8.0}},
    )
    line = progress.status_line(progress.parse_log(head), tmp_path, NOW)
    # no job wildcard, but a progress file: named by its folder; the loss is the validation mean
    expected = (
        "progress: 0/6 jobs (0%), 1m10s elapsed, ETA after the first job | results/data/arxiv 0/8 loss 7.500"
    )
    assert line == expected


def test_a_failed_job_is_not_running_and_the_end_is_seen():
    text = LOG + (
        "[Sat Dec  5 10:01:30 2026]\nError in rule train:\n    message: boom\n    jobid: 4\n"
        "Shutting down, this might take some time.\nExiting because a job execution failed. Look below\n"
    )
    log = progress.parse_log(text)
    assert log.failed == {"4"} and [j.name for j in log.running()] == ["as/runs/doge/seed0"] and log.ended


@pytest.mark.parametrize(("seconds", "text"), [(7.4, "7s"), (59.6, "1m00s"), (581, "9m41s"), (3720, "1h02m")])
def test_durations_read_at_a_glance(seconds, text):
    assert progress.duration(seconds) == text


def test_the_workflows_reporter_emits_until_the_log_ends(workdir):
    logfile = next((workdir / ".snakemake" / "log").glob("*.log"))
    lines: list[str] = []
    emitted = threading.Event()

    def emit(line: str) -> None:
        lines.append(line)
        emitted.set()

    thread = progress.start_reporter([str(logfile)], emit, every=0.05)
    assert thread is not None and emitted.wait(10)
    assert (
        lines[0].startswith("progress: 3/6 jobs (50%)")
        and "as/runs/aioli/seed0 60/100 loss 5.123" in lines[0]
    )
    with open(logfile, "a") as fh:
        fh.write("Complete log(s): x\n")
    thread.join(10)
    assert not thread.is_alive()
    assert progress.start_reporter([str(logfile)], emit, every=0) is None  # MIXPIPE_PROGRESS_EVERY=0: off


def test_every_seconds_reads_the_environment(monkeypatch):
    monkeypatch.delenv(progress.EVERY_ENV, raising=False)
    assert progress.every_seconds() == progress.DEFAULT_EVERY
    monkeypatch.setenv(progress.EVERY_ENV, "0")
    assert progress.every_seconds() == 0.0
    monkeypatch.setenv(progress.EVERY_ENV, "soon")
    with pytest.raises(ValueError, match="MIXPIPE_PROGRESS_EVERY='soon': give seconds"):
        progress.every_seconds()


def test_the_command_prints_one_line_for_a_workflow_folder(workdir, capsys):
    progress.main([str(workdir), "--once"])
    out = capsys.readouterr().out
    assert out.startswith("progress: 3/6 jobs (50%)") and out.count("\n") == 1  # not a terminal: plain lines
    with pytest.raises(SystemExit, match=r"no Snakemake log in .*: start the workflow first"):
        progress.main([str(workdir / "results"), "--once"])
