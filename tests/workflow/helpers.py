"""Run the workflow from tests: a config copied into a temp dir, with paths made absolute."""

from __future__ import annotations

import atexit
import functools
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from pipeline_lib import fork_server, launcher

REPO = Path(__file__).resolve().parents[2]


def write_config(src: str | Path, workdir: Path, resolve_source: bool = True, **overrides: Any) -> Path:
    """Copy a config into ``workdir``: results under it, the corpus path absolute (unless
    ``resolve_source`` is False: a hub id), overrides applied."""
    cfg = yaml.safe_load((REPO / src).read_text())
    cfg["results_dir"] = str(workdir / "results")
    source = cfg.setdefault("data", {}).setdefault("source", {})
    if resolve_source:
        source["path"] = str(REPO / source.get("path", "data/sample"))
    for dotted, value in overrides.items():
        node = cfg
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


PLAIN_LOG = ["--workflow-profile", "none", "--rerun-incomplete"]
"""Snakemake's plain text log (the tests read it; profiles/default's live display is for people), with the
default profile's rerun-incomplete."""


def snakemake_args(workdir: Path, configfiles: Path | list[Path], repo: Path = REPO) -> list[str]:
    """The snakemake arguments of the tests: the repo's Snakefile (this checkout, or a copy), 2 cores, the
    greedy scheduler, the plain text log (:data:`PLAIN_LOG`)."""
    files = configfiles if isinstance(configfiles, list) else [configfiles]
    return [
        "--snakefile",
        str(repo / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, files),
        "--cores",
        "2",
        "--scheduler",
        "greedy",
        *PLAIN_LOG,
    ]


SNAKEMAKE_PRELOAD = (
    "snakemake.cli", "snakemake.api", "snakemake.report", "snakemake_logger_plugin_rich.handler",
    "smart_open", "jsonschema", "pipeline_lib.config.load", "pipeline_lib.config.effective",
    "pipeline_lib.plan", "pipeline_lib.data.sources", "pipeline_lib.data_identity", "pipeline_lib.tasks.load",
    "pipeline_lib.progress", "pipeline_lib.results_lock", "scipy.spatial",
)  # fmt: skip
"""What the tests' snakemake server imports once: Snakemake (pandas, SQLAlchemy ...) and what a Snakefile run
loads after it (its logger and report modules, smart_open, jsonschema: ~0.33 s a run), the config, data and
planning code and the Dirichlet covers' scipy.spatial (~0.2 s; not torch: a dry run never imports it)."""
NO_SERVER = "MIXPIPE_TEST_FORK"
"""Set to 0 to start every snakemake of the tests as its own interpreter."""


def _servers_on() -> bool:
    """Whether the tests start their fork servers (Linux, unless :data:`NO_SERVER` is 0)."""
    return os.environ.get(NO_SERVER) != "0" and sys.platform.startswith("linux")


@functools.cache
def _server_env() -> dict[str, str]:
    """Variables that point a launcher at this test process's snakemake server (started on first use, one per
    pytest-xdist worker; it dies with the worker), or {} where it is off or unavailable."""
    if not _servers_on():
        return {}
    handle = _worker_server(
        Path(tempfile.gettempdir()) / f"mixpipe-test-server-{os.getpid()}.log",
        preload=SNAKEMAKE_PRELOAD,
        any_cwd=True,  # each test's folder: nothing importable lives there
        modules=("snakemake",),
    )
    return {launcher.ENV: handle.address, **{var: "1" for var in launcher.THREAD_VARS}}


def _worker_server(log: Path, **start: Any) -> fork_server.ServerHandle:
    """A fork server of this pytest-xdist worker (``start_server(log, **start)``), stopped and its log removed
    when the worker exits (it dies with the worker in any case)."""
    handle = fork_server.start_server(log, **start)
    atexit.register(log.unlink, missing_ok=True)
    atexit.register(fork_server.stop_server, handle)  # first: atexit runs last in, first out
    return handle


STEP_SERVER_LOG = Path(tempfile.gettempdir()) / f"mixpipe-test-steps-{os.getpid()}.log"
"""The log of this worker's step server (:func:`_step_server_env`): a line per step it forked."""


