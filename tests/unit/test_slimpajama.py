"""SlimPajama source on the committed schema fixture (through the same ``load_dataset`` path as the hub),
the paper's val/test rule, the train token budget, the hub tokenizer, and the offline error messages."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest
from tokenizers import Tokenizer

from pipeline_lib.config import DataConfig
from pipeline_lib.data.documents import Document
from pipeline_lib.data.pack import pack_group
from pipeline_lib.data.slimpajama import HUB_ID, SlimPajamaSource, holdout_positions
from pipeline_lib.data.sources import DataError, make_source
from pipeline_lib.data.tokenizer import build_tokenizer, train_bpe
from pipeline_lib.model.config import ModelConfig
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "tiny_slimpajama"


def _data(tmp_path, path=str(FIXTURE), **source) -> DataConfig:
    return DataConfig.from_dict(
        {
            "source": {"kind": "slimpajama", "path": path, "cache_dir": str(tmp_path / "hf"), **source},
            "tokenizer": {"kind": "file", "path": str(tmp_path / "tok.json"), "append_eot": False},
        }
    )


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory):
    """A small BPE standing in for the hub tokenizer (built from the fixture's train texts)."""
    path = tmp_path_factory.mktemp("tok") / "tok.json"
    texts = datasets.load_dataset(str(FIXTURE), split="train", cache_dir=str(path.parent / "hf"))["text"]
    train_bpe(iter(list(texts)), 300, ["<|endoftext|>"]).save(str(path))
    return path


def test_holdout_rule_matches_its_definition(tmp_path):
    """val/test = the group's rows of the dataset's test split, shuffled with seed 42 (datasets' own
    shuffle), even indices to val and odd to test."""
    source = make_source(_data(tmp_path))
    assert isinstance(source, SlimPajamaSource)
    test = datasets.load_dataset(str(FIXTURE), split="test", cache_dir=str(tmp_path / "ref"))
    for group, name in (("arxiv", "RedPajamaArXiv"), ("github", "RedPajamaGithub")):
        rows = test.filter(lambda m, n=name: m["redpajama_set_name"] == n, input_columns="meta")
        shuffled = list(rows.shuffle(seed=42)["text"])
        val = [d.text for d in source.iter_split(group, "val")]
        held = [d.text for d in source.iter_split(group, "test")]
        assert val == shuffled[0::2] and held == shuffled[1::2]
        assert len(val) + len(held) == len(rows) and len(val) - len(held) in (0, 1)


def test_holdout_positions_partition():
    for n in (1, 2, 9, 21):
        val, test = holdout_positions(n, "val"), holdout_positions(n, "test")
        assert sorted(np.concatenate([val, test]).tolist()) == list(range(n))
    assert holdout_positions(5, "val").tolist() == np.random.default_rng(42).permutation(5)[0::2].tolist()


def test_train_docs_stream_in_dataset_order(tmp_path):
    source = make_source(_data(tmp_path))
    docs = list(source.iter_split("stackexchange", "train"))
    rows = [int(d.id.split(":")[1]) for d in docs]
    assert len(docs) == 40 and rows == sorted(rows) and all(d.id.startswith("train:") for d in docs)
    train = datasets.load_dataset(str(FIXTURE), split="train", cache_dir=str(tmp_path / "ref"))
    assert all(train[r]["meta"]["redpajama_set_name"] == "RedPajamaStackExchange" for r in rows)
    assert [d.text for d in docs] == [train[r]["text"] for r in rows]


def test_input_files_local_and_hub(tmp_path):
    assert len(make_source(_data(tmp_path)).input_files("arxiv")) == 3
    assert make_source(_data(tmp_path, path=HUB_ID)).input_files("arxiv") == []


def test_missing_group_lists_existing_groups(tmp_path):
    source = make_source(_data(tmp_path))
    with pytest.raises(DataError) as err:
        source.check_group("book")
    msg = str(err.value)
    assert (
        "RedPajamaBook" in msg and "arxiv (RedPajamaArXiv)" in msg and "wikipedia (RedPajamaWikipedia)" in msg
    )
    with pytest.raises(DataError, match="not a SlimPajama group"):
        source.check_group("klingon")


def test_group_names_override(tmp_path):
    source = make_source(_data(tmp_path, group_names={"code": "RedPajamaGithub"}))
    source.check_group("code")
    assert len(list(source.iter_split("code", "test"))) == 4  # 9 github rows: 5 val, 4 test


def test_hub_unreachable_names_offline_options(tmp_path):
    source = make_source(_data(tmp_path, path=HUB_ID))
    source.check_group("arxiv")  # parse-time check: never contacts the hub
    with pytest.raises(DataError) as err:
        next(iter(source.iter_split("arxiv", "val")))
    msg = str(err.value)
    assert HUB_ID in msg and "Offline options" in msg
    assert "local copy" in msg and "cache" in msg and "kind: jsonl" in msg


def test_hub_tokenizer_offline_message(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    data = DataConfig.from_dict({"tokenizer": {"kind": "hub", "name": "EleutherAI/pythia-160m"}})
    with pytest.raises(DataError) as err:
        build_tokenizer(data, ["arxiv"], str(tmp_path / "tok.json"))
    msg = str(err.value)
    assert "EleutherAI/pythia-160m" in msg and "kind: file" in msg and "cached copy" in msg


def test_hub_tokenizer_from_cached_copy(tmp_path, monkeypatch, tokenizer_file):
    """A tokenizer already in the Hugging Face cache loads with the hub offline."""
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    repo = cache / "models--EleutherAI--pythia-160m"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "tokenizer.json").write_bytes(tokenizer_file.read_bytes())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    data = DataConfig.from_dict(
        {"tokenizer": {"kind": "hub", "name": "EleutherAI/pythia-160m", "append_eot": False}}
    )
    build_tokenizer(data, ["arxiv"], str(tmp_path / "tok.json"))
    assert (tmp_path / "tok.json").read_bytes() == tokenizer_file.read_bytes()


def test_pack_stops_at_the_train_budget(tmp_path, tokenizer_file):
    data = _data(tmp_path)
    full = pack_group(data, "arxiv", str(tokenizer_file), str(tmp_path / "all"))
    budget = full["splits"]["train"]["tokens"] // 3
    meta = pack_group(data, "arxiv", str(tokenizer_file), str(tmp_path / "a"), train_token_budget=budget)
    train = meta["splits"]["train"]
    assert train["token_budget"] == budget and 0 < train["documents"] < full["splits"]["train"]["documents"]
    # the first documents in stream order, up to and including the one that crosses the budget
    tok = Tokenizer.from_file(str(tokenizer_file))
    docs = list(make_source(data).iter_split("arxiv", "train"))[: train["documents"]]
    lengths = [len(tok.encode(d.text, add_special_tokens=False).ids) for d in docs]
    assert sum(lengths) == train["tokens"] and sum(lengths[:-1]) < budget <= sum(lengths)
    assert (
        (tmp_path / "all" / "train.bin").read_bytes().startswith((tmp_path / "a" / "train.bin").read_bytes())
    )
    assert meta["splits"]["val"] == full["splits"]["val"]  # the budget only touches train
    # the progress line's report: the train split's tokens of the budget, from 0 to all of it
    lines = [json.loads(line) for line in (tmp_path / "a" / "progress.jsonl").read_text().splitlines()]
    assert lines[0] == {"step": 0, "steps": budget, "unit": "tokens"} and lines[-1]["step"] == budget
    assert [line["step"] for line in lines] == sorted(line["step"] for line in lines)
    assert not (tmp_path / "all" / "progress.jsonl").exists()  # no budget: nothing to report against
    again = pack_group(data, "arxiv", str(tokenizer_file), str(tmp_path / "b"), train_token_budget=budget)
    assert again["splits"] == meta["splits"]  # a rerun proves it took the same documents and tokens
    assert (tmp_path / "a" / "train.bin").read_bytes() == (tmp_path / "b" / "train.bin").read_bytes()


def test_pack_budget_the_data_cannot_meet(tmp_path, tokenizer_file):
    data = _data(tmp_path)
    with pytest.raises(DataError) as err:
        pack_group(data, "github", str(tokenizer_file), str(tmp_path / "g"), train_token_budget=10**9)
    msg = str(err.value)
    assert "github" in msg and "1,000,000,000" in msg and "40 documents" in msg
    assert "train_token_margin" in msg
    assert not (tmp_path / "g" / "train.bin").exists()


def test_pythia_vocabulary_is_padded_to_50304():
    cfg = ModelConfig.from_dict({"preset": "pythia-160m", "vocab_size": 50277})  # GPT-NeoX tokenizer size
    assert cfg.padded_vocab == 50304 and cfg.context == 2048 and not cfg.tie_embeddings


def test_a_document_over_max_document_bytes_is_skipped_counted_and_warned(tmp_path, tokenizer_file, caplog):
    """The limit counts UTF-8 bytes (not characters), in every split; a skipped train document does not count
    towards max_docs_per_group, and the pack step writes the count to meta.json."""
    limit = 500
    every = {s: list(make_source(_data(tmp_path)).iter_split("arxiv", s)) for s in ("train", "val", "test")}
    source = make_source(_data(tmp_path, max_document_bytes=limit))
    for split, docs in every.items():
        kept = [d for d in docs if len(d.text.encode()) <= limit]
        assert 0 < len(kept) < len(docs) and list(source.iter_split("arxiv", split)) == kept
    long = sum(len(d.text.encode()) > limit for docs in every.values() for d in docs)
    assert source.skipped_long_documents("arxiv") == long and source.skipped_long_documents("github") == 0
    assert "skipped, a document longer than data.source.max_document_bytes (500 bytes)" in caplog.text
    capped = make_source(_data(tmp_path, max_document_bytes=limit, max_docs_per_group=5))
    assert len(list(capped.iter_split("arxiv", "train"))) == 5

    assert source._kept("x", Document("a", "a" * limit)) and not source._kept("x", Document("b", "a" * 501))
    assert not source._kept("x", Document("c", "é" * 300))  # 300 characters, 600 bytes
    meta = pack_group(
        _data(tmp_path, max_document_bytes=limit), "arxiv", str(tokenizer_file), str(tmp_path / "p")
    )
    assert meta["skipped_long_documents"] == long
    assert meta["splits"]["val"]["documents"] == sum(len(d.text.encode()) <= limit for d in every["val"])
