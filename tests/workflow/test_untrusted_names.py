"""Names and the results directory from a config are checked before any job: none reaches a shell or a path
as anything but a plain word (issue: untrusted input)."""

from __future__ import annotations

import pytest
import yaml

from pipeline_lib.config.names import bad_name
from tests.workflow.helpers import snakemake, write_config


@pytest.mark.parametrize("name", ["..", "../../escaped", "p$(touch x)", "a b", "-rf", "", "x/y", "é" * 2])
def test_names_that_could_escape_or_inject_are_refused(name):
    assert bad_name(name)


@pytest.mark.parametrize("name", ["arxiv", "all7", "wikipedia_long", "c4.en", "Book-2"])
def test_ordinary_names_pass(name):
    assert not bad_name(name)


CASES = {
    "setting": (
        {
            "settings": {"p$(touch x)": {"groups": ["arxiv", "stackexchange"]}},
            "run": {"settings": ["p$(touch x)"], "methods": ["stratified"]},
        },
        "settings.p$(touch x): name 'p$(touch x)' is not allowed",
    ),
    "group": (
        {"settings": {"pair": {"groups": ["..", "arxiv"]}}, "run": {"settings": ["pair"]}},
        "name '..' is not allowed",
    ),
    "results_dir": ({"results_dir": "../.."}, "the working directory or one of its parents"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_dry_run_stops_before_any_job_naming_the_field(tmp_path, case):
    overrides, message = CASES[case]
    cfg = write_config("config/test/tiny.yaml", tmp_path, restricted={"settings": []})
    raw = yaml.safe_load(cfg.read_text())
    for key, value in overrides.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) and key != "settings" else value
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = snakemake(tmp_path, cfg, "-n", check=False)
    assert out.returncode != 0 and message in out.stdout + out.stderr
    assert not (tmp_path / "x").exists() and "Traceback" not in out.stderr


def test_a_results_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("")
    cfg = write_config("config/test/tiny.yaml", tmp_path, results_dir=str(tmp_path / "out"))
    out = snakemake(tmp_path, cfg, "-n", check=False)
    assert out.returncode != 0 and "is a file; give a directory" in out.stdout + out.stderr