@functools.cache
def _step_server_env() -> dict[str, str]:
    """``{launcher.SHARED_ENV: address}`` of this worker's fork server for the workflows' steps (a workflow's
    preload, started on first use): every workflow a test runs forks its steps from it instead of starting a
    server of its own (~4 CPU-s of imports each, which its first jobs wait for)."""
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))  # as shell.prefix
    handle = _worker_server(STEP_SERVER_LOG, pythonpath=pythonpath, any_cwd=True)  # any test's folder
    return {launcher.SHARED_ENV: handle.address}


def step_forks() -> list[str] | None:
    """The modules the worker's step server has forked so far, in order; None where tests start no servers."""
    if not _servers_on():
        return None
    text = STEP_SERVER_LOG.read_text() if STEP_SERVER_LOG.exists() else ""
    return re.findall(r"^forked (\S+) ", text, flags=re.M)


def run_snakemake(
    argv: list[str],
    cwd: Path,
    repo: Path = REPO,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    own_server: bool = False,
) -> subprocess.CompletedProcess:
    """``python -m snakemake ARGV`` in ``cwd``, its output captured. With this checkout's Snakefile it is a
    fork of a server that imported Snakemake once (:mod:`pipeline_lib.launcher`; a copy of the repo imports
    its own code, so it starts as usual): the same program in a process of its own, ~1.5 s sooner. A run
    that runs jobs forks them from the worker's step server (:func:`_step_server_env`), unless
    ``own_server``: then it starts its own, as a user's run does."""
    server = _server_env() if Path(repo).resolve() == REPO else {}
    start = ["-m", "pipeline_lib.launcher", "-m", "snakemake"] if server else ["-m", "snakemake"]
    runs_jobs = not {"-n", "--dry-run", "--lint"} & set(argv)
    steps = _step_server_env() if server and runs_jobs and not own_server else {}
    full_env = {**(os.environ if env is None else env), **server, **steps}
    return subprocess.run(
        [sys.executable, *start, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
    )


def snakemake(
    workdir: Path,
    configfiles: Path | list[Path],
    *args: str,
    check: bool = True,
    repo: Path = REPO,
    own_server: bool = False,
) -> subprocess.CompletedProcess:
    argv = [*snakemake_args(workdir, configfiles, repo), *args]
    proc = run_snakemake(argv, workdir, repo, own_server=own_server)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> number of jobs."""
    counts = {}
    block = output.split("Job stats:", 1)[1]
    for line in block.splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def train_jobs(output: str) -> dict[str, int]:
    """The training jobs of a dry run by kind: ``runs`` (final runs) or ``pilots/<kind>``."""
    counts: dict[str, int] = {}
    for job in re.findall(r"wildcards: job=(\S+)", output):
        parts = job.split("/")
        at = parts.index("runs") if "runs" in parts else parts.index("pilots")
        kind = "runs" if parts[at] == "runs" else f"pilots/{parts[at + 1]}"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def finished_workflow(workdir: Path, config: str | Path, own_server: bool = False) -> tuple[Path, Path]:
    """Run a shipped config to completion in ``workdir`` (an end-to-end suite's fixture); ``own_server``: with
    the fork server of its own that a user's run starts (:func:`run_snakemake`)."""
    cfg = write_config(config, workdir)
    snakemake(workdir, cfg, own_server=own_server)
    return workdir, cfg


def two_seed_pair_config(workdir: Path, methods: list[str], **overrides: Any) -> Path:
    """tiny.yaml on one two-group setting (arxiv, stackexchange), two seeds, ``methods``, no law fidelity and
    no restricted runs: the small multi-seed workflow of the e2e tests."""
    return write_config(
        "config/test/tiny.yaml",
        workdir,
        settings={"pair": {"groups": ["arxiv", "stackexchange"]}},
        run={"settings": ["pair"], "methods": methods, "seeds": [0, 1], "law_fidelity": False},
        restricted={"settings": []},
        **overrides,
    )
