"""The mixture export: each format written by the command and parsed back gives the run's weights."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from pipeline_lib import export
from tests.records import write_run

GROUPS = ("arxiv", "book", "stackexchange")
MIXTURE = (0.2913, 0.3062, 0.4025)  # no round numbers


@pytest.fixture
def static_run(tmp_path):
    return write_run(tmp_path / "runs" / "dml" / "seed0" / "run.json", groups=GROUPS, mixture=MIXTURE)


@pytest.fixture
def online_run(tmp_path):
    """p: 1/3 each for 40 of 100 steps, then (0.5, 0.25, 0.25); time-average (0.4333, 0.2833, 0.2833)."""
    d = tmp_path / "runs" / "aioli" / "seed0"
    d.mkdir(parents=True)
    third = repr(1 / 3)
    (d / "mixture.csv").write_text(f"step,{','.join(GROUPS)}\n0,{third},{third},{third}\n40,0.5,0.25,0.25\n")
    return write_run(d / "run.json", groups=GROUPS, mixture=(0.5, 0.25, 0.25), steps=100)


@pytest.mark.parametrize(
    ("fmt", "out"),
    [("plain", "m.json"), ("plain", "m.yaml"), ("olmo-core", "m.yaml"), ("megatron", "m.txt"),
     ("hf-interleave", "m.json")],
)  # fmt: skip
def test_each_format_round_trips(tmp_path, static_run, online_run, fmt, out):
    expected = {
        static_run: dict(zip(GROUPS, MIXTURE, strict=True)),
        online_run: {
            "arxiv": 0.4 / 3 + 0.6 * 0.5,
            "book": 0.4 / 3 + 0.6 * 0.25,
            "stackexchange": 0.4 / 3 + 0.15,
        },
    }
    for run, weights in expected.items():
        export.main(["--run", run, "--format", fmt, "--out", str(tmp_path / out)])
        back = export.parse((tmp_path / out).read_text(), fmt)
        assert list(back) == list(GROUPS)  # the run's group order
        assert all(abs(back[g] - weights[g]) <= 1e-12 for g in GROUPS), (fmt, back, weights)
        assert abs(math.fsum(back.values()) - 1.0) <= 1e-12


def test_one_call_writes_each_file_in_its_own_syntax(tmp_path, static_run):
    """The workflow's mixture job: one process writes the JSON and the YAML (plain picks by extension)."""
    json_out, yaml_out = tmp_path / "m.json", tmp_path / "m.yaml"
    export.main(["--run", static_run, "--format", "plain", "--out", str(json_out), str(yaml_out)])
    assert json_out.read_text().lstrip().startswith("{") and not yaml_out.read_text().lstrip().startswith("{")
    for path in (json_out, yaml_out):
        assert export.parse(path.read_text(), "plain") == dict(zip(GROUPS, MIXTURE, strict=True))


def test_the_formats_read_as_their_tools_expect(tmp_path, static_run):
    """OLMo-core's SourceMixtureConfig fields, Megatron's weight-prefix pairs, interleave_datasets' lists."""
    text = export.render(
        export.run_mixture(static_run), "olmo-core", None, export.PREFIX, "/data/{group}/*.npy"
    )
    first = yaml.safe_load(text)["source_configs"][0]
    assert first == {"source_name": "arxiv", "target_ratio": 0.2913, "paths": ["/data/arxiv/*.npy"]}
    line = export.megatron(export.run_mixture(static_run), "/data/{group}_text_document")
    assert (
        line == "0.2913 /data/arxiv_text_document 0.3062 /data/book_text_document "
        "0.4025 /data/stackexchange_text_document\n"
    )
    hf = json.loads(export.hf_interleave(export.run_mixture(static_run)))
    assert hf == {"groups": list(GROUPS), "probabilities": list(MIXTURE)}
    assert yaml.safe_load(export.plain({"a": 0.25, "b": 0.75}, as_yaml=True)) == {"a": 0.25, "b": 0.75}


def test_bad_templates_and_mixtures_are_refused(tmp_path, static_run, capsys):
    with pytest.raises(SystemExit):
        export.main(["--run", static_run, "--format", "megatron", "--prefix", "text_document"])
    assert "--prefix 'text_document': needs {group} exactly once" in capsys.readouterr().err
    bad = write_run(tmp_path / "bad" / "run.json", groups=("a", "b"), mixture=(0.5, 0.6))
    with pytest.raises(SystemExit, match=r"bad/run.json: the mixture .* is not a distribution \(sum 1.1"):
        export.main(["--run", bad])
