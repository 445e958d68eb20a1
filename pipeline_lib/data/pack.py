"""Packing step: tokenise each split of one group into a flat token memmap plus ``meta.json``.

Documents are concatenated in source order, each followed by the end-of-text token when
``data.tokenizer.append_eot`` is set. Run by the ``pack`` rule::

    python -m pipeline_lib.data.pack --data '<json>' --group arxiv --tokenizer tok.json \\
        --out-dir results/data/arxiv
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from pipeline_lib.config import SPLITS, DataConfig
from pipeline_lib.config.types import PACK_CHECKS_ENV
from pipeline_lib.data.documents import is_blank
from pipeline_lib.data.sources import DataError, Document, make_source
from pipeline_lib.data.tokens import token_dtype
from pipeline_lib.io import atomic_path, file_sha256, write_json
from pipeline_lib.logs import setup_logging
from pipeline_lib.progress import PROGRESS_FILE, append_progress
from pipeline_lib.storage import StorageError, storage_errors

log = logging.getLogger(__name__)


BATCH_CHARS = 1 << 20
"""A tokenizer batch closes at this many characters (or 256 documents): its memory (~175 bytes per character
encoded) stays bounded whatever the documents' sizes; the tokens do not depend on the batching."""
REPORT_EVERY_S = 5.0
"""Seconds between a budgeted train split's progress reports (tokens packed of the budget)."""


def _batched(docs: Iterable[Document], size: int, chars: int) -> Iterator[list[Document]]:
    """``docs`` in lists of at most ``size`` documents and ``chars`` characters (or one longer document)."""
    batch: list[Document] = []
    n = 0
    for doc in docs:
        if batch and n + len(doc.text) > chars:
            yield batch
            batch, n = [], 0
        batch.append(doc)
        n += len(doc.text)
        if len(batch) == size:
            yield batch
            batch, n = [], 0
    if batch:
        yield batch


def _non_blank(docs: Iterable[Document], dropped: list[int]) -> Iterator[Document]:
    """``docs`` without the empty or whitespace-only ones; ``dropped[0]`` counts those."""
    for doc in docs:
        if is_blank(doc.text):
            dropped[0] += 1
        else:
            yield doc


def pack_split(
    docs: Iterable[Document],
    tok: Tokenizer,
    eot_id: int | None,
    out: Path,
    dtype: np.dtype,
    token_budget: int | None = None,
    progress: Path | None = None,
) -> dict:
    """Tokenise ``docs`` into ``out`` (raw ``dtype`` array); return counts (documents, tokens, UTF-8 bytes of
    the text, empty or whitespace-only documents dropped) and hashes.

    With ``token_budget``, documents are taken in order until at least that many tokens are written (the
    document that crosses it is kept whole); running out of documents first is a :class:`DataError`. The
    tokens written of the budget are reported to ``progress`` (at the start, every few seconds, at the end).
    """
    ids_hash = hashlib.sha256()
    n_docs = n_tokens = n_bytes = 0
    dropped = [0]
    report = _reporter(progress, token_budget)
    report(0, force=True)
    with storage_errors(out, "packed tokens"), atomic_path(out) as tmp, open(tmp, "wb") as fh:
        kept = _non_blank(tqdm(docs, desc=out.name, unit="doc", mininterval=5), dropped)
        for batch in _batched(kept, 256, BATCH_CHARS):
            if token_budget is not None and n_tokens >= token_budget:
                break
            encodings = tok.encode_batch([d.text for d in batch], add_special_tokens=False)
            for doc, enc in zip(batch, encodings, strict=True):
                if token_budget is not None and n_tokens >= token_budget:
                    break
                ids = enc.ids + ([eot_id] if eot_id is not None else [])
                fh.write(np.asarray(ids, dtype=dtype).tobytes())
                ids_hash.update(doc.id.encode() + b"\n")
                n_docs += 1
                n_tokens += len(ids)
                n_bytes += len(doc.text.encode("utf-8"))
            report(n_tokens)
        report(n_tokens, force=True)
        if token_budget is not None and n_tokens < token_budget:
            raise DataError(
                f"the train token budget of {token_budget:,} tokens cannot be met: the source has only "
                f"{n_tokens:,} tokens in {n_docs:,} documents. Lower "
                "data.source.train_token_margin (or train.steps), drop the group, or use more data."
            )
    stats = {
        "documents": n_docs,
        "tokens": n_tokens,
        "bytes": n_bytes,
        "doc_ids_sha256": ids_hash.hexdigest(),
        "dropped_empty_documents": dropped[0],
    }
    if token_budget is not None:
        stats["token_budget"] = token_budget
    return stats


def _reporter(progress: Path | None, budget: int | None) -> Callable[..., None]:
    """``report(tokens, force=False)``: a progress line of the tokens packed of ``budget`` (capped at it: the
    last document is kept whole), at most every :data:`REPORT_EVERY_S` unless forced; a no-op without both."""
    last = [-math.inf]

    def report(tokens: int, force: bool = False) -> None:
        if progress is not None and budget and (force or time.monotonic() - last[0] >= REPORT_EVERY_S):
            append_progress(progress, min(tokens, budget), budget, unit="tokens")
            last[0] = time.monotonic()

    return report


