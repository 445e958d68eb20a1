"""The own-data path: the example config dry-runs from the README as written (with a target too), and a
results_dir shared by two configs with different data is refused before any job."""

from __future__ import annotations

import shlex

from tests.workflow.helpers import REPO, run_snakemake, snakemake, write_config

EXAMPLE = "config/examples/own-data.yaml"


def _readme_commands() -> list[list[str]]:
    """The README's snakemake commands that use the example config, as argv (comments dropped)."""
    lines = [line.split(" # ")[0] for line in (REPO / "README.md").read_text().splitlines()]
    return [shlex.split(line) for line in lines if line.startswith(".venv/bin/snakemake") and EXAMPLE in line]


def test_the_example_config_dry_runs_from_the_readme_as_written():
    commands = _readme_commands()
    assert any("--" in argv for argv in commands), "the README shows a target with --configfile"
    for argv in commands:
        proc = run_snakemake(["-n", *argv[1:]], REPO, timeout=300)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{shlex.join(argv)}:\n{out[-3000:]}"
        assert "settings that differ from config.yaml (--configfile config/examples/own-data.yaml" in out
        assert '  results_dir: "results/own-data"  (config.yaml: "results")' in out
        assert "  train.steps:" not in out  # the example keeps the demo's schedule


def test_a_target_after_the_config_files_needs_the_double_dash(tmp_path):
    cfg = write_config("config/test/tiny.yaml", tmp_path)
    target = str(tmp_path / "results/pair/runs/stratified/seed0/run.json")
    out = snakemake(tmp_path, cfg, "-n", "--", target).stdout
    assert "rule train:" in out and out.count("rule train:") == 1 and "rule table2:" not in out


def test_two_configs_with_different_data_cannot_share_a_results_dir(tmp_path):
    shared = str(tmp_path / "shared")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_config("config/test/tiny.yaml", tmp_path / "a", results_dir=shared)
    snakemake(tmp_path / "a", first, f"{shared}/data/tokenizer.json")  # a job runs: the data are recorded
    other = write_config(
        "config/test/tiny.yaml",
        tmp_path / "b",
        results_dir=shared,
        settings={"pair": {"groups": ["arxiv", "github"], "static": {"arxiv": 0.5, "github": 0.5}}},
        run={"settings": ["pair"], "methods": ["stratified"], "seeds": [0]},
        restricted={"settings": []},
    )
    proc = snakemake(tmp_path / "b", other, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"results_dir {shared} holds the data of another configuration ({shared}/data/data.json)" in out
    assert f"recorded: {first} (source jsonl {REPO}/data/sample, groups arxiv, stackexchange, book)" in out
    assert f"this run: {other} (source jsonl {REPO}/data/sample, groups arxiv, github)" in out
    assert "give this config its own results_dir" in out
    assert snakemake(tmp_path / "a", first, "-n").returncode == 0  # the first config still runs there
