"""The startup summary: the effective settings of a --configfile that differ from config.yaml's, code
defaults filled in (a key a config leaves out is the code's default, not the demo's)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from pipeline_lib.config.effective import differences, effective, summary

REPO = Path(__file__).resolve().parents[2]
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def test_config_yaml_against_itself_prints_nothing():
    assert summary(copy.deepcopy(DEFAULT), DEFAULT, []) == ""


def test_a_left_out_key_shows_the_code_default_it_takes():
    config = copy.deepcopy(DEFAULT)
    del config["train"]["lr"]  # the code's default is 5e-4; the demo's 2e-3
    config["train"]["steps"] = 200
    text = summary(config, DEFAULT, ["mine.yaml"])
    assert text.splitlines() == [
        "settings that differ from config.yaml (--configfile mine.yaml; "
        "a key left out takes the code's default):",
        "  train.steps: 200  (config.yaml: 100)",
        "  train.lr: 0.0005  (config.yaml: 0.002)",
    ]


def test_method_defaults_and_removed_settings_are_named_once():
    config = copy.deepcopy(DEFAULT)
    config["methods"]["olmix"] = {}  # proxy_steps_fraction: the code's 1.0, the demo's 0.5
    del config["settings"]["all7"], config["settings"]["mgw"]
    lines = summary(config, DEFAULT, ["x.yaml"]).splitlines()[1:]
    assert "  methods.olmix.proxy_steps_fraction: 1.0  (config.yaml: 0.5)" in lines
    assert "  settings: not set here: mgw, all7" in lines


def test_the_summary_is_capped_with_the_command_for_every_line():
    tiny = yaml.safe_load((REPO / "config/test/tiny.yaml").read_text())
    found = differences(effective(tiny), effective(DEFAULT))
    assert len(found) > 25
    lines = summary(tiny, DEFAULT, ["config/test/tiny.yaml"], limit=5).splitlines()
    assert len(lines) == 7 and lines[1] == "  data.source.max_docs_per_group: 60  (config.yaml: null)"
    assert lines[-1].endswith("(every one: python -m pipeline_lib.config.effective config/test/tiny.yaml)")


def test_the_command_names_its_config_files(capsys, tmp_path):
    """``python -m pipeline_lib.config.effective A B``: the overlay's settings, under the files' names."""
    from pipeline_lib.config.effective import main

    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("results_dir: results/mine\n")
    main([str(REPO / "config.yaml"), str(overlay), "--default", str(REPO / "config.yaml")])
    first, *rest = capsys.readouterr().out.splitlines()
    assert f"(--configfile {REPO / 'config.yaml'} {overlay};" in first
    assert rest == ['  results_dir: "results/mine"  (config.yaml: "results")']
