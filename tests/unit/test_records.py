"""Run and fit records: every kind the workflow writes reads back to the same file, a bad file is named with
its key, and the derived quantities equal what the readers computed from raw keys before the records."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from pipeline_lib.records import (
    DmlFit,
    FitRecord,
    GridSearchFit,
    OlmixFit,
    ProxyFit,
    RecordError,
    ReuseFit,
    RunRecord,
    SkillItFit,
    Spent,
    SwarmFile,
    TestResult,
    task_bpb_key,
    task_bpb_split,
)
from tests.conftest import REPO
from tests.fixtures.make_records import FITS, RUNS, SWARMS
from tests.records import FIXTURES, fixture, run_dict

FIT_TYPES = {
    "dml": DmlFit, "grid_search": GridSearchFit, "skillit": SkillItFit, "doremi": ProxyFit, "doge": ProxyFit,
    "olmix": OlmixFit, "olmix_pilots": OlmixFit, "reuse_stage0": ReuseFit, "reuse_full_reuse": ReuseFit,
    "reuse_partial_reuse": ReuseFit, "reuse_natural": ReuseFit,
}  # fmt: skip
REQUIRED = (
    "setting", "method", "seed", "groups", "spec", "config_hash", "data_sha256", "start_step", "init_state",
    "steps", "tokens", "final_mixture", "val_loss", "compute", "extra_runs", "method_summary",
)  # fmt: skip


# The readers' arithmetic at c29d3c6, before the records (pipeline_lib/io.py, report/tables.py, train/run.py,
# olmix/reuse_report.py): the records' methods must give the same numbers.
def old_trained_tokens(record: dict) -> int:
    return int(record.get("tokens_trained", record["tokens"]))


def old_spent(records: list[dict]) -> dict:
    return {
        "runs": len(records),
        "tokens": sum(old_trained_tokens(r) for r in records),
        "flops": sum(float(r.get("compute", {}).get("flops", 0.0)) for r in records),
    }


def old_training_flops(run: dict) -> float:
    extra = run["extra_runs"].get("flops", 0.0)
    if run.get("method_summary", {}).get("selected_run"):
        return float(extra)
    return run["compute"]["flops"] + extra


def old_perplexity_summary(groups, test_losses: np.ndarray) -> dict:
    def finite(v):
        return float(v) if math.isfinite(v) else None

    with np.errstate(over="ignore"):
        ppl = np.exp(test_losses)
    try:
        exp_mean = finite(math.exp(test_losses.mean()))
    except OverflowError:
        exp_mean = None
    out = {
        "test_loss": {g: finite(v) for g, v in zip(groups, test_losses, strict=True)},
        "test_ppl": {g: finite(v) for g, v in zip(groups, ppl, strict=True)},
        "avg_test_ppl": finite(ppl.mean()),
        "exp_mean_test_loss": exp_mean,
    }
    bad = [g for g, v in out["test_ppl"].items() if v is None]
    if bad:
        out["overflow"] = f"the test perplexity of {bad} is not finite (test losses {out['test_loss']})"
    return out


@pytest.mark.parametrize("name", list(RUNS))
def test_every_kind_of_run_json_reads_back_to_the_same_file(tmp_path, name):
    path = FIXTURES / f"run_{name}.json"
    record = RunRecord.read(path)
    assert record.to_dict() == json.loads(path.read_text())
    record.write(tmp_path / "run.json")
    assert (tmp_path / "run.json").read_bytes() == path.read_bytes()
    assert record.source == str(path) and RunRecord.from_dict(record.to_dict()) == record


def test_each_kind_keeps_the_keys_only_it_has():
    runs = {name: RunRecord.read(FIXTURES / f"run_{name}.json") for name in RUNS}
    # unrestricted grid pilots are tested: the best one becomes grid search's final run
    tested = ("final", "aioli", "skillit", "selected_pilot", "grid_pilot", "restricted_plus", "reuse_target")
    assert all(runs[n].test is not None for n in tested)
    learning = ("onehot_pilot", "doremi_proxy", "swarm_proxy", "dynamic_parent", "dynamic_child")
    learning += ("reuse_proxy",)
    assert all(runs[n].test is None for n in learning)
    assert set(runs["swarm_proxy"].task_bpb) == {"val"} and set(runs["reuse_proxy"].task_bpb) == {"val"}
    assert set(runs["reuse_target"].task_bpb) == {"test"} and not runs["final"].task_bpb
    child = runs["dynamic_child"]
    assert child.start_step == runs["dynamic_parent"].steps and child.init_state.endswith("state.pt")
    assert child.trained_tokens < child.tokens
    assert runs["selected_pilot"].selected_run.endswith("run.json") and runs["final"].selected_run is None
    assert runs["grid_pilot"].extra_runs.flops is None and runs["selected_pilot"].extra_runs.flops > 0
    assert runs["doremi_proxy"].method_summary["updates"] > 0 and runs["aioli"].method_summary["rounds"]


@pytest.mark.parametrize("key", REQUIRED)
def test_a_missing_key_names_the_file_and_the_key(tmp_path, key):
    data = fixture("run_final")
    del data[key]
    path = tmp_path / "x" / "run.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=rf"{path}: no '{key}' \(written by another version"):
        RunRecord.read(path)


@pytest.mark.parametrize("key", ["runs", "tokens"])
def test_a_missing_nested_key_names_its_parent(key):
    data = fixture("run_final")
    del data["extra_runs"][key]
    with pytest.raises(RecordError, match=rf"f.json: extra_runs: no '{key}'"):
        RunRecord.from_dict(data, "f.json")
    data = fixture("run_final")
    del data["compute"]["flops"]
    with pytest.raises(RecordError, match=r"f.json: compute: no 'flops'"):
        RunRecord.from_dict(data, "f.json")


def test_unknown_keys_wrong_types_and_mismatched_groups_are_refused():
    with pytest.raises(RecordError, match=r"f.json: unknown key\(s\) \['val_task_bpb', 'x'\]"):
        RunRecord.from_dict(run_dict(x=1, val_task_bpb={}), "f.json")
    with pytest.raises(RecordError, match=r"f.json: 'seed' must be int, got '0'"):
        RunRecord.from_dict(run_dict(seed="0"), "f.json")
    with pytest.raises(RecordError, match=r"'steps' must be int, got True"):
        RunRecord.from_dict(run_dict(steps=True), "f.json")
    with pytest.raises(RecordError, match=r"f.json: val_loss has groups \['a'\], not \['a', 'b'\]"):
        RunRecord.from_dict(run_dict(val_loss=[1.0, 2.0]) | {"val_loss": {"a": 1.0}}, "f.json")
    with pytest.raises(RecordError, match="a run record: no test pass"):
        _ = RunRecord.from_dict(run_dict(test_loss=None)).tested


def test_derived_quantities_equal_the_old_readers_on_every_kind():
    raw = {name: fixture(f"run_{name}") for name in RUNS}
    records = {name: RunRecord.from_dict(data) for name, data in raw.items()}
    for name, record in records.items():
        assert record.trained_tokens == old_trained_tokens(raw[name]), name
        assert record.mixture() == [raw[name]["final_mixture"][g] for g in raw[name]["groups"]]
        if record.test is not None:
            assert record.training_flops == old_training_flops(raw[name]), name
            assert record.tested.avg_ppl == raw[name]["avg_test_ppl"]
    assert Spent.of(records.values()).to_dict() == old_spent(list(raw.values()))
    target = records["reuse_target"]
    assert target.mean_task_bpb("test") == float(np.mean(list(raw["reuse_target"]["test_task_bpb"].values())))
    assert target.metric("test_task_bpb") == raw["reuse_target"]["test_task_bpb"]
    assert records["swarm_proxy"].metric("task_bpb") == raw["swarm_proxy"]["task_bpb"]
    assert records["final"].metric("val_loss") == raw["final"]["val_loss"]
    assert Spent.of([]).to_dict() == old_spent([]) and isinstance(Spent.of([]).flops, int)  # 0, as before


def test_grid_searchs_selected_pilot_counts_once_and_a_run_without_extra_flops_counts_its_own():
    pilots = {"runs": 9, "tokens": 900, "flops": 9e9}
    selected = RunRecord.from_dict(
        run_dict(extra_runs=pilots, method_summary={"selected_run": "p3"}, flops=1e9)
    )
    dml = RunRecord.from_dict(run_dict(extra_runs=pilots, method_summary={"fit_path": "f"}, flops=1e9))
    alone = RunRecord.from_dict(run_dict(extra_runs={"runs": 0, "tokens": 0}, flops=1e9))
    assert selected.training_flops == 9e9 and dml.training_flops == 10e9 and alone.training_flops == 1e9


@pytest.mark.parametrize("losses", [[2.0, 3.5], [2.0, 800.0], [800.0, 900.0]])
def test_the_test_pass_equals_the_old_summary_and_reports_an_overflow(losses):
    groups = ("g0", "g1")
    result = TestResult.from_losses(groups, np.array(losses))
    assert result.to_dict() == old_perplexity_summary(groups, np.array(losses))
    json.dumps(result.to_dict(), allow_nan=False)  # run.json stays valid JSON
    if max(losses) > 700:
        assert "g1" in result.overflow and result.avg_ppl is None


def test_task_scores_by_split():
    assert [task_bpb_key(s) for s in ("val", "test")] == ["task_bpb", "test_task_bpb"]
    assert [task_bpb_split(k) for k in ("task_bpb", "test_task_bpb", "val_task_bpb", "val_loss")] == [
        "val", "test", None, None,
    ]  # fmt: skip
    record = (
        RunRecord.from_dict(run_dict()).with_task_bpb("test", {"t": 1.5}).with_task_bpb("val", {"t": 2.0})
    )
    assert record.to_dict()["test_task_bpb"] == {"t": 1.5} and record.to_dict()["task_bpb"] == {"t": 2.0}
    assert RunRecord.from_dict(record.to_dict()) == record
    with pytest.raises(RecordError, match=r"f.json: no 'test_task_bpb' \(it has no task scores\)"):
        RunRecord.from_dict(run_dict(), "f.json").mean_task_bpb("test")


def test_spent_adds_and_keeps_an_absent_flops_absent():
    assert (Spent(1, 10, 2.0) + Spent(2, 5, 0.5)).to_dict() == {"runs": 3, "tokens": 15, "flops": 2.5}
    assert Spent(1, 10) + Spent(0, 0) == Spent(1, 10) and Spent(1, 10).to_dict() == {"runs": 1, "tokens": 10}
    with pytest.raises(RecordError, match="unknown key"):
        Spent.from_dict({"runs": 1, "tokens": 1, "flop": 1.0})


@pytest.mark.parametrize("name", list(FITS))
def test_every_fit_reads_back_to_the_same_file_as_its_type_and_as_the_common_part(tmp_path, name):
    path = FIXTURES / f"fit_{name}.json"
    data = json.loads(path.read_text())
    for cls in (FitRecord, FIT_TYPES[name]):
        fit = cls.read(path)
        assert type(fit) is cls and fit.to_dict() == data
        fit.write(tmp_path / "fit.json")
        assert (tmp_path / "fit.json").read_bytes() == path.read_bytes()
    common = FitRecord.read(path)
    assert common.has(FIT_TYPES[name]) and common.as_type(FIT_TYPES[name]) == FIT_TYPES[name].read(path)
    assert common.extra_runs.runs == data["extra_runs"]["runs"] and list(common.groups) == data["groups"]


def test_fits_give_their_mixture_and_name_what_they_lack():
    dml = FitRecord.read(FIXTURES / "fit_dml.json")
    assert list(dml.mixture_for(dml.groups)) == fixture("fit_dml")["proportions"]
    with pytest.raises(ValueError, match=r"fit_dml.json: fit groups .* differ from \['x'\]"):
        dml.mixture_for(["x"])
    assert not dml.has(OlmixFit)
    with pytest.raises(RecordError, match=r"fit_dml.json: no 'natural' \(OlmixFit needs it"):
        dml.as_type(OlmixFit)
    skillit = FitRecord.read(FIXTURES / "fit_skillit.json")
    with pytest.raises(RecordError, match="no 'proportions'"):
        skillit.mixture_for(skillit.groups)
    natural = ReuseFit.read(FIXTURES / "fit_reuse_natural.json")
    with pytest.raises(RecordError, match="no 'domain_law' \\(a natural link\\)"):
        _ = natural.domain_law
    assert ReuseFit.read(FIXTURES / "fit_reuse_full_reuse.json").domain_law["domains"]
    stripped = {k: v for k, v in fixture("fit_dml").items() if k != "extra_runs"}
    with pytest.raises(RecordError, match=r"a DmlFit: no 'extra_runs'"):
        DmlFit.from_dict(stripped)


def test_a_fit_built_in_code_writes_what_its_reader_reads(tmp_path):
    fit = GridSearchFit(
        method="grid_search", groups=("a", "b"), proportions=(0.25, 0.75), selected_run="p/run.json",
        candidates=[], extra_runs=Spent(2, 20, 4.0),
    )  # fmt: skip
    fit.write(tmp_path / "f.json")
    assert GridSearchFit.read(tmp_path / "f.json") == fit
    seeded = dataclasses.replace(ReuseFit.read(FIXTURES / "fit_reuse_stage0.json"), seed=None)
    assert "seed" not in seeded.to_dict()  # written before the seed is known, as fit_step's result


@pytest.mark.parametrize("name", list(SWARMS))
def test_swarm_files_read_back(name):
    path = FIXTURES / f"swarm_{name}.json"
    swarm = SwarmFile.read(path)
    assert swarm.to_dict() == json.loads(path.read_text()) and len(swarm.mixtures[0]) == len(swarm.groups)


def test_the_records_load_neither_torch_nor_pandas():
    code = "import json, sys, pipeline_lib.records; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    loaded = {m.split(".")[0] for m in json.loads(out.stdout)}
    assert "numpy" in loaded and not loaded & {"torch", "pandas"}
