"""The downstream task suite as an evaluation: TaskSuiteBPB through a trainer's model, run.json's
``downstream`` records, the ``tasks:`` config block and Olmix's objective."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import math

import numpy as np
import pytest
import torch
import yaml

from pipeline_lib.config import ConfigError, load_project
from pipeline_lib.config.registry import FitCall, fit_step
from pipeline_lib.config.tasks import TasksConfig
from pipeline_lib.methods import make_policy
from pipeline_lib.olmix.__main__ import swarm_from_runs
from pipeline_lib.plan.planner import Planner
from pipeline_lib.records import DownstreamResult, RecordError, RunRecord, TaskResult
from pipeline_lib.tasks.types import Request, Task
from pipeline_lib.train.evaluations import TaskSuiteBPB
from pipeline_lib.train.trainer import Trainer
from tests.records import fixture, run_dict
from tests.unit.test_trainer import _groups, _spec

LN2 = math.log(2)


def _tokenizer():
    """A word-level tokenizer on the trainer's 40-token vocabulary: ``tN`` is token N."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({f"t{i}": i for i in range(40)}, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def _words(ids) -> str:
    return " ".join(f"t{i}" for i in ids)


def _trainer() -> Trainer:
    """A tiny trained model (context 16) whose evaluation batches hold 2 rows."""
    spec = _spec(steps=6)
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, eval_batch_size=2))
    trainer = Trainer(spec, _groups())
    trainer.run(make_policy("stratified", ("g0", "g1")))
    return trainer


@torch.no_grad()
def _nll(trainer: Trainer, context: list[int], continuation: list[int]) -> float:
    """The summed NLL (nats) of ``continuation`` after ``context``, one unpadded sequence through the model,
    the context cut from the left to the window as olmo_eval does: (ctx + cont[:-1])[-T:]."""
    seq = (context + continuation)[-(trainer.model_config.context + 1) :]
    x = torch.tensor([seq[:-1]])
    y = torch.tensor([seq[1:]])
    _, losses = trainer.model.eval()(x, y)
    return float(losses[0, -len(continuation) :].double().sum())


def _bpb(nll: float, text: str) -> float:
    return nll / (LN2 * len(text.encode("utf-8")))


def test_task_bpb_through_the_model_equals_the_metric_on_per_token_losses():
    """Requests of several lengths, batched 2 rows at a time after sorting by length, give the BPB the
    metric's definition gives on the same model's per-token losses of each request alone."""
    trainer = _trainer()
    rng = np.random.default_rng(1)
    reqs = [(rng.integers(1, 40, n).tolist(), rng.integers(1, 40, k).tolist()) for n, k in
            [(3, 2), (7, 1), (2, 5), (9, 3), (4, 4)]]  # fmt: skip
    task = Task("q", "qa", "test", tuple(Request(_words(c), " " + _words(a)) for c, a in reqs), "mem")
    other = Task("m", "math", "test", (Request(_words([5, 6]), " " + _words([7, 8, 9])),), "mem")
    evaluation = TaskSuiteBPB("test")
    rows = evaluation.rows([task, other], _tokenizer(), trainer.model_config.context, bos_id=None)
    result = evaluation.record("mine", [task, other], rows, trainer.score_rows(rows), 0.5)
    expected = np.mean([_bpb(_nll(trainer, c, a), " " + _words(a)) for c, a in reqs])
    assert result.tasks["q"].bpb == pytest.approx(expected, rel=1e-6)
    assert result.tasks["m"].bpb == pytest.approx(
        _bpb(_nll(trainer, [5, 6], [7, 8, 9]), " t7 t8 t9"), rel=1e-6
    )
    assert result.tasks["q"].n_requests == 5 and result.tasks["q"].n_truncated == 0
    assert result.tasks["q"].accuracy is None and result.wall_time_s == 0.5
    assert result.family_bpb() == {"qa": result.tasks["q"].bpb, "math": result.tasks["m"].bpb}


def test_left_truncation_is_counted_and_scored_as_olmo_eval():
    trainer = _trainer()
    long_ctx, short_ctx = list(range(1, 31)), [3, 4]  # 30 + 2 - 1 > 16: cut from the left
    task = Task(
        "t", "qa", "test", (Request(_words(long_ctx), " t5 t6"), Request(_words(short_ctx), " t7")), "m"
    )
    evaluation = TaskSuiteBPB("test")
    rows = evaluation.rows([task], _tokenizer(), trainer.model_config.context, bos_id=None)
    result = evaluation.record("mine", [task], rows, trainer.score_rows(rows), 0.0).tasks["t"]
    assert result.n_truncated == 1 and result.n_split == 0
    expected = (
        _bpb(_nll(trainer, long_ctx, [5, 6]), " t5 t6") + _bpb(_nll(trainer, short_ctx, [7]), " t7")
    ) / 2
    assert result.bpb == pytest.approx(expected, rel=1e-6)


