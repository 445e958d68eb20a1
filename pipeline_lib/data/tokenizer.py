"""Tokenizer step: train a byte-level BPE on the train split, or take a given tokenizer.json / hub tokenizer.

Run by the ``tokenizer`` rule::

    python -m pipeline_lib.data.tokenizer --data '<json>' --groups arxiv book \\
        --out results/data/tokenizer.json
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from collections.abc import Iterator, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from pipeline_lib.config import DataConfig
from pipeline_lib.data.documents import is_blank
from pipeline_lib.data.sources import DataError, Source, make_source
from pipeline_lib.io import atomic_path
from pipeline_lib.logs import setup_logging

log = logging.getLogger(__name__)


def train_bpe(texts: Iterator[str], vocab_size: int, special_tokens: Sequence[str]) -> Tokenizer:
    """A GPT-2 style byte-level BPE (no unknown tokens) trained on ``texts``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


TRAINING_PIECE_CHARS = 1 << 20
"""A document longer than this reaches the BPE trainer in pieces of this many characters, and no further than
the group's budget: a huge document costs the trainer no more than its budget (the shipped corpus's longest
document has 12k characters, so its tokenizer is unchanged)."""


def _pieces(text: str, limit: int | None) -> Iterator[str]:
    """``text`` whole when it fits one piece (the budget's last document too, as before); else pieces of
    :data:`TRAINING_PIECE_CHARS` characters, at most ``limit`` characters in all."""
    if len(text) <= TRAINING_PIECE_CHARS:
        yield text
        return
    end = len(text) if limit is None else min(len(text), limit)
    for start in range(0, end, TRAINING_PIECE_CHARS):
        yield text[start : min(start + TRAINING_PIECE_CHARS, end)]


def training_texts(source: Source, groups: Sequence[str], chars_per_group: int | None) -> Iterator[str]:
    """Train-split texts of every group, in group order, optionally capped per group (documents are taken
    whole until the cap is reached; a document longer than :data:`TRAINING_PIECE_CHARS` only up to the cap);
    empty or whitespace-only documents are skipped (the pack step drops them too)."""
    for group in groups:
        used = 0
        for doc in source.iter_split(group, "train"):
            if chars_per_group is not None and used >= chars_per_group:
                break
            if is_blank(doc.text):
                continue
            for piece in _pieces(doc.text, None if chars_per_group is None else chars_per_group - used):
                used += len(piece)
                yield piece
        if used == 0:
            raise DataError(f"group '{group}' has no training documents to train the tokenizer on")


def hub_tokenizer_file(name: str) -> str:
    """The hub model's ``tokenizer.json``, from the Hugging Face cache or downloaded into it."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return hf_hub_download(name, "tokenizer.json")
    except (OSError, HfHubHTTPError) as err:
        raise DataError(
            f"could not get the tokenizer '{name}' (data.tokenizer.name) from the Hugging Face hub: "
            f"{type(err).__name__}: {str(err).rstrip('.')}. Offline options: (1) a local file: "
            "data.tokenizer.kind: file with data.tokenizer.path: tokenizer.json "
            f"(e.g. `hf download {name} tokenizer.json --local-dir tok`); (2) a cached copy: fetch it once "
            "with network access (it lands in the Hugging Face cache, HF_HOME), then it loads with "
            "HF_HUB_OFFLINE=1."
        ) from err


def _load_tokenizer_file(path: str) -> Tokenizer:
    """``data.tokenizer.path`` as a tokenizer; a missing or unreadable file is a :class:`DataError`."""
    try:
        return Tokenizer.from_file(path)
    except Exception as err:  # the tokenizers library raises a bare Exception
        raise DataError(
            f"data.tokenizer.path: '{path}' could not be loaded as a tokenizer ({err}); give the path of a "
            "tokenizer.json saved by the Hugging Face tokenizers library"
        ) from None


def build_tokenizer(cfg: DataConfig, groups: Sequence[str], out: str) -> None:
    tcfg = cfg.tokenizer
    with atomic_path(out) as tmp:
        if tcfg.kind == "bpe":
            source = make_source(cfg)
            log.info("training byte-level BPE (vocab %d) on the train split of %s", tcfg.vocab_size, groups)
            texts = training_texts(source, groups, tcfg.training_chars_per_group)
            tok = train_bpe(texts, tcfg.vocab_size, [tcfg.eot_token])
            tok.save(str(tmp))
        elif tcfg.kind == "file":
            if not tcfg.path:
                raise DataError("data.tokenizer.kind is 'file' but data.tokenizer.path is not set")
            _load_tokenizer_file(tcfg.path)  # fail early on a file that is not a tokenizer
            shutil.copyfile(tcfg.path, tmp)
        elif tcfg.kind == "hub":
            if not tcfg.name:
                raise DataError("data.tokenizer.kind is 'hub' but data.tokenizer.name is not set")
            shutil.copyfile(hub_tokenizer_file(tcfg.name), tmp)
        else:
            raise DataError(f"data.tokenizer.kind '{tcfg.kind}' is unknown (bpe, file, hub)")
        tok = Tokenizer.from_file(str(tmp))
        if tcfg.append_eot and tok.token_to_id(tcfg.eot_token) is None:
            raise DataError(f"tokenizer has no '{tcfg.eot_token}' token; set data.tokenizer.eot_token")
    log.info("tokenizer written to %s (vocab %d)", out, tok.get_vocab_size())


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="the data config block as JSON")
    ap.add_argument("--groups", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    try:
        build_tokenizer(DataConfig.from_dict(json.loads(args.data)), args.groups, args.out)
    except DataError as err:
        raise SystemExit(f"DataError: {err}") from None  # the message, not a traceback, ends the job's log


if __name__ == "__main__":
    main()
