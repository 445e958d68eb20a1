from __future__ import annotations

import pytest

from pipeline_lib.io import atomic_open, read_json, stable_hash, write_json


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "run.json"
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("partial")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file either


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "run.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("{broken")
        raise RuntimeError
    assert read_json(target) == {"a": 1}


def test_successful_write_and_stable_hash(tmp_path):
    write_json(tmp_path / "x" / "y.json", {"b": [1, 2], "a": 0.5})
    assert read_json(tmp_path / "x" / "y.json") == {"a": 0.5, "b": [1, 2]}
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