def test_rc_accuracy_of_a_task_with_choices():
    """Each request's choices scored through the model; the gold wins when its per-character log-likelihood
    is the highest (acc_norm char): the accuracy equals that argmax, computed here request by request."""
    trainer = _trainer()
    rng = np.random.default_rng(2)
    requests, correct = [], []
    for i in range(6):
        ctx = rng.integers(1, 40, 4).tolist()
        choices = [" " + _words(rng.integers(1, 40, k).tolist()) for k in (1, 2, 3)]
        gold = i % 3
        scores = [-_nll(trainer, ctx, [int(w[1:]) for w in c.split()]) / len(c) for c in choices]
        correct.append(int(np.argmax(scores)) == gold)
        requests.append(Request(_words(ctx), choices[gold], tuple(choices), gold))
    assert 0 < sum(correct) < 6  # the case tells a right from a wrong answer
    task = Task("mc", "qa", "test", tuple(requests), "mem", "char")
    evaluation = TaskSuiteBPB("test")
    rows = evaluation.rows([task], _tokenizer(), trainer.model_config.context, bos_id=None)
    result = evaluation.record("mine", [task], rows, trainer.score_rows(rows), 0.0).tasks["mc"]
    assert result.accuracy == pytest.approx(np.mean(correct), abs=1e-12)
    gold_only = TaskSuiteBPB("test", choices=False)
    rows = gold_only.rows([task], _tokenizer(), 16, bos_id=None)
    assert gold_only.record("m", [task], rows, trainer.score_rows(rows), 0.0).tasks["mc"].accuracy is None


# --- records ----------------------------------------------------------------------------------------------


def _downstream() -> dict:
    task = {"family": "qa", "bpb": 1.25, "accuracy": 0.5, "n_requests": 4, "n_truncated": 1, "n_split": 0}
    code = {**task, "family": "code", "bpb": 0.75, "accuracy": None}
    return {
        "test": {"task_set": "shipped", "tasks": {"arc_easy": task, "codex_mbpp": code}, "wall_time_s": 2.5}
    }


def test_an_old_run_json_has_no_downstream_and_reads_back_unchanged():
    old = fixture("run_final")
    assert "downstream" not in old
    record = RunRecord.from_dict(old)
    assert record.downstream is None and record.to_dict() == old
    with pytest.raises(RecordError, match=r"no downstream task scores on 'test'.*tasks: block"):
        record.metric("test_downstream_bpb")


def test_a_run_json_with_downstream_scores_round_trips():
    data = run_dict(downstream=_downstream())
    record = RunRecord.from_dict(data)
    assert record.to_dict() == data and RunRecord.from_dict(record.to_dict()) == record
    result = record.downstream_result("test")
    assert result.tasks["arc_easy"] == TaskResult("qa", 1.25, 0.5, 4, 1, 0)
    assert record.metric("test_downstream_bpb") == {"arc_easy": 1.25, "codex_mbpp": 0.75}
    assert result.macro_bpb == 1.0 and result.wall_time_s == 2.5
    added = RunRecord.from_dict(run_dict()).with_downstream("val", DownstreamResult("s", {}, 1.0))
    assert added.to_dict()["downstream"] == {"val": {"task_set": "s", "tasks": {}, "wall_time_s": 1.0}}


def test_a_malformed_downstream_entry_names_its_key():
    bad = _downstream()
    del bad["test"]["tasks"]["arc_easy"]["n_truncated"]
    with pytest.raises(RecordError, match=r"downstream\.test: tasks\.arc_easy: no 'n_truncated'"):
        RunRecord.from_dict(run_dict(downstream=bad), "x/run.json")


# --- config -----------------------------------------------------------------------------------------------


def _config(**tasks) -> dict:
    from tests.conftest import REPO

    cfg = yaml.safe_load((REPO / "config/test/tiny.yaml").read_text())
    cfg["run"] = {"settings": ["pair"], "methods": ["stratified", "olmix"], "seeds": [0]}
    cfg.pop("restricted")
    if tasks:
        cfg["tasks"] = tasks
    return cfg


