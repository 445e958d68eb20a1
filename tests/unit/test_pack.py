from __future__ import annotations

import dataclasses
import gzip
import itertools
import json

import numpy as np
import pytest
from tokenizers import Tokenizer

from pipeline_lib.config import DataConfig
from pipeline_lib.config.types import PACK_CHECKS_ENV
from pipeline_lib.data.pack import main as pack_main
from pipeline_lib.data.pack import pack_group
from pipeline_lib.data.sources import DataError, JsonlSource
from pipeline_lib.data.tokenizer import TRAINING_PIECE_CHARS, build_tokenizer, training_texts
from pipeline_lib.data.tokenizer import main as tokenizer_main
from pipeline_lib.data.tokens import GroupTokens, token_dtype


def _data(corpus_dir, **tok):
    return DataConfig.from_dict(
        {
            "source": {"path": str(corpus_dir)},
            "split": {"val_fraction": 0.2, "test_fraction": 0.2},
            "tokenizer": {"vocab_size": 300, **tok},
        }
    )


def test_pack_round_trip(corpus_dir, tmp_path):
    data = _data(corpus_dir)
    build_tokenizer(data, ["alpha", "beta", "gamma"], str(tmp_path / "tok.json"))
    meta = pack_group(data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "beta"))
    tokens = GroupTokens.load(tmp_path / "beta")
    tok = Tokenizer.from_file(str(tmp_path / "tok.json"))
    eot = tok.token_to_id("<|endoftext|>")
    source = JsonlSource(data.source, data.split)
    for split in ("train", "val", "test"):
        arr = getattr(tokens, split)
        assert len(arr) == meta["splits"][split]["tokens"]
        docs = [d.text for d in source.iter_split("beta", split)]
        assert meta["splits"][split]["documents"] == len(docs)
        # split the stream on end-of-text and decode each piece back to its document
        pieces = np.split(np.asarray(arr), np.flatnonzero(np.asarray(arr) == eot) + 1)[:-1]
        assert [tok.decode(p[:-1].tolist()) for p in pieces] == docs
        # the split's UTF-8 bytes (bits per byte divide by them): the bytes of its decoded tokens
        assert meta["splits"][split]["bytes"] == sum(len(d.encode("utf-8")) for d in docs) > 0


def test_tokenizer_training_is_deterministic(corpus_dir, tmp_path):
    data = _data(corpus_dir)
    build_tokenizer(data, ["alpha", "gamma"], str(tmp_path / "a.json"))
    build_tokenizer(data, ["alpha", "gamma"], str(tmp_path / "b.json"))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_token_dtype_follows_vocabulary():
    assert token_dtype(50304) == np.uint16
    assert token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32


def test_unloadable_tokenizer_file_names_the_field(corpus_dir, tmp_path):
    (tmp_path / "tok.json").write_text('{"not": "a tokenizer"}')
    data = _data(corpus_dir, kind="file", path=str(tmp_path / "tok.json"))
    with pytest.raises(
        DataError, match=r"data.tokenizer.path: '.*tok.json' could not be loaded as a tokenizer"
    ):
        build_tokenizer(data, ["alpha"], str(tmp_path / "out.json"))


def test_data_steps_end_with_the_message_not_a_traceback(corpus_dir, tmp_path):
    """A DataError ends the step with its message as the last line of the job's log (exit status 1)."""
    bad = tmp_path / "corpus"
    bad.mkdir()
    lines = gzip.decompress((corpus_dir / "alpha.jsonl.gz").read_bytes()).splitlines(keepends=True)
    (bad / "alpha.jsonl.gz").write_bytes(gzip.compress(b"".join([*lines[:9], b"{oops\n", *lines[9:]])))
    data = json.dumps(dataclasses.asdict(_data(bad)))
    with pytest.raises(SystemExit, match=r"^DataError: .*alpha.jsonl.gz:10: not valid JSON"):
        tokenizer_main(["--data", data, "--groups", "alpha", "--out", str(tmp_path / "tok.json")])
    build_tokenizer(_data(corpus_dir), ["alpha"], str(tmp_path / "tok.json"))
    with pytest.raises(SystemExit, match=r"^DataError: .*alpha.jsonl.gz:10: not valid JSON"):
        pack_main(
            [
                "--data",
                data,
                "--group",
                "alpha",
                "--tokenizer",
                str(tmp_path / "tok.json"),
                "--out-dir",
                str(tmp_path / "a"),
            ]
        )


