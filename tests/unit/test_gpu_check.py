"""The device check (bench/gpu_check.py) end to end on CPU in quick mode, as a GPU machine would run it,
with Snakemake and datasets made unimportable (a bare GPU image has neither)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO

BLOCKED = "import sys; sys.modules.update(snakemake=None, datasets=None); import runpy; "


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("check") / "check.json"
    argv = [
        "bench/gpu_check.py",
        "--device",
        "cpu",
        "--quick",
        "--out",
        str(out),
        "--throughput-budget",
        "1e4",
    ]
    code = BLOCKED + f"sys.argv = {argv!r}; runpy.run_path('bench/gpu_check.py', run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| eager |" in proc.stdout and "aioli / stratified wall time" in proc.stdout  # the printed table
    assert "stratified over 2 ranks" in proc.stdout
    return json.loads(out.read_text())


@pytest.mark.slow
def test_every_section_runs_and_is_recorded(summary):
    assert summary["ok"] and summary["device"] == "cpu" and summary["quick"]
    assert list(summary["sections"]) == ["env", "cuda_tests", "throughput", "data", "runs", "data_parallel"]
    for name, section in summary["sections"].items():
        assert section["ok"], (name, section.get("error"))
        assert section["wall_s"] >= 0
    assert summary["sections"]["env"]["torch"] and summary["sections"]["env"]["cuda_available"] is False


@pytest.mark.slow
def test_cuda_tests_are_collected_and_skipped_without_a_gpu(summary):
    tests = summary["sections"]["cuda_tests"]
    assert tests["returncode"] == 0 and tests["failed"] == 0 and tests["skipped"] >= 8


@pytest.mark.slow
def test_throughput_paths_report_tokens_and_ratios(summary):
    paths = {k: v for k, v in summary["sections"]["throughput"].items() if isinstance(v, dict)}
    assert {"eager", "eager_async", "eager_chunked_loss", "compiled"} <= set(paths)
    for name, result in paths.items():
        assert result["ok"], (name, result.get("error"))
        assert result["tokens_per_s"] > 0 and result["ratio_to_eager"] > 0 and result["loss"] > 0
    assert paths["eager"]["ratio_to_eager"] == 1.0 and paths["compiled"]["switches"]["compile"] is True


@pytest.mark.slow
def test_runs_report_ratio_eval_share_and_cpu_determinism(summary):
    data = summary["sections"]["data"]["groups"]
    assert set(data) == {"arxiv", "stackexchange"} and all(v["train"] > 0 for v in data.values())
    runs = summary["sections"]["runs"]
    assert runs["aioli_over_stratified"] > 0
    for method in ("stratified", "aioli"):
        assert runs[method]["deterministic"] is True and runs[method]["max_abs_diff"] == 0.0
        assert 0 < runs[method]["eval_share"] < 1 and runs[method]["avg_test_ppl"] > 1


@pytest.mark.slow
def test_two_ranks_train_the_run_of_one_process(summary):
    dp = summary["sections"]["data_parallel"]
    assert dp["ranks"] == 2 and dp["speedup"] > 0 and set(dp["train_s"]) == {"1", "2"}
    assert dp["one_process"] == "the runs section's"  # its stratified run, the same spec: not trained again
    assert dp["max_abs_test_loss_diff"] < 1e-4


def test_the_check_trains_on_the_gpu_sample_schedule():
    """The check's runs use config/gpu-sample.yaml's model and schedule (steps aside)."""
    import argparse

    sys.path.insert(0, str(REPO / "bench"))
    import gpu_check

    args = argparse.Namespace(quick=False, device="cuda")
    sample = yaml.safe_load((REPO / "config" / "gpu-sample.yaml").read_text())
    train = gpu_check.train_config(args, sample["train"]["steps"])
    for key, value in sample["train"].items():
        if key not in ("warmup_steps", "eval_every"):
            assert getattr(train, key) == value, key
    assert gpu_check.shape(args)["preset"] == sample["model"]["preset"]
    assert gpu_check.shape(args)["vocab"] == sample["data"]["tokenizer"]["vocab_size"]


def test_paths_over_the_throughput_budget_are_skipped_and_said_so():
    import argparse

    sys.path.insert(0, str(REPO / "bench"))
    import gpu_check

    args = argparse.Namespace(quick=True, device="cpu", cuda=False, steps=1, throughput_budget=-1.0)
    out = gpu_check.section_throughput(args, {})
    assert out and all("over the section's budget" in r["skipped"] for r in out.values())
    table = gpu_check.table({"device": "cpu", "wall_s": 1.0, "sections": {"throughput": {"ok": True, **out}}})
    assert "| eager | over the section's budget" in table


def test_peak_flops_by_device_name():
    sys.path.insert(0, str(REPO / "bench"))
    from common import peak_flops

    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12 and peak_flops("NVIDIA H100 PCIe") == 756e12
    assert peak_flops("NVIDIA H200") == 989e12 and peak_flops("Some GPU") is None