def test_a_bad_task_name_stops_loading_with_the_name():
    with pytest.raises(ConfigError, match=r"'arc_esay' not in the shipped subset"):
        load_project(_config(set=["arc_easy", "arc_esay"]))
    with pytest.raises(ConfigError, match=r"tasks.set: 'olmix99' is no task set"):
        load_project(_config(set="olmix99"))
    with pytest.raises(ConfigError, match=r"'olmix52' needs tasks.suite"):
        load_project(_config(set="olmix52"))


def test_a_malformed_request_file_stops_loading_with_file_and_line(tmp_path):
    path = tmp_path / "mine.jsonl.gz"
    lines = [json.dumps({"context": "Q:", "continuation": " a"}), '{"context": "Q:", "continuation": ']
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    with pytest.raises(ConfigError, match=rf"{path}:2: not valid JSON"):
        load_project(_config(set=None, files={"mine": str(path)}))
    ok = tmp_path / "ok.jsonl"
    ok.write_text(lines[0] + "\n")
    project = load_project(_config(set=None, files={"mine": str(ok)}))
    assert project.tasks == TasksConfig(None, None, project.tasks.files, root=project.tasks.root)
    assert [t.name for t in project.tasks.load("val")] == ["mine"]


def test_an_olmix_objective_on_tasks_needs_a_tasks_block():
    cfg = _config()
    cfg["methods"]["olmix"]["objective"] = "tasks"
    with pytest.raises(ConfigError, match=r"methods.olmix.objective: 'tasks' needs a top-level tasks: block"):
        load_project(cfg)
    cfg["methods"]["olmix"]["objective"] = "all"
    with pytest.raises(ConfigError, match=r"methods.olmix.objective: must be one of groups, tasks, both"):
        load_project(cfg)


def _fit_argv(cfg: dict) -> list[str]:
    plan = Planner(load_project(cfg))
    inputs = {"runs": ["r/run.json"], "priors": ["p.json"]}
    return fit_step("olmix").argv(FitCall(plan, "pair", 0, inputs, "fits/olmix/seed0.json"))


def test_olmix_objective_chooses_the_fit_metrics_and_the_default_is_unchanged():
    cfg = _config()
    argv = _fit_argv(cfg)
    assert argv[argv.index("--metric") : argv.index("--metric") + 2] == ["--metric", "task_bpb"]
    assert argv[argv.index("--metric") + 2] == "--priors"
    assert "objective" not in json.loads(argv[argv.index("--config") + 1])  # default: the same hash
    jobs = Planner(load_project(cfg)).train_jobs
    assert not any(j.downstream for j in jobs.values())  # no tasks: block, no downstream scoring
    both = copy.deepcopy(cfg) | {"tasks": {"set": "shipped"}}
    both["methods"]["olmix"]["objective"] = "both"
    argv = _fit_argv(both)
    assert argv[argv.index("--metric") + 1 : argv.index("--priors")] == ["task_bpb", "downstream_bpb"]
    jobs = Planner(load_project(both)).train_jobs
    splits = {path: j.downstream.split for path, j in jobs.items() if j.downstream}
    assert splits["pair/runs/stratified/seed0"] == "test" and splits["pair/pilots/swarm/seed0/run0"] == "val"
    assert "--downstream" in jobs["pair/runs/olmix/seed0"].args("results")


def test_the_swarm_table_on_groups_tasks_or_both(tmp_path):
    task = {"family": "qa", "bpb": 1.5, "accuracy": None, "n_requests": 2, "n_truncated": 0, "n_split": 0}
    down = {"val": {"task_set": "s", "wall_time_s": 1.0, "tasks": {"arc_easy": task}}}
    paths = []
    for k in range(3):
        data = run_dict(("a", "b"), test_loss=None, task_bpb={"a": 1.0 + k, "b": 2.0}, downstream=down)
        (tmp_path / f"run{k}").mkdir()
        (tmp_path / f"run{k}" / "run.json").write_text(json.dumps(data))
        paths.append(str(tmp_path / f"run{k}" / "run.json"))
    assert swarm_from_runs(paths, "task_bpb")[0].tasks == ("a", "b")
    assert swarm_from_runs(paths, ["downstream_bpb"])[0].tasks == ("arc_easy",)
    swarm, _ = swarm_from_runs(paths, ["task_bpb", "downstream_bpb"])
    assert swarm.tasks == ("a", "b", "arc_easy") and swarm.Y[:, 2].tolist() == [1.5] * 3
    assert swarm.Y[:, 0].tolist() == [1.0, 2.0, 3.0]
