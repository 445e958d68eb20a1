from __future__ import annotations

import os
import stat

import pytest

from pipeline_lib.io import atomic_open, atomic_path, read_json, stable_hash, write_json


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


@pytest.fixture
def set_umask():
    """Set the process umask for one test; the previous one is restored afterwards."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize(
    "umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)], ids=["umask022", "umask027", "umask002"]
)
def test_outputs_get_the_umask_mode(tmp_path, set_umask, umask, mode):
    set_umask(umask)
    write_json(tmp_path / "run.json", {"a": 1})
    with atomic_open(tmp_path / "table.md") as fh:
        fh.write("| a |\n")
    with atomic_path(tmp_path / "tokens.bin") as tmp, open(tmp, "wb") as fh:  # as torch.save, numpy do
        fh.write(b"\0")
    write_json(tmp_path / "run.json", {"a": 2})  # a replaced file, too
    for name in ("run.json", "table.md", "tokens.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "table.md", "tokens.bin"]


def test_rows_csv_is_byte_for_byte_the_dataframes(tmp_path):
    """The training job's curve and mixture files, written without pandas, equal write_csv's of their
    DataFrame (ints, strings, floats at %.6g, tiny and huge values, NaN and inf)."""
    import pandas as pd

    from pipeline_lib.io import write_csv, write_rows_csv

    values = [3.40512345, 1e-7, 123456.789, 7654321.0, float("nan"), float("inf"), -0.0, 0.5]
    rows = [
        {"step": 4 * i, "tokens": 1_234_567 * i, "group": f"g,{i}" if i == 2 else f"g{i}", "val_loss": v}
        for i, v in enumerate(values)
    ]
    write_csv(tmp_path / "pandas.csv", pd.DataFrame(rows))
    write_rows_csv(tmp_path / "rows.csv", rows)
    assert (tmp_path / "rows.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    mixture = [{"step": 0, "a": 0.5, "b": 0.5}, {"step": 20, "a": 0.123456789, "b": 0.876543211}]
    write_csv(tmp_path / "pandas_mix.csv", pd.DataFrame(mixture))
    write_rows_csv(tmp_path / "rows_mix.csv", mixture)
    assert (tmp_path / "rows_mix.csv").read_bytes() == (tmp_path / "pandas_mix.csv").read_bytes()
    with pytest.raises(ValueError, match="rows differ in their keys"):
        write_rows_csv(tmp_path / "ragged.csv", [{"a": 1}, {"b": 2}])


def test_the_training_entry_point_does_not_import_pandas():
    import subprocess
    import sys

    code = "import sys, pipeline_lib.train.run; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
