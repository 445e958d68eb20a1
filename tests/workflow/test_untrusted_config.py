"""Config files are untrusted input: a key given twice, or Snakemake's YTE templating (Python code in the
file), stops the dry run before any job, naming the file and the lines (issue: untrusted input)."""

from __future__ import annotations

from tests.workflow.helpers import PLAIN_LOG, REPO, run_snakemake, snakemake, write_config


def test_two_train_blocks_stop_the_dry_run(tmp_path):
    cfg = write_config("config/test/tiny.yaml", tmp_path)
    lines = cfg.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("train:")) + 1
    cfg.write_text(cfg.read_text() + "train:\n  steps: 2\n")
    out = snakemake(tmp_path, cfg, "-n", check=False)
    second = len(lines) + 1
    assert out.returncode != 0
    assert (
        f"{cfg}:{second}: key 'train' is given twice (lines {first} and {second})" in out.stdout + out.stderr
    )
    assert "Traceback" not in out.stderr and not (tmp_path / "results").exists()


def test_yte_in_a_configfile_is_refused(tmp_path):
    cfg = write_config("config/test/tiny.yaml", tmp_path)
    cfg.write_text("__use_yte__: true\n" + cfg.read_text())
    out = snakemake(tmp_path, cfg, "-n", check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert f"{cfg}:1: __use_yte__ turns on Snakemake's YTE templating" in text
    assert "Snakemake's command line has already evaluated" in text


def test_yte_in_the_default_config_is_refused_before_it_runs(tmp_path):
    """Without --configfile the workflow reads config.yaml itself: the template is refused unevaluated."""
    text = (REPO / "config.yaml").read_text()
    marker = tmp_path / "ran"
    text = text.replace(
        "results_dir: ", f"__use_yte__: true\nx: ?open({str(marker)!r}, 'w')\nresults_dir: ", 1
    )
    (tmp_path / "config.yaml").write_text(text)
    proc = run_snakemake(["--snakefile", str(REPO / "Snakefile"), "-n", *PLAIN_LOG], tmp_path, timeout=300)
    assert proc.returncode != 0
    assert "config.yaml:" in proc.stdout + proc.stderr and "(it would run code)" in proc.stdout + proc.stderr
    assert not marker.exists()
