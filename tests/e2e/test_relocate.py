"""Relocatable results: no job's recorded command names the interpreter or the checkout, so a results
folder moved with its .snakemake/ metadata to another checkout reruns nothing."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.workflow.helpers import REPO, snakemake

pytestmark = pytest.mark.slow

_WORKFLOW = (
    "Snakefile",
    "rules",
    "pipeline_lib",
    "config",
    "config.yaml",
    "report",
    "profiles",
    "environment.yml",
)


def _checkout(root: Path) -> Path:
    """A copy of the workflow and the shipped corpus, with a tiny config using relative paths only."""
    root.mkdir()
    for name in (*_WORKFLOW, "data/sample"):
        src, dst = REPO / name, root / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    cfg = yaml.safe_load((REPO / "config/test/tiny.yaml").read_text())
    cfg |= {
        "results_dir": "results",
        "run": {"settings": ["pair"], "methods": ["stratified"], "seeds": [0], "law_fidelity": False},
        "restricted": {"settings": []},
    }
    (root / "tiny.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


def test_results_moved_with_their_metadata_to_another_checkout_rerun_nothing(tmp_path):
    first = _checkout(tmp_path / "first")
    snakemake(first, first / "tiny.yaml", repo=first)
    records = [json.loads(p.read_text()) for p in (first / ".snakemake/metadata").iterdir()]
    commands = [r["shellcmd"] for r in records if r.get("shellcmd")]
    assert commands and all(c.startswith("python -m pipeline_lib.") for c in commands), commands[:3]
    assert not [c for c in commands if str(first) in c or sys.executable in c]

    moved = tmp_path / "moved"
    shutil.copytree(first, moved, symlinks=True)
    shutil.rmtree(first)  # nothing may point back at the first checkout
    out = snakemake(moved, moved / "tiny.yaml", "-n", repo=moved).stdout
    assert "Nothing to be done" in out, out[-3000:]
