"""The workflow takes the results directory's lock when it runs jobs, not for a dry run: a second workflow
on the same results_dir stops before any job, naming the holder."""

from __future__ import annotations

from tests.unit.test_results_lock import hold_lock, release
from tests.workflow.helpers import snakemake, write_config


def test_a_second_workflow_on_the_same_results_dir_stops_before_any_job(tmp_path):
    work, other = tmp_path / "work", tmp_path / "other"
    work.mkdir(), other.mkdir()
    cfg = write_config("config/test/tiny.yaml", work)
    results = work / "results"
    holder = hold_lock(results, other)
    try:
        assert snakemake(work, cfg, "-n").returncode == 0  # a dry run takes no lock
        tokenizer = results / "data" / "tokenizer.json"
        out = snakemake(work, cfg, str(tokenizer), check=False)
        assert out.returncode != 0
        text = out.stdout + out.stderr
        assert f"is held by pid {holder.pid}" in text and f"working directory {other}" in text
        assert not tokenizer.exists()
    finally:
        release(holder)
    snakemake(work, cfg, str(tokenizer))  # the holder gone, the workflow runs
    assert tokenizer.exists()
