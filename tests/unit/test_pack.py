from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer

from pipeline_lib.config import DataConfig
from pipeline_lib.data.pack import pack_group
from pipeline_lib.data.sources import JsonlSource
from pipeline_lib.data.tokenizer import build_tokenizer
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


def test_tokenizer_training_is_deterministic(corpus_dir, tmp_path):
    data = _data(corpus_dir)
    build_tokenizer(data, ["alpha", "gamma"], str(tmp_path / "a.json"))
    build_tokenizer(data, ["alpha", "gamma"], str(tmp_path / "b.json"))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_token_dtype_follows_vocabulary():
    assert token_dtype(50304) == np.uint16
    assert token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32