def test_a_group_smaller_than_one_batch_fails_the_pack_step(corpus_dir, tmp_path):
    data = _data(corpus_dir)
    build_tokenizer(data, ["alpha", "beta", "gamma"], str(tmp_path / "tok.json"))
    meta = pack_group(data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "ok"))
    train_tokens = meta["splits"]["train"]["tokens"]
    pack_group(
        data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "fits"), one_batch_tokens=train_tokens
    )
    with pytest.raises(
        DataError, match=rf"group 'beta' has {train_tokens:,} train tokens, fewer than one batch"
    ):
        pack_group(
            data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "big"), one_batch_tokens=train_tokens + 1
        )
    assert not (tmp_path / "big" / "meta.json").exists()


def _with_empty_documents(corpus_dir, root, blanks):
    """A copy of the corpus with ``blanks`` (empty or whitespace-only texts) among beta's, each its own id."""
    root.mkdir()
    for path in corpus_dir.glob("*.jsonl.gz"):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
        if path.name == "beta.jsonl.gz":
            extra = [
                json.dumps({"text": t, "domain": "beta", "source": f"blank#{i}"}) + "\n" for i, t in blanks
            ]
            lines = [line for pair in itertools.zip_longest(lines, extra, fillvalue="") for line in pair]
        (root / path.name).write_bytes(gzip.compress("".join(lines).encode()))
    return root


def test_empty_and_whitespace_documents_are_dropped_and_counted(corpus_dir, tmp_path, caplog):
    blanks = list(enumerate(["", " ", "\n\n", "\t \r\n", "\u00a0\u2003"] * 6))
    data, dirty = _data(corpus_dir), _data(_with_empty_documents(corpus_dir, tmp_path / "dirty", blanks))
    build_tokenizer(data, ["alpha", "beta"], str(tmp_path / "clean.json"))
    build_tokenizer(dirty, ["alpha", "beta"], str(tmp_path / "dirty.json"))
    assert (tmp_path / "clean.json").read_bytes() == (tmp_path / "dirty.json").read_bytes()
    clean = pack_group(data, "beta", str(tmp_path / "clean.json"), str(tmp_path / "a"))
    with caplog.at_level("WARNING"):
        meta = pack_group(dirty, "beta", str(tmp_path / "clean.json"), str(tmp_path / "b"))
    for split in ("train", "val", "test"):
        assert (tmp_path / "a" / f"{split}.bin").read_bytes() == (
            tmp_path / "b" / f"{split}.bin"
        ).read_bytes()
        assert meta["splits"][split]["documents"] == clean["splits"][split]["documents"]
        assert clean["splits"][split]["dropped_empty_documents"] == 0
    assert sum(meta["splits"][s]["dropped_empty_documents"] for s in ("train", "val", "test")) == len(blanks)
    assert meta["dropped_empty_documents"] == len(blanks) and clean["dropped_empty_documents"] == 0
    n_train = meta["splits"]["train"]["dropped_empty_documents"]
    assert (
        f"group 'beta', train split: dropped {n_train} empty or whitespace-only document(s); they are not "
        "packed (meta.json: dropped_empty_documents)" in caplog.text
    )


def test_a_split_shorter_than_one_evaluation_sequence_fails_the_pack_step(corpus_dir, tmp_path):
    data = _data(corpus_dir)
    build_tokenizer(data, ["alpha", "beta", "gamma"], str(tmp_path / "tok.json"))
    meta = pack_group(data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "ok"))
    val, test = meta["splits"]["val"]["tokens"], meta["splits"]["test"]["tokens"]
    pack_group(
        data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "fits"), eval_chunk_tokens=min(val, test)
    )
    short = "val" if val < test else "test"
    for need, splits in ((min(val, test) + 1, [short]), (max(val, test) + 1, ["val", "test"])):
        with pytest.raises(DataError) as err:
            pack_group(data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "x"), eval_chunk_tokens=need)
        counts = ", ".join(f"{s} split {meta['splits'][s]['tokens']:,} tokens" for s in splits)
        fractions = " and ".join(f"data.split.{s}_fraction" for s in splits)
        assert str(err.value) == (
            f"group 'beta': fewer tokens than one evaluation sequence of the runs reading it needs "
            f"(model.context + 1 = {need:,}, model.context {need - 1:,}): {counts}; every run reading it "
            f"would stop at its start. Lower model.context of the settings using it, raise {fractions}, or "
            "add documents"
        )
        assert not (tmp_path / "x" / "meta.json").exists()


def test_the_pack_step_reads_the_workflows_evaluation_needs(corpus_dir, tmp_path, monkeypatch):
    """The workflow passes each group's need through the environment (not a parameter: no packed data
    reruns)."""
    data = _data(corpus_dir)
    build_tokenizer(data, ["alpha", "beta", "gamma"], str(tmp_path / "tok.json"))
    meta = pack_group(data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "ok"))
    need = meta["splits"]["val"]["tokens"] + 1
    monkeypatch.setenv(PACK_CHECKS_ENV, json.dumps({"beta": need, "alpha": 1}))
    args = ["--data", json.dumps(dataclasses.asdict(data)), "--tokenizer", str(tmp_path / "tok.json")]
    with pytest.raises(
        SystemExit, match=r"^DataError: group 'beta': fewer tokens than one evaluation sequence"
    ):
        pack_main([*args, "--group", "beta", "--out-dir", str(tmp_path / "b")])
    pack_main([*args, "--group", "alpha", "--out-dir", str(tmp_path / "a")])


