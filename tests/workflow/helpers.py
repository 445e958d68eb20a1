"""Run the workflow from tests: a config copied into a temp dir, with paths made absolute."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

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


def snakemake_command(workdir: Path, configfiles: Path | list[Path], repo: Path = REPO) -> list[str]:
    """The snakemake command line of the tests: the repo's Snakefile (this checkout, or a copy), 2 cores,
    the greedy scheduler, the plain text log (:data:`PLAIN_LOG`)."""
    files = configfiles if isinstance(configfiles, list) else [configfiles]
    return [
        sys.executable,
        "-m",
        "snakemake",
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


def snakemake(
    workdir: Path, configfiles: Path | list[Path], *args: str, check: bool = True, repo: Path = REPO
) -> subprocess.CompletedProcess:
    cmd = [*snakemake_command(workdir, configfiles, repo), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=900)
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


def finished_workflow(workdir: Path, config: str | Path) -> tuple[Path, Path]:
    """Run a shipped config to completion in ``workdir`` (an end-to-end suite's fixture)."""
    cfg = write_config(config, workdir)
    snakemake(workdir, cfg)
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
