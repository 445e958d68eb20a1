"""The workflow's software environment (environment.yml, every rule's `conda:`) pins what pyproject.toml pins,
and the workflow passes `snakemake --lint`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.workflow.helpers import run_snakemake

REPO = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def test_environment_yml_has_the_pins_of_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    torch_pin = re.search(r'TORCH_SPEC \?= "?([^"\n]+)', (REPO / "Makefile").read_text()).group(1)
    expected = {_name(r): r.replace(" ", "") for r in project}
    expected["torch"] = torch_pin
    assert {_name(r): r.replace(" ", "") for r in pip} == expected


@pytest.mark.parametrize(
    "configs", [[], ["config/paper/base.yaml", "config/paper/abse.yaml"], ["config/olmix-design.yaml"]]
)
def test_snakemake_lint_is_clean(configs):
    args = ["--configfile", *configs] if configs else []
    proc = run_snakemake(["--lint", *args], REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
