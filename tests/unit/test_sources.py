"""The JSON-lines source's input checks: a bad record anywhere in a file is reported with the file, the line
(and byte offset), both by the load-time check and by the data jobs' reading; empty groups and splits name
the group and the fix."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from pipeline_lib.config import DataConfig
from pipeline_lib.data import sources
from pipeline_lib.data.sources import DataError, JsonlSource
from pipeline_lib.data.split import split_of


def _record(i: int, group: str = "alpha", **extra) -> bytes:
    return json.dumps(
        {"text": f"document {i} " * 5, "domain": group, "source": f"{group}#{i}", **extra}
    ).encode()


def _write(root: Path, group: str, lines: list[bytes], gz: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / (f"{group}.jsonl.gz" if gz else f"{group}.jsonl")
    blob = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(blob) if gz else blob)
    return path


def _source(root: Path, gz: bool = True, **source) -> JsonlSource:
    pattern = "{group}.jsonl.gz" if gz else "{group}.jsonl"
    data = DataConfig.from_dict(
        {
            "source": {"path": str(root), "file_pattern": pattern, **source},
            "split": {"val_fraction": 0.2, "test_fraction": 0.2},
        }
    )
    return JsonlSource(data.source, data.split)


GOOD = [_record(i) for i in range(40)]  # 40 documents: every split gets some (checked below)


def test_good_file_passes_and_every_split_has_documents(tmp_path):
    _write(tmp_path, "alpha", GOOD)
    source = _source(tmp_path)
    source.check_group("alpha")
    assert all(list(source.iter_split("alpha", s)) for s in ("train", "val", "test"))


@pytest.mark.parametrize("gz", [True, False], ids=["jsonl.gz", "jsonl"])
@pytest.mark.parametrize(
    "bad,message",
    [
        (b'{"text": "unterminated', r":6: not valid JSON \(Unterminated string starting at column 10\)"),
        (
            json.dumps({"body": "no text", "domain": "alpha"}).encode(),
            r":6: record has no string field \"text\"",
        ),
        (json.dumps({"text": 7, "domain": "alpha"}).encode(), r":6: record has no string field \"text\""),
        (b'["text", "in a list"]', r":6: a JSON list, not an object"),
    ],
    ids=["invalid-json", "no-text", "text-not-a-string", "not-an-object"],
)
def test_bad_record_after_line_one_is_found_at_load(tmp_path, gz, bad, message):
    path = _write(tmp_path, "alpha", [*GOOD[:5], bad, *GOOD[5:]], gz=gz)
    with pytest.raises(DataError, match=re.escape(str(path)) + message) as err:
        _source(tmp_path, gz=gz).check_group("alpha")
    assert "fix or remove the line" in str(err.value)


@pytest.mark.parametrize("gz", [True, False], ids=["jsonl.gz", "jsonl"])
def test_non_utf8_bytes_name_the_line_and_byte_offset(tmp_path, gz):
    bad = _record(99).replace(b"document", b"caf\xe9", 1)  # latin-1 e-acute
    path = _write(tmp_path, "alpha", [*GOOD[:3], bad, *GOOD[3:]], gz=gz)
    offset = sum(len(line) + 1 for line in GOOD[:3]) + bad.index(b"\xe9")
    where = "of the uncompressed text" if gz else "of the file"
    with pytest.raises(DataError, match=re.escape(f"{path}:4: not valid UTF-8 at byte {offset} {where}")):
        _source(tmp_path, gz=gz).check_group("alpha")


def test_records_of_other_groups_are_checked_for_json_but_not_for_text(tmp_path):
    other = json.dumps({"body": "no text here", "domain": "beta"}).encode()
    _write(tmp_path, "alpha", [*GOOD, other])
    _source(tmp_path).check_group("alpha")  # the jobs skip beta's records: no error
    _write(tmp_path, "alpha", [*GOOD, b"{broken"])
    with pytest.raises(DataError, match=r":41: not valid JSON"):
        _source(tmp_path).check_group("alpha")


def test_data_jobs_report_the_line_of_a_large_file(tmp_path, monkeypatch):
    """Above SCAN_LIMIT_BYTES the load check reads one record; the tokenizer and pack steps, which read
    through iter_split, still name the file and line."""
    path = _write(tmp_path, "alpha", [*GOOD[:7], b"{not json", *GOOD[7:]])
    monkeypatch.setattr(sources, "SCAN_LIMIT_BYTES", 0)
    source = _source(tmp_path)
    source.check_group("alpha")
    with pytest.raises(DataError, match=re.escape(f"{path}:8: not valid JSON")):
        list(source.iter_split("alpha", "train"))


def test_max_docs_per_group_reads_no_line_after_the_last_document_taken(tmp_path):
    _write(tmp_path, "alpha", [*GOOD[:30], b"{never read", *GOOD[30:]])
    source = _source(tmp_path, max_docs_per_group=30)
    source.check_group("alpha")
    assert sum(len(list(source.iter_split("alpha", s))) for s in ("train", "val", "test")) == 30


def test_damaged_gzip_names_the_file(tmp_path):
    path = _write(tmp_path, "alpha", GOOD)
    path.write_bytes(path.read_bytes()[:-40])  # a truncated download
    with pytest.raises(DataError, match=re.escape(str(path)) + r": unreadable after line \d+"):
        _source(tmp_path).check_group("alpha")


def test_group_empty_after_filtering_names_the_group_and_field(tmp_path):
    _write(tmp_path, "alpha", [_record(i, group="beta") for i in range(10)])
    with pytest.raises(
        DataError, match=r"group 'alpha' has no documents in .*data.source.group_field 'domain'"
    ):
        _source(tmp_path).check_group("alpha")


@pytest.mark.parametrize("split", ["val", "test"])
def test_group_too_small_for_a_split_names_the_group_and_the_fix(tmp_path, split):
    source = _source(tmp_path)
    by_split: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for i in range(200):
        by_split[split_of(f"alpha#{i}", source.split)].append(i)
    other = "test" if split == "val" else "val"
    ids = by_split["train"][:3] + by_split[other][:1]  # every split but one has a document
    _write(tmp_path, "alpha", [_record(i) for i in ids])
    message = (
        f"group 'alpha': none of its 4 document(s) in {tmp_path / 'alpha.jsonl.gz'} falls in the {split} "
        f"split"
    )
    with pytest.raises(DataError, match=re.escape(message)) as err:
        source.check_group("alpha")
    assert f"~5 on average) or raise data.split.{split}_fraction" in str(err.value)


def test_group_with_no_train_document(tmp_path):
    source = _source(tmp_path)
    ids = [i for i in range(200) if split_of(f"alpha#{i}", source.split) != "train"][:3]
    _write(tmp_path, "alpha", [_record(i) for i in ids])
    with pytest.raises(DataError, match=r"falls in the train split .*lower data\.split\.val_fraction"):
        source.check_group("alpha")


def test_capped_group_too_small_names_the_cap(tmp_path):
    _write(tmp_path, "alpha", GOOD)
    with pytest.raises(
        DataError, match=r"none of its 1 document\(s\).*raise data\.source\.max_docs_per_group \(1\)"
    ):
        _source(tmp_path, max_docs_per_group=1).check_group("alpha")


def test_unopenable_file_names_the_file(tmp_path, monkeypatch):
    path = _write(tmp_path, "alpha", GOOD)

    def denied(p):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(sources, "_open_bytes", denied)
    with pytest.raises(DataError, match=re.escape(f"{path}: cannot be opened (Permission denied)")):
        _source(tmp_path).check_group("alpha")


def _huge_record(n_bytes: int, group: str = "alpha") -> bytes:
    """One record whose line is ``n_bytes`` long (give or take the JSON around its text)."""
    return json.dumps({"text": "x" * n_bytes, "domain": group, "source": f"{group}#huge"}).encode()


@pytest.mark.parametrize("gz", [True, False], ids=["jsonl.gz", "jsonl"])
def test_a_line_over_max_document_bytes_is_skipped_unread_and_counted(tmp_path, gz, caplog):
    _write(tmp_path, "alpha", [*GOOD[:20], _huge_record(300_000), *GOOD[20:]], gz=gz)
    source = _source(tmp_path, gz=gz, max_document_bytes=100_000)
    with caplog.at_level("WARNING"):
        docs = {s: list(source.iter_split("alpha", s)) for s in ("train", "val", "test")}
    assert sum(map(len, docs.values())) == len(GOOD)  # every other document, none lost around the skip
    assert all(len(d.text) < 100 for split in docs.values() for d in split)
    assert source.skipped_long_documents("alpha") == 1  # the three passes see one line, counted once
    path = tmp_path / ("alpha.jsonl.gz" if gz else "alpha.jsonl")
    assert caplog.text.count(f"{path}:21: skipped, a line longer than data.source.max_document_bytes") == 1
    assert list(_source(tmp_path, gz=gz).iter_split("alpha", "train"))  # the default keeps it
    assert _source(tmp_path, gz=gz).skipped_long_documents("alpha") == 0


def test_a_line_of_exactly_max_document_bytes_is_kept(tmp_path):
    line = _huge_record(1_000)
    _write(tmp_path, "alpha", [line, *GOOD], gz=False)
    kept = _source(tmp_path, gz=False, max_document_bytes=len(line))
    assert len([d for s in ("train", "val", "test") for d in kept.iter_split("alpha", s)]) == len(GOOD) + 1
    cut = _source(tmp_path, gz=False, max_document_bytes=len(line) - 1)
    assert len([d for s in ("train", "val", "test") for d in cut.iter_split("alpha", s)]) == len(GOOD)
    assert cut.skipped_long_documents("alpha") == 1


def test_reading_past_a_huge_line_holds_a_bounded_amount_of_memory(tmp_path):
    """A 40 MB single-line document under the default 8 MiB limit: the reader's peak Python allocation stays
    within twice the limit (a bounded read joins its pieces) plus one skip read; reading the line whole, then
    parsing it, takes > 80 MB."""
    import tracemalloc

    _write(tmp_path, "alpha", [*GOOD[:5], _huge_record(40 << 20), *GOOD[5:]], gz=False)
    source = _source(tmp_path, gz=False)
    tracemalloc.start()
    try:
        n = sum(1 for s in ("train", "val", "test") for _ in source.iter_split("alpha", s))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == len(GOOD) and source.skipped_long_documents("alpha") == 1
    bound = 2 * source.cfg.max_document_bytes + sources.SKIP_CHUNK_BYTES + (1 << 20)
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB over {bound / 2**20:.1f} MiB"