def test_tokenizer_training_reads_a_huge_document_in_bounded_pieces_up_to_the_budget(tmp_path):
    """One 6M-character document and a 1,000-character budget: 1,000 characters reach the trainer (before:
    all 6M at once); without a budget it arrives in pieces of at most TRAINING_PIECE_CHARS."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    huge = "lorem ipsum dolor " * 333_334  # ~6M characters
    lines = [
        json.dumps({"text": t, "domain": "big", "source": f"d{i}"}) for i, t in enumerate([huge, "tail"])
    ]
    (corpus / "big.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1))
    data = DataConfig.from_dict(
        {"source": {"path": str(corpus)}, "split": {"val_fraction": 0, "test_fraction": 0}}
    )
    source = JsonlSource(data.source, data.split)
    texts = list(training_texts(source, ["big"], 1_000))
    assert [len(t) for t in texts] == [1_000] and huge.startswith(texts[0])
    pieces = list(training_texts(source, ["big"], None))
    assert max(map(len, pieces)) == TRAINING_PIECE_CHARS < len(huge)
    assert "".join(pieces) == huge + "tail"


def _with_a_huge_document(corpus_dir, root, n_chars: int):
    """A copy of the corpus with one ``n_chars``-character document among beta's (a line of its own)."""
    root.mkdir()
    for path in corpus_dir.glob("*.jsonl.gz"):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
        if path.name == "beta.jsonl.gz":
            huge = json.dumps({"text": "word " * (n_chars // 5), "domain": "beta", "source": "huge"})
            lines.insert(len(lines) // 2, huge + "\n")
        (root / path.name).write_bytes(gzip.compress("".join(lines).encode(), compresslevel=1))
    return root


def test_a_document_over_max_document_bytes_is_skipped_and_counted_in_meta(corpus_dir, tmp_path, caplog):
    """The pack step packs every other document exactly as without it and counts the skipped one."""
    data = _data(corpus_dir)
    big = _with_a_huge_document(corpus_dir, tmp_path / "big", 200_000)
    capped = dataclasses.replace(
        _data(big), source=dataclasses.replace(_data(big).source, max_document_bytes=100_000)
    )
    build_tokenizer(data, ["alpha", "beta"], str(tmp_path / "tok.json"))
    clean = pack_group(data, "beta", str(tmp_path / "tok.json"), str(tmp_path / "a"))
    with caplog.at_level("WARNING"):
        meta = pack_group(capped, "beta", str(tmp_path / "tok.json"), str(tmp_path / "b"))
    assert meta["skipped_long_documents"] == 1 and clean["skipped_long_documents"] == 0
    assert meta["splits"] == clean["splits"]
    for split in ("train", "val", "test"):
        packed = [(tmp_path / d / f"{split}.bin").read_bytes() for d in ("a", "b")]
        assert packed[0] == packed[1]
    assert "skipped, a line longer than data.source.max_document_bytes (100000 bytes)" in caplog.text
    assert json.loads((tmp_path / "b" / "meta.json").read_text())["skipped_long_documents"] == 1


def test_tokenizer_batches_are_bounded_in_characters_and_the_tokens_do_not_depend_on_them(
    corpus_dir, tmp_path, monkeypatch
):
    from pipeline_lib.data import pack
    from pipeline_lib.data.documents import Document
    from pipeline_lib.data.pack import _batched, pack_split

    docs = [Document(str(i), "ab " * n) for i, n in enumerate([10, 400, 10, 10, 1000, 5])]
    assert [[int(d.id) for d in b] for b in _batched(docs, 256, chars=1500)] == [[0, 1, 2, 3], [4], [5]]
    assert [len(b) for b in _batched(docs, 2, chars=10**9)] == [2, 2, 2]
    data = _data(corpus_dir)
    build_tokenizer(data, ["alpha", "beta"], str(tmp_path / "tok.json"))
    tok = Tokenizer.from_file(str(tmp_path / "tok.json"))
    source = JsonlSource(data.source, data.split)
    train = list(source.iter_split("beta", "train"))
    pack_split(train, tok, 0, tmp_path / "wide.bin", np.uint16)
    monkeypatch.setattr(pack, "BATCH_CHARS", 50)  # every document a batch of its own
    pack_split(train, tok, 0, tmp_path / "narrow.bin", np.uint16)
    assert (tmp_path / "wide.bin").read_bytes() == (tmp_path / "narrow.bin").read_bytes()
