"""A full disk, a used-up quota, a read-only or forbidden directory: the write names the file, the free space
on its filesystem and the fix (packed data, checkpoints, state files)."""

from __future__ import annotations

import builtins
import errno
import os
import shutil
from collections import namedtuple

import numpy as np
import pytest
import torch

import pipeline_lib.data.pack as pack
import pipeline_lib.state_file as state_file
from pipeline_lib.data.documents import Document
from pipeline_lib.state_file import STATE_FORMAT, read_state, write_state_file
from pipeline_lib.storage import StorageError, storage_errors
from pipeline_lib.train.checkpoint import Checkpointer

Usage = namedtuple("Usage", "total used free")
FIXES = {
    errno.ENOSPC: "no space left on the device; free space on that filesystem",
    errno.EDQUOT: "disk quota exceeded; free space within your quota there (`quota -s`)",
    errno.EACCES: "permission denied; make the directory writable for this user",
    errno.EROFS: "read-only file system; set results_dir to a writable filesystem",
}


@pytest.fixture
def usage(monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10_000_000, 9_998_766, 1_234))


def _full_device(module, monkeypatch):
    """``module``'s files opened for writing go to /dev/full: every write fails with ENOSPC, as on a full
    disk (the temporary file is still created beside the target, then removed)."""

    def fake_open(file, mode="r", *args, **kwargs):
        return builtins.open("/dev/full" if "w" in mode else file, mode, *args, **kwargs)

    monkeypatch.setattr(module, "open", fake_open, raising=False)


@pytest.mark.parametrize("code", sorted(FIXES))
def test_a_storage_error_names_the_file_the_free_space_and_the_fix(tmp_path, usage, code):
    target = tmp_path / "out" / "train.bin"
    with pytest.raises(StorageError) as err, storage_errors(target, "packed tokens"):
        raise OSError(code, os.strerror(code), str(tmp_path / "out" / ".train.bin.tmp"))
    message = str(err.value)
    assert message.startswith(f"cannot write {target} (packed tokens): {FIXES[code]}"), message
    assert f"1,234 bytes free of 10,000,000 on its filesystem ({tmp_path})" in message
    assert err.value.errno == code and isinstance(err.value, OSError)


def test_other_os_errors_pass_unchanged(tmp_path):
    with pytest.raises(FileNotFoundError), storage_errors(tmp_path / "x", "a file"):
        raise FileNotFoundError(errno.ENOENT, "gone")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_packing_onto_a_full_disk_names_the_file_and_removes_the_partial_one(tmp_path, monkeypatch, usage):
    tok = pytest.importorskip("tokenizers")
    tokenizer = tok.Tokenizer(tok.models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tok.pre_tokenizers.Whitespace()
    _full_device(pack, monkeypatch)
    docs = [Document(str(i), "a a a " * 2000) for i in range(20)]
    out = tmp_path / "g" / "train.bin"
    with pytest.raises(StorageError, match=rf"^cannot write {out} \(packed tokens\): no space left"):
        pack.pack_split(docs, tokenizer, 1, out, np.dtype(np.uint16))
    assert list((tmp_path / "g").iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_checkpoint_onto_a_full_disk_names_the_file_and_keeps_the_last_one(tmp_path, monkeypatch, usage):
    ckpt = Checkpointer(tmp_path / "checkpoint.pt", every=1, key="k")
    ckpt.save({"step": 1, "weights": torch.zeros(1000)})
    _full_device(state_file, monkeypatch)
    with pytest.raises(StorageError) as err:
        ckpt.save({"step": 2, "weights": torch.ones(100_000)})
    assert str(err.value).startswith(
        f"cannot write {tmp_path / 'checkpoint.pt'} (the run's checkpoint): no space left on the device"
    )
    monkeypatch.undo()
    assert ckpt.load()["step"] == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_state_file_written_through_a_handle_reads_back(tmp_path):
    write_state_file(tmp_path / "state.pt", {"format": STATE_FORMAT, "w": torch.arange(5), "a": np.arange(3)})
    state = read_state(tmp_path / "state.pt")
    assert torch.equal(state["w"], torch.arange(5)) and np.array_equal(state["a"], np.arange(3))


def test_a_run_record_onto_a_full_disk_names_the_file(tmp_path, monkeypatch, usage):
    from pipeline_lib.records import RunRecord
    from pipeline_lib.train.run import train_run
    from tests.unit.test_safe_load import _spec, _write_groups

    def full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(RunRecord, "write", full)
    out = tmp_path / "out"
    with pytest.raises(
        StorageError, match=rf"^cannot write {out / 'run.json'} \(the run's record\): no space"
    ):
        train_run(_spec(steps=4), _write_groups(tmp_path / "data"), out)
    assert not (out / "run.json").exists() and (out / "curve.csv").exists()
