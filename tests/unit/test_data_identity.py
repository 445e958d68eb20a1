"""One corpus per results_dir: <results_dir>/data/data.json records the corpus source and groups; other data
is refused with both configs named and the fix."""

from __future__ import annotations

import pytest

from pipeline_lib.config.types import SourceConfig
from pipeline_lib.data_identity import DataMismatch, check_data_identity, data_identity, write_data_identity

SAMPLE = SourceConfig(path="data/sample")


def test_nothing_recorded_or_the_same_data_passes(tmp_path):
    ours = data_identity(SAMPLE, ["arxiv", "book"], cwd=tmp_path)
    check_data_identity(tmp_path / "results", ours, ["a.yaml"])  # nothing recorded yet
    write_data_identity(tmp_path / "results", ours, ["a.yaml"])
    same_folder = SourceConfig(path=str(tmp_path / "data/sample"))  # absolute, under the working directory
    check_data_identity(
        tmp_path / "results", data_identity(same_folder, ["arxiv", "book"], cwd=tmp_path), ["b"]
    )


@pytest.mark.parametrize(
    ("source", "groups"),
    [(SourceConfig(path="/data/mine"), ["arxiv", "book"]), (SAMPLE, ["arxiv", "github"])],
    ids=["another corpus", "other groups"],
)
def test_other_data_is_refused_naming_both_configs_and_the_fix(tmp_path, source, groups):
    results = tmp_path / "results"
    write_data_identity(results, data_identity(SAMPLE, ["arxiv", "book"], cwd=tmp_path), ["config.yaml"])
    with pytest.raises(DataMismatch) as err:
        check_data_identity(results, data_identity(source, groups, cwd=tmp_path), ["mine.yaml"])
    text = str(err.value)
    assert f"results_dir {results} holds the data of another configuration" in text
    assert "recorded: config.yaml (source jsonl data/sample, groups arxiv, book)" in text
    assert f"this run: mine.yaml (source jsonl {source.path}, groups {', '.join(groups)})" in text
    assert "give this config its own results_dir" in text and f"delete {results}/data/data.json" in text


def test_the_identity_ignores_where_the_hub_cache_is():
    a = data_identity(SourceConfig(kind="slimpajama", path="hub/id", cache_dir="/a"), ["x", "y"])
    b = data_identity(SourceConfig(kind="slimpajama", path="hub/id", cache_dir="/b"), ["x", "y"])
    assert a == b and a != data_identity(SourceConfig(kind="slimpajama", path="hub/id"), ["x", "z"])


def test_max_document_bytes_at_its_default_leaves_the_identity_and_the_data_parameters_as_they_were():
    """Results made before the field existed keep their data identity (and data jobs): the field appears
    only when a config sets it."""

    default, raised = SourceConfig(), SourceConfig(max_document_bytes=64 << 20)
    assert "max_document_bytes" not in default.as_dict()
    assert raised.as_dict()["max_document_bytes"] == 64 << 20
    assert data_identity(default, ["a"])["hash"] != data_identity(raised, ["a"])["hash"]
    fields = {k for k in SourceConfig.__dataclass_fields__ if k != "max_document_bytes"}
    assert set(data_identity(default, ["a"])["source"]) == fields - {"cache_dir"}
