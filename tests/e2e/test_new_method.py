"""A new method is one unit: its module, one registry entry and its config lines are all it takes for the
workflow to plan its learning runs, run its fit step and final run, and table it (no rule, no planner
change). The test adds a toy method to a copy of the workflow and runs it end to end."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from tests.workflow.helpers import REPO, snakemake, write_config

pytestmark = pytest.mark.slow

# The toy: train on the group whose one-hot run reached the lowest mean validation loss, mixed with uniform
# by `weight` (its one parameter, range-checked by its config).
TOY_MODULE = '''
"""Toy: the best one-hot run's group, mixed with uniform (a test's method)."""

from __future__ import annotations

import argparse

import numpy as np

from pipeline_lib.methods.fitted import FittedStatic
from pipeline_lib.methods.pilots import load_pilots
from pipeline_lib.records import FitRecord, Spent


class Toy(FittedStatic):
    fit_name = "toy"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--weight", type=float, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    runs = load_pilots(args.runs)
    m = len(runs.groups)
    best = int(np.argmin(runs.L.mean(axis=1)))
    p = np.full(m, (1 - args.weight) / m)
    p[best] += args.weight
    FitRecord(
        method="toy", groups=runs.groups, extra_runs=Spent.of(runs.records), proportions=tuple(p.tolist()),
        details={"best": runs.groups[best]},
    ).write(args.out)


if __name__ == "__main__":
    main()
'''

TOY_ENTRY = """

# -- a test's toy method: its config and its declaration ------------------------------------------------
from pipeline_lib.config.ranges import ranged


@dataclass(frozen=True)
class ToyConfig(MethodConfig):
    weight: float = ranged(0.5, ge=0, le=1)  # the best group's share beyond uniform


METHODS["toy"] = Method(
    _M + "toy:Toy",
    ToyConfig,
    learns_on=ONEHOT,
    fit=FitStep(
        _M + "toy",
        lambda c: ["--runs", *c.inputs["runs"], "--weight", str(c.plan.method_config(c.view, "toy").weight),
                   "--out", c.out],
        _runs(ONEHOT),
    ),
)
"""


def _workflow_with_toy(root: Path) -> Path:
    """A copy of the workflow with the toy's module and registry entry added (nothing else changed)."""
    repo = root / "repo"
    repo.mkdir()
    for name in ("Snakefile", "rules", "pipeline_lib", "config", "report", "profiles", "environment.yml"):
        src, dst = REPO / name, repo / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    (repo / "pipeline_lib/methods/toy.py").write_text(TOY_MODULE)
    registry = repo / "pipeline_lib/config/registry.py"
    registry.write_text(registry.read_text() + textwrap.dedent(TOY_ENTRY))
    return repo


def test_a_toy_method_added_as_module_entry_and_config_is_planned_run_and_tabled(tmp_path):
    repo = _workflow_with_toy(tmp_path)
    cfg = write_config(
        "config/test/tiny.yaml",
        tmp_path,
        methods={"stratified": {}, "toy": {"weight": 0.6}},
        run={"settings": ["pair"], "methods": ["stratified", "toy"], "seeds": [0], "law_fidelity": False},
        restricted={"settings": []},
    )
    dry = snakemake(tmp_path, cfg, "-n", repo=repo).stdout
    assert "wildcards: job=pair/pilots/onehot/seed0/arxiv" in dry and "fit=toy" in dry

    snakemake(tmp_path, cfg, repo=repo)
    results = tmp_path / "results"
    fit = json.loads((results / "pair/fits/toy/seed0.json").read_text())
    assert fit["best"] in ("arxiv", "stackexchange") and max(fit["proportions"]) == pytest.approx(0.8)
    run = json.loads((results / "pair/runs/toy/seed0/run.json").read_text())
    assert [run["final_mixture"][g] for g in fit["groups"]] == pytest.approx(fit["proportions"])
    table2 = pd.read_csv(results / "report/table2.csv").set_index("method")
    assert "toy" in table2.index and table2.loc["toy", "extra_runs"] == 2  # its two one-hot runs

    # its config is checked like every method's: an out-of-range weight stops the dry run, naming the field
    bad = write_config("config/test/tiny.yaml", tmp_path, methods={"toy": {"weight": 2.0}}, run={
        "settings": ["pair"], "methods": ["toy"], "seeds": [0], "law_fidelity": False})  # fmt: skip
    out = snakemake(tmp_path, bad, "-n", repo=repo, check=False)
    assert out.returncode != 0 and "methods.toy.weight: must be in [0, 1], got 2.0" in out.stderr + out.stdout
