"""The tokenised task set cached once per results directory (``pipeline_lib/tasks/cache.py``, the
``task_rows`` rule): what a job reads back packs into the same rows, and scores the same, as tokenising in
the job; a cache built for another request stops the job with the fix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline_lib.config.tasks import TasksConfig
from pipeline_lib.plan.jobs import DownstreamEval
from pipeline_lib.tasks.batching import pack_task, task_rows
from pipeline_lib.tasks.cache import Downstream, encode_tasks, main, read_encoded, write_encoded
from pipeline_lib.tasks.types import TaskError
from pipeline_lib.train.run import downstream_result
from tests.conftest import REPO
from tests.unit.test_task_eval import _tokenizer, _trainer


def _bpe_tokenizer(tmp_path) -> str:
    """A small byte-level BPE trained on a few lines (every text tokenises), saved as tokenizer.json."""
    from pipeline_lib.data.tokenizer import train_bpe

    texts = ["The answer is 4. def f(x): return x + 1", "Question: what is a cat? Answer: an animal"] * 20
    path = tmp_path / "tokenizer.json"
    train_bpe(iter(texts), 300, ["<|endoftext|>"]).save(str(path))
    return str(path)


def _job(tmp_path, split: str = "val", **tasks) -> Downstream:
    cfg = TasksConfig.from_dict({"set": ["arc_easy", "gsm8k"], "root": str(REPO / "data/tasks"), **tasks})
    return Downstream(cfg, split, _bpe_tokenizer(tmp_path), "<|endoftext|>")


def _same_rows(a, b) -> None:
    for field in ("tokens", "mask", "row_item", "item_request", "item_choice", "item_gold", "item_bytes",
                  "item_chars", "item_tokens"):  # fmt: skip
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert (a.task, a.split, a.n_requests, a.n_truncated, a.n_split) == (
        b.task, b.split, b.n_requests, b.n_truncated, b.n_split)  # fmt: skip


def test_cached_tasks_pack_into_the_rows_of_tokenising_in_the_job(tmp_path):
    job = _job(tmp_path)
    write_encoded(tmp_path / "cache", encode_tasks(job), job.key())
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["items.npy", "tasks.json", "tokens.npy"]
    cached = read_encoded(tmp_path / "cache", job.key())
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(job.tokenizer)
    direct = job.tasks.load("val")
    assert [t.task for t in cached] == ["arc_easy", "gsm8k"] and cached[0].with_choices
    assert [t.family for t in cached] == [t.family for t in direct]
    for window in (16, 128):  # one cache serves every model's window; 16 truncates contexts
        for enc, task in zip(cached, direct, strict=True):
            _same_rows(pack_task(enc, window), task_rows(task, tok, window, tok.token_to_id("<|endoftext|>")))
    assert pack_task(cached[1], 16).n_truncated > 0


def test_the_cache_is_plain_npy_and_json(tmp_path):
    job = _job(tmp_path, choices=False)
    arg = {"tasks": job.tasks.to_dict(), "split": "val", "tokenizer": job.tokenizer, "bos": job.bos}
    main(["--downstream", json.dumps(arg), "--out-dir", str(tmp_path / "c")])
    meta = json.loads((tmp_path / "c/tasks.json").read_text())
    assert meta["key"] == job.key() and [t["with_choices"] for t in meta["tasks"]] == [False, False]
    items = np.load(tmp_path / "c/items.npy", allow_pickle=False)
    tokens = np.load(tmp_path / "c/tokens.npy", allow_pickle=False)
    assert tokens.dtype == np.int32 and items[:, 6:8].sum() == len(tokens)
    n_requests = sum(t["n_requests"] for t in meta["tasks"])
    assert len(items) == n_requests and items[:, 3].all()  # gold continuations only


def test_a_cache_for_another_request_stops_with_the_fix(tmp_path):
    job = _job(tmp_path)
    write_encoded(tmp_path / "c", encode_tasks(job), job.key())
    other = Downstream(job.tasks, "test", job.tokenizer, job.bos)
    with pytest.raises(
        TaskError, match=r"tokenised for another split than this job's; delete .*/c and rerun"
    ):
        read_encoded(tmp_path / "c", other.key())
    retrained = json.loads((tmp_path / "tokenizer.json").read_text())
    retrained["model"]["merges"] = retrained["model"]["merges"][:-1]  # another tokenizer, same path
    (tmp_path / "tokenizer.json").write_text(json.dumps(retrained))
    with pytest.raises(TaskError, match=r"another tokenizer_sha256"):
        read_encoded(tmp_path / "c", job.key())


def test_a_job_scores_the_same_from_the_cache_as_tokenising_itself(tmp_path):
    trainer = _trainer()  # a word-level vocabulary of 40 tokens, context 16
    tok_path = tmp_path / "tokenizer.json"
    _tokenizer().save(str(tok_path))
    files = {"mine": str(REPO / "tests/fixtures/tasks/words.jsonl")}
    cfg = TasksConfig.from_dict({"set": None, "files": files})
    job = Downstream(cfg, "test", str(tok_path), "t1")
    write_encoded(tmp_path / "c", encode_tasks(job), job.key())
    direct = downstream_result(trainer, job)
    cached = downstream_result(trainer, Downstream(cfg, "test", str(tok_path), "t1", str(tmp_path / "c")))
    assert cached.tasks == direct.tasks and direct.tasks["mine"].n_requests == 3
    assert direct.tasks["mine"].n_truncated == 1 and direct.tasks["mine"].accuracy is not None


def test_the_planner_points_jobs_at_the_cache():
    tasks = json.dumps(TasksConfig.from_dict({"set": "shipped"}).to_dict())
    ev = DownstreamEval("val", tasks, "<|endoftext|>", ("data/tasks/MANIFEST.json",), "shipped")
    assert ev.cache_files() == [
        f"data/tasks/shipped/val/{f}" for f in ("tokens.npy", "items.npy", "tasks.json")
    ]
    assert json.loads(ev.arg("/r"))["cache"] == "/r/data/tasks/shipped/val"
    assert "cache" not in json.loads(ev.arg("/r", cached=False))


def test_max_requests_caps_every_task_and_is_checked():
    cfg = TasksConfig.from_dict({"set": "shipped", "root": str(REPO / "data/tasks"), "max_requests": 7})
    tasks = cfg.load("test")
    assert len(tasks) == 6 and all(len(t.requests) == 7 for t in tasks)
    full = TasksConfig.from_dict({"set": "shipped", "root": str(REPO / "data/tasks")}).load("test")
    assert [t.requests[:7] for t in full] == [t.requests for t in tasks]  # the first ones
    assert cfg.to_dict()["max_requests"] == 7 and "max_requests" not in TasksConfig().to_dict()
    assert TasksConfig.from_dict({"max_requests": 0}).problems() == [
        "tasks.max_requests: must be a whole number >= 1 or null, got 0"
    ]


def test_the_demo_scores_table_2s_runs_and_olmixs_proxies_only():
    """config.yaml: Table 2's final runs (and the grid pilots, one of which is grid search's final run) score
    the capped shipped set's test variants, Olmix's proxies (objective: tasks) its val variants; restricted
    runs (Table 3) and every other learning run score nothing."""
    import yaml

    from pipeline_lib.config import load_project
    from pipeline_lib.plan.planner import Planner

    plan = Planner(load_project(yaml.safe_load((REPO / "config.yaml").read_text())))
    split = {
        path: job.downstream.split for path, job in plan.train_jobs.items() if job.downstream is not None
    }
    assert not any("/restricted/" in p for p in split)
    final = {p for p in plan.train_jobs if "/runs/" in p and "/restricted/" not in p}
    grid = {p for p in plan.train_jobs if "/pilots/grid/" in p and "/restricted/" not in p}
    swarm = {p for p in plan.train_jobs if "/pilots/swarm/" in p}
    assert {p for p, s in split.items() if s == "test"} == final | grid and len(swarm) == 9  # K = 3(m + 1)
    assert {p for p, s in split.items() if s == "val"} == swarm
    tasks = json.loads(next(plan.train_jobs[p] for p in final).downstream.tasks)
    assert (tasks["set"], tasks["choices"], tasks["max_requests"]) == ("shipped", False, 64)
