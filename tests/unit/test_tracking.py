"""The tracker interface: W&B (offline) and MLflow (a file store) behind one ``log``, checked with stand-ins
of their libraries (neither is a dependency), and the config's tracker names."""

from __future__ import annotations

import sys
import types

import pytest

from pipeline_lib.config.types import TRACKERS, ConfigError, TrainConfig
from pipeline_lib.train.tracking import BACKENDS, MLflowTracker, Trackers, WandbTracker, make_tracker


def test_every_declared_tracker_has_a_backend():
    assert set(BACKENDS) == set(TRACKERS)


def test_wandb_runs_offline_in_the_run_folder(tmp_path, monkeypatch):
    calls = []

    class Run:
        def log(self, metrics, step):
            calls.append(("log", metrics, step))

        def finish(self):
            calls.append(("finish",))

    def init(**kwargs):
        calls.append(("init", kwargs))
        return Run()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    tracker = make_tracker(("wandb",), tmp_path, "as/aioli/seed0", {"lr": 0.002})
    tracker.log(3, {"train/loss": 4.5})
    tracker.close()
    (_, kwargs), log, finish = calls
    assert kwargs["mode"] == "offline" and kwargs["dir"] == str(tmp_path / "wandb")
    assert kwargs["name"] == "as/aioli/seed0" and kwargs["config"] == {"lr": 0.002}
    assert log == ("log", {"train/loss": 4.5}, 3) and finish == ("finish",)
    assert isinstance(tracker, Trackers) and isinstance(tracker.trackers[0], WandbTracker)


def test_mlflow_writes_to_a_file_store_beside_the_run(tmp_path, monkeypatch):
    calls = []
    stand_in = types.SimpleNamespace(
        set_tracking_uri=lambda uri: calls.append(("uri", uri)),
        start_run=lambda run_name: calls.append(("start", run_name)),
        log_params=lambda params: calls.append(("params", params)),
        log_metrics=lambda metrics, step: calls.append(("metrics", metrics, step)),
        end_run=lambda: calls.append(("end",)),
    )
    monkeypatch.setitem(sys.modules, "mlflow", stand_in)
    tracker = MLflowTracker(tmp_path / "mlruns", "as/dml/seed1", {"groups": ["a", "b"]})
    tracker.log(7, {"mixture/a": 0.25})
    tracker.close()
    assert calls[0] == ("uri", (tmp_path / "mlruns").resolve().as_uri())
    assert calls[1:] == [
        ("start", "as/dml/seed1"), ("params", {"groups": "['a', 'b']"}), ("metrics", {"mixture/a": 0.25}, 7),
        ("end",),
    ]  # fmt: skip


def test_a_missing_library_is_named_with_its_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import fails
    with pytest.raises(RuntimeError, match=r"train\.trackers needs wandb: pip install wandb"):
        make_tracker(("wandb",), tmp_path, "r", {})


def test_tracker_names_are_checked_and_tensorboard_is_one_of_them():
    assert TrainConfig(trackers=("mlflow",), tensorboard=True).tracker_names == ("mlflow", "tensorboard")
    assert make_tracker((), None, "r", {}) is None
    with pytest.raises(ConfigError, match=r"train.trackers: unknown tracker\(s\) \['neptune'\]"):
        TrainConfig(trackers=("neptune",))
