"""Every Snakemake file (Snakefile, rules/*.smk) is snakefmt-clean under the project's settings
(pyproject.toml's [tool.snakefmt]: ruff's line length, directives kept in their order)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("snakefmt", reason="snakefmt is a dev dependency: pip install -e '.[dev]'")

REPO = Path(__file__).resolve().parents[2]


def _check(*paths: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakefmt",
        "--config",
        str(REPO / "pyproject.toml"),
        "--check",
        *map(str, paths),
    ]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_snakemake_files_are_snakefmt_clean():
    files = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    assert len(files) >= 7
    proc = _check(*files)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_check_fails_on_a_file_it_would_reformat(tmp_path):
    """The check is real: a rule with a line beyond 110 characters and a badly indented directive fails it."""
    long_call = "R(" + ", ".join(f'"part{i}"' for i in range(14)) + ")"
    assert len(long_call) > 110
    bad = tmp_path / "bad.smk"
    bad.write_text(f"rule bad:\n    input:\n          {long_call},\n    shell:\n        'true'\n")
    assert _check(bad, cwd=tmp_path).returncode == 1
