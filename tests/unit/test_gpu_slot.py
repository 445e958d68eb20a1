"""The GPU-slot allocator: concurrent holders get different devices; a released slot is taken again."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pipeline_lib.train.gpu_slot import acquire, candidate_devices, pinned_gpu
from tests.conftest import REPO


def test_two_holders_get_different_slots_and_a_released_slot_is_reused(tmp_path):
    a = acquire(2, tmp_path)
    b = acquire(2, tmp_path)
    assert {a.device, b.device} == {"0", "1"}
    with pytest.raises(TimeoutError, match="fewer than 1 of the 2 GPU slots"):
        acquire(2, tmp_path, timeout_s=0, poll_s=0.01)
    a.release()
    c = acquire(2, tmp_path, timeout_s=0)
    assert c.device == a.device
    b.release()
    c.release()


def test_pinned_gpu_sets_and_restores_cuda_visible_devices(tmp_path):
    env: dict[str, str] = {}
    with pinned_gpu(3, tmp_path, env=env) as first:
        assert env["CUDA_VISIBLE_DEVICES"] == first == "0"
        other: dict[str, str] = {}
        with pinned_gpu(3, tmp_path, env=other) as second:
            assert other["CUDA_VISIBLE_DEVICES"] == second == "1"
    assert "CUDA_VISIBLE_DEVICES" not in env
    with pinned_gpu(0, tmp_path, env=env) as none:  # 0 slots: pinning is off
        assert none is None and env == {}


def test_slots_follow_an_existing_cuda_visible_devices(tmp_path):
    assert candidate_devices(2, "4,6,7") == ["4", "6"]
    assert candidate_devices(2, None) == ["0", "1"]
    env = {"CUDA_VISIBLE_DEVICES": "5,6"}
    with pinned_gpu(2, tmp_path, env=env) as device:
        assert device == env["CUDA_VISIBLE_DEVICES"] == "5"
    assert env["CUDA_VISIBLE_DEVICES"] == "5,6"


def test_a_slot_held_by_another_process(tmp_path):
    holder = textwrap.dedent(
        f"""
        import sys, time
        from pipeline_lib.train.gpu_slot import acquire
        slot = acquire(2, {str(tmp_path)!r})
        print(slot.device, flush=True)
        sys.stdin.read()  # hold it until the test closes stdin
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        held = proc.stdout.readline().strip()
        mine = acquire(2, tmp_path, timeout_s=0)
        assert held in ("0", "1") and mine.device != held
        mine.release()
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    # the holder exited: its lock went with it
    again = [acquire(2, tmp_path, timeout_s=0), acquire(2, tmp_path, timeout_s=0)]
    assert sorted(s.device for s in again) == ["0", "1"]
    for slot in again:
        slot.release()


def test_a_data_parallel_run_takes_its_gpus_all_or_none(tmp_path):
    one = acquire(3, tmp_path)
    pair = acquire(3, tmp_path, count=2)
    assert one.device == "0" and pair.device == "1,2"
    with pytest.raises(TimeoutError, match="fewer than 2 of the 3 GPU slots"):
        acquire(3, tmp_path, timeout_s=0, poll_s=0.01, count=2)
    one.release()
    with pytest.raises(TimeoutError):  # one free slot is not enough, and the failed try holds nothing
        acquire(3, tmp_path, timeout_s=0, poll_s=0.01, count=2)
    zero = acquire(3, tmp_path, timeout_s=0)
    assert zero.device == "0"
    pair.release()
    env: dict[str, str] = {}
    with pinned_gpu(3, tmp_path, env=env, count=2) as devices:
        assert env["CUDA_VISIBLE_DEVICES"] == devices == "1,2"
    zero.release()
    with pytest.raises(ValueError, match="needs 4 GPUs but 3 slots"):
        acquire(3, tmp_path, count=4)