def _check_split(group: str, split: str, stats: dict, one_batch_tokens: int) -> None:
    """Stop on a split with no documents, or a train split shorter than one batch; warn about the empty or
    whitespace-only documents dropped."""
    dropped = stats["dropped_empty_documents"]
    if stats["documents"] == 0:
        blank = f" (only {dropped} empty or whitespace-only ones, dropped)" if dropped else ""
        raise DataError(
            f"group '{group}' has no documents in its {split} split{blank}; it needs more documents, "
            "or larger data.split fractions"
        )
    if dropped:
        log.warning(
            "group '%s', %s split: dropped %d empty or whitespace-only document(s); they are not packed "
            "(meta.json: dropped_empty_documents)",
            group,
            split,
            dropped,
        )
    if split == "train" and stats["tokens"] < one_batch_tokens:
        raise DataError(
            f"group '{group}' has {stats['tokens']:,} train tokens, fewer than one batch needs "
            f"(train.batch_size x model.context + 1 = {one_batch_tokens:,}): every batch would repeat "
            "its sequences. Lower train.batch_size (or model.context) of the settings using it, or add "
            "documents"
        )


def _check_eval_splits(group: str, splits: dict, need: int) -> None:
    """Stop when the val or test split is shorter than one evaluation sequence (``need`` = context + 1):
    the runs would fail at their start."""
    short = [s for s in ("val", "test") if splits[s]["tokens"] < need]
    if not short:
        return
    counts = ", ".join(f"{s} split {splits[s]['tokens']:,} tokens" for s in short)
    fractions = " and ".join(f"data.split.{s}_fraction" for s in short)
    raise DataError(
        f"group '{group}': fewer tokens than one evaluation sequence of the runs reading it needs "
        f"(model.context + 1 = {need:,}, model.context {need - 1:,}): {counts}; every run reading it "
        f"would stop at its start. Lower model.context of the settings using it, raise {fractions}, or add "
        "documents"
    )


def pack_group(
    cfg: DataConfig,
    group: str,
    tokenizer_path: str,
    out_dir: str,
    train_token_budget: int | None = None,
    one_batch_tokens: int = 0,
    eval_chunk_tokens: int = 0,
) -> dict:
    """Tokenise and pack a group's three splits; fail (before any training job) when its train split holds
    fewer than ``one_batch_tokens`` tokens, one batch of distinct sequences, or its val or test split fewer
    than ``eval_chunk_tokens``, one evaluation sequence."""
    source = make_source(cfg)
    source.check_group(group)
    tok = Tokenizer.from_file(tokenizer_path)
    eot_id = tok.token_to_id(cfg.tokenizer.eot_token) if cfg.tokenizer.append_eot else None
    dtype = token_dtype(tok.get_vocab_size())
    out = Path(out_dir)
    meta: dict = {
        "group": group,
        "dtype": np.dtype(dtype).name,
        "vocab_size": tok.get_vocab_size(),
        "tokenizer_sha256": file_sha256(tokenizer_path),
        "eot_id": eot_id,
        "source": {"kind": cfg.source.kind, "path": cfg.source.path},
        "splits": {},
        "dropped_empty_documents": 0,
        "skipped_long_documents": 0,
    }
    progress = out / PROGRESS_FILE if train_token_budget else None  # the train split's tokens of its budget
    if progress is not None:
        out.mkdir(parents=True, exist_ok=True)
        progress.write_text("")
    for split in SPLITS:
        budget = train_token_budget if split == "train" else None
        try:
            docs = source.iter_split(group, split)
            stats = pack_split(docs, tok, eot_id, out / f"{split}.bin", dtype, budget, progress)
        except DataError as err:
            raise DataError(f"group '{group}', {split} split: {err}") from None
        _check_split(group, split, stats, one_batch_tokens)
        meta["dropped_empty_documents"] += stats["dropped_empty_documents"]
        stats["sha256"] = file_sha256(out / f"{split}.bin")
        meta["splits"][split] = stats
        log.info("%s/%s: %d docs, %d tokens", group, split, stats["documents"], stats["tokens"])
    _check_eval_splits(group, meta["splits"], eval_chunk_tokens)
    meta["skipped_long_documents"] = source.skipped_long_documents(group)
    with storage_errors(out / "meta.json", "the group's pack metadata"):
        write_json(out / "meta.json", meta)
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="the data config block as JSON")
    ap.add_argument("--group", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument(
        "--train-token-budget", type=int, default=None, help="stop taking train documents at this many tokens"
    )
    ap.add_argument(
        "--one-batch-tokens",
        type=int,
        default=0,
        help="fail when the train split has fewer tokens (one batch)",
    )
    ap.add_argument(
        "--eval-chunk-tokens",
        type=int,
        default=None,
        help=f"fail when the val or test split has fewer tokens (default: the group's in ${PACK_CHECKS_ENV})",
    )
    args = ap.parse_args(argv)
    setup_logging()
    data = DataConfig.from_dict(json.loads(args.data))
    eval_tokens = args.eval_chunk_tokens
    if eval_tokens is None:
        eval_tokens = json.loads(os.environ.get(PACK_CHECKS_ENV) or "{}").get(args.group, 0)
    try:
        pack_group(
            data,
            args.group,
            args.tokenizer,
            args.out_dir,
            args.train_token_budget,
            args.one_batch_tokens,
            eval_tokens,
        )
    except (DataError, StorageError) as err:  # the message, not a traceback, ends the job's log
        raise SystemExit(f"{type(err).__name__}: {err}") from None


if __name__ == "__main__":
    main()
