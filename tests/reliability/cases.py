"""The bad-input cases of issue 28 as data: each case meets one bad input the way a user would (a dry run, a
data job, a training job, a rerun of a finished workflow; an in-process step only where the fault, a full
disk, cannot be made without root) and reports what happened. ``tests/reliability/test_bad_inputs.py`` runs
them as tests; ``scripts/bad_input_matrix.py`` writes their table into docs/reliability.md."""

from __future__ import annotations

import copy
import gzip
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from tests.workflow.helpers import REPO, job_counts, snakemake, write_config

CLASSES = ("clear before training", "clear in a job", "unclear", "silently wrong", "code runs")
BEFORE_TRAINING = ("config load", "dry run", "workflow start", "data job")
BASE = {
    "settings": {"pair": {"groups": ["arxiv", "stackexchange"]}},
    "run": {"settings": ["pair"], "methods": ["stratified"], "seeds": [0], "law_fidelity": False},
    "restricted": {"settings": []},
    "train.checkpoint_every": 2,
}
"""tiny.yaml cut to one setting, one method, one seed: a 1-layer d32 model, 8 steps."""
RESULTS_NAME = "results dir's"
"""The finished workflow's results folder: a space and a quote in every path a rule passes to a shell."""


@dataclass(frozen=True)
class Outcome:
    """What a case's run showed: its message's first line, where it stopped, whether it stopped."""

    message: str
    stops_at: str
    failed: bool = True
    code_ran: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    heading: str
    """The issue's heading the case was found under."""
    expect: str
    """Text a clear message holds (a file, a field, the fix)."""
    probe: Callable[[Workspace, Case], Outcome]
    forbid: tuple[str, ...] = ("Traceback",)
    """Text a clear outcome does not hold."""

    def run(self, ws: Workspace) -> Outcome:
        """Meet the bad input in ``ws``."""
        return self.probe(ws, self)

    def classify(self, out: Outcome) -> str:
        """One of :data:`CLASSES` for ``out``."""
        if out.code_ran:
            return "code runs"
        if self.expect not in out.message or any(f in out.message for f in self.forbid):
            return "unclear" if out.failed else "silently wrong"
        stage = out.stops_at.split(" (")[0]  # "data job (in process)" is a data job
        return "clear before training" if stage in BEFORE_TRAINING else "clear in a job"


@dataclass
class Workspace:
    """A scratch folder; ``finished`` runs the tiny workflow once, for the cases that need its results."""

    root: Path
    dirty: tuple[dict, str] | None = None
    """The dirty corpus's pack job: its meta.json and its output (run once, by the first case needing it)."""
    made: int = 0
    """Folders made so far (each case's is numbered)."""

    def fresh(self, name: str) -> Path:
        """A new empty folder for ``name``."""
        self.made += 1
        path = self.root / f"{self.made:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', name)}"
        path.mkdir(parents=True)
        return path

    @cached_property
    def finished(self) -> Path:
        """The tiny workflow run to the end, in a results folder named :data:`RESULTS_NAME`."""
        work = self.fresh("finished")
        cfg = write_config("config/test/tiny.yaml", work, **copy.deepcopy(BASE))
        raw = yaml.safe_load(cfg.read_text())
        raw["results_dir"] = str(work / RESULTS_NAME)
        cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
        snakemake(work, cfg)
        return work


# -- running a case ----------------------------------------------------------------------------------------
def config(work: Path, raw: dict[str, Any] | None = None, **overrides: Any) -> Path:
    """The base config in ``work`` with ``overrides``; ``raw`` replaces top-level keys as given."""
    path = write_config("config/test/tiny.yaml", work, **copy.deepcopy({**BASE, **overrides}))
    if raw:
        cfg = yaml.safe_load(path.read_text())
        cfg.update(raw)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")


def line_with(text: str, needle: str, fallback: str = "") -> str:
    """The first line of ``text`` holding ``needle`` (stripped), else the first holding ``fallback``, else
    the last non-empty line: the message a user sees."""
    lines = [TIMESTAMP.sub("", line.strip()) for line in text.splitlines() if line.strip()]
    for key in (needle, fallback):
        hit = next((line for line in lines if key and key in line), None)
        if hit:
            return hit
    return lines[-1] if lines else ""


def dry_run(case: Case, work: Path, cfg: Path) -> Outcome:
    """``snakemake -n`` on ``cfg``: the line naming the problem, and any forbidden text it printed."""
    out = snakemake(work, cfg, "-n", check=False)
    text = out.stdout + out.stderr
    stops = "dry run" if out.returncode else "runs"
    message = line_with(text, case.expect, "Error")
    message += "".join(f" [also: {f}]" for f in case.forbid if f in text)  # a traceback, a false line
    return Outcome(message, stops, failed=out.returncode != 0, code_ran=(work / "x").exists())


def run_target(work: Path, cfg: Path, target: Path, needle: str) -> tuple[str, int, str]:
    """Build ``target``: (the line naming ``needle`` from the output or the job logs, exit status, all)."""
    out = snakemake(work, cfg, str(target), "--show-failed-logs", check=False)
    logs = "\n".join(p.read_text(errors="replace") for p in sorted(work.rglob("logs/**/*.log")))
    text = out.stdout + out.stderr + "\n" + logs
    return line_with(text, needle, "Error"), out.returncode, text


# -- the cases ---------------------------------------------------------------------------------------------
def _dry(overrides: dict[str, Any] | None = None, raw: dict[str, Any] | None = None) -> Callable:
    """A dry run of the base config with dotted ``overrides`` and top-level ``raw`` keys."""

    def probe(ws: Workspace, case: Case) -> Outcome:
        work = ws.fresh(case.name)
        return dry_run(case, work, config(work, raw, **(overrides or {})))

    return probe


def _edited(edit: Callable[[str, Path], str]) -> Callable:
    """A dry run of the base config file after ``edit(text, workdir)``."""

    def probe(ws: Workspace, case: Case) -> Outcome:
        work = ws.fresh(case.name)
        cfg = config(work)
        cfg.write_text(edit(cfg.read_text(), work))
        return dry_run(case, work, cfg)

    return probe


def _results_file(ws: Workspace, case: Case) -> Outcome:
    work = ws.fresh(case.name)
    (work / "out").write_text("")
    return dry_run(case, work, config(work, {"results_dir": str(work / "out")}))


# -- cases on the finished workflow: a rerun after its results folder was tampered with --------------------
def _run_dir(ws: Workspace) -> Path:
    return ws.finished / RESULTS_NAME / "pair" / "runs" / "stratified" / "seed0"


def _vanished_run_json(ws: Workspace, case: Case) -> Outcome:
    """Delete the final run's run.json, then dry-run the default target: the plan must retrain that run and
    rebuild the tables that cite it (the planted-checkpoint cases then rerun the job for real)."""
    work, record = ws.finished, _run_dir(ws) / "run.json"
    record.unlink()
    out = snakemake(work, work / "config.yaml", "-n", check=False)
    text = out.stdout + out.stderr
    jobs = job_counts(text) if "Job stats:" in text else {}
    replans = jobs.get("train") == 1 and jobs.get("table2") == 1
    message = line_with(text, case.expect) if replans else line_with(text, "Nothing to be done")
    return Outcome(message, "dry run", failed=out.returncode != 0)


def _planted(write: Callable[[Path, Path], None]) -> Callable:
    """Rerun the finished run after ``write(checkpoint.pt, marker)`` (its run.json gone, so it reruns)."""

    def probe(ws: Workspace, case: Case) -> Outcome:
        work, run = ws.finished, _run_dir(ws)
        marker = work / f"x-{case.name.split()[0]}"
        (run / "run.json").unlink(missing_ok=True)
        write(run / "checkpoint.pt", marker)
        out = snakemake(work, work / "config.yaml", str(run / "run.json"), "--show-failed-logs", check=False)
        log = (work / RESULTS_NAME / "logs" / "pair" / "runs" / "stratified" / "seed0.log").read_text()
        finished = out.returncode == 0 and (run / "run.json").exists()
        message = line_with(log + out.stdout + out.stderr, case.expect, "Error")
        stage = "training job (recovers: set aside, restarts from step 0)" if finished else "training job"
        return Outcome(message, stage, failed=not finished, code_ran=marker.exists())

    return probe


def _payload(path: Path, marker: Path) -> None:
    import torch

    from tests.unit.test_safe_load import Payload

    torch.save(Payload(marker), path)


def _truncated(path: Path, marker: Path) -> None:
    import torch

    torch.save({"format": "mixpipe.state/1", "model": torch.zeros(50_000)}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# -- in-process cases: a state file a job reads, a full disk ----------------------------------------------
def _state_payload(ws: Workspace, case: Case) -> Outcome:
    """DoReMi's reference state.pt with a payload in place of its weights, read as its run's start does."""
    from pipeline_lib.methods import RunInputs, make_policy
    from pipeline_lib.state_file import UnreadableStateError
    from pipeline_lib.train.trainer import Trainer
    from tests.unit.test_checkpoint import GROUPS
    from tests.unit.test_safe_load import _plant
    from tests.unit.test_trainer import _groups, _spec

    work = ws.fresh(case.name)
    spec, marker, path = _spec("doremi_proxy"), work / "x", work / "state.pt"
    _plant(path, Trainer(spec, _groups()).state_dict(), "model", marker)
    policy = make_policy("doremi_proxy", GROUPS, {"mu": 1.0}, RunInputs(reference=str(path)))
    try:
        policy.start(Trainer(spec, _groups()))
    except UnreadableStateError as err:
        return Outcome(str(err).splitlines()[0], "training job (in process)", code_ran=marker.exists())
    return Outcome("loaded", "training job (in process)", failed=False, code_ran=marker.exists())


def _full_disk(write: Callable[[Path], None], module: str, stage: str) -> Callable:
    """``write(folder)`` with ``module``'s files opened for writing on /dev/full (ENOSPC on every write)."""

    def probe(ws: Workspace, case: Case) -> Outcome:
        import builtins
        import importlib
        from unittest import mock

        from pipeline_lib.storage import StorageError

        def full(file, mode="r", *args, **kwargs):
            return builtins.open("/dev/full" if "w" in mode else file, mode, *args, **kwargs)

        work = ws.fresh(case.name)
        try:
            with mock.patch.object(importlib.import_module(module), "open", full, create=True):
                write(work)
        except StorageError as err:
            return Outcome(str(err).splitlines()[0], stage)
        except OSError as err:
            return Outcome(f"{type(err).__name__}: {err} [raw OSError]", stage)
        return Outcome("written", stage, failed=False)

    return probe


def _checkpoint_write(work: Path) -> None:
    import torch

    from pipeline_lib.train.checkpoint import Checkpointer

    Checkpointer(work / "checkpoint.pt", every=1, key="k").save({"step": 1, "w": torch.ones(100_000)})


def _pack_write(work: Path) -> None:
    import numpy as np
    from tokenizers import Tokenizer, models, pre_tokenizers

    from pipeline_lib.data import pack
    from pipeline_lib.data.documents import Document

    tok = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    docs = [Document(str(i), "a a a " * 2000) for i in range(20)]
    pack.pack_split(docs, tok, 1, work / "arxiv" / "train.bin", np.dtype(np.uint16))


# -- data jobs and the lock ----------------------------------------------------------------------------------
HUGE_BYTES = 52 << 20
"""The issue's single-line document: 52 MB of text in one JSON line."""
BLANKS = 200


def _dirty_corpus(root: Path) -> Path:
    """The shipped arxiv and stackexchange files, arxiv with :data:`BLANKS` whitespace-only documents and one
    :data:`HUGE_BYTES` document added."""
    root.mkdir()
    for group in ("arxiv", "stackexchange"):
        shutil.copy(REPO / "data" / "sample" / f"{group}.jsonl.gz", root)
    path = root / "arxiv.jsonl.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    blanks = [json.dumps({"text": " \n\t " * (i % 3), "domain": "arxiv", "source": f"blank{i}"}) + "\n"
              for i in range(BLANKS)]  # fmt: skip
    huge = json.dumps({"text": "lorem ipsum " * (HUGE_BYTES // 12), "domain": "arxiv", "source": "huge"})
    text = "".join([*lines[:10], *blanks, huge + "\n", *lines[10:]])
    path.write_bytes(gzip.compress(text.encode(), compresslevel=1))
    return root


def _dirty_pack(ws: Workspace) -> tuple[dict, str]:
    """arxiv's pack job on the dirty corpus, once: its meta.json and everything it and Snakemake said."""
    if ws.dirty is None:
        work = ws.fresh("dirty corpus")
        corpus = _dirty_corpus(work / "corpus")
        cfg = config(work, **{"data.source.path": str(corpus), "data.source.max_docs_per_group": None})
        meta = work / "results" / "data" / "arxiv" / "meta.json"
        _, code, text = run_target(work, cfg, meta, "")
        ws.dirty = (json.loads(meta.read_text()) if code == 0 else {}, text)
    return ws.dirty


def _counted(key: str, expected: int, needle: str) -> Callable:
    def probe(ws: Workspace, case: Case) -> Outcome:
        meta, text = _dirty_pack(ws)
        if not meta:
            return Outcome(line_with(text, "Error"), "data job")
        count = meta.get(key)
        message = f"{line_with(text, needle)} (meta.json: {key} {count})"
        return Outcome(message if count == expected else f"{key} {count}", "data job", failed=False)

    return probe


def _long_context(ws: Workspace, case: Case) -> Outcome:
    work = ws.fresh(case.name)
    cfg = config(work, **{"model.context": 8192, "train.batch_size": 1})  # stackexchange: 5,245 test tokens
    meta = work / "results" / "data" / "stackexchange" / "meta.json"
    message, code, _ = run_target(work, cfg, meta, case.expect)
    return Outcome(message, "data job", failed=code != 0)


def _shared_results(ws: Workspace, case: Case) -> Outcome:
    from tests.unit.test_results_lock import hold_lock, release

    work, other = ws.fresh(case.name), ws.fresh(case.name + " other")
    cfg = config(work)
    holder = hold_lock(work / "results", other)
    try:
        message, code, _ = run_target(work, cfg, work / "results" / "data" / "tokenizer.json", case.expect)
    finally:
        release(holder)
    return Outcome(message, "workflow start" if code else "runs", failed=code != 0)


def _pair(*groups: str) -> dict[str, Any]:
    return {"settings": {"pair": {"groups": list(groups)}}}


CODE, ESCAPE, STUCK, WRONG = "code runs", "paths escape", "stuck or unclear", "silently wrong"
CASES: list[Case] = [
    Case("planted checkpoint.pt (a pickle payload)", CODE, "checkpoint.pt.damaged; starting from step 0",
         _planted(_payload)),
    Case("planted DoReMi reference state.pt", CODE, "refused", _state_payload),
    Case("results_dir: .../inj$(touch x)", CODE, "an unexpanded shell variable or command",
         lambda ws, c: _dry(raw={"results_dir": str(ws.root / "inj$(touch x)")})(ws, c)),
    Case("setting named p$(touch x)", CODE, "settings.p$(touch x): name 'p$(touch x)' is not allowed",
         _dry({"settings": {"p$(touch x)": {"groups": ["arxiv", "stackexchange"]}},
               "run": {**BASE["run"], "settings": ["p$(touch x)"]}})),
    Case("group name with a space", CODE, "name 'stack exchange' is not allowed",
         _dry(_pair("arxiv", "stack exchange"))),
    Case("__use_yte__: true in a config file", CODE, "__use_yte__ turns on Snakemake's YTE templating",
         _edited(lambda text, work: "__use_yte__: true\n" + text)),
    Case("group '..'", ESCAPE, "name '..' is not allowed", _dry(_pair("..", "arxiv"))),
    Case("group '../../../escaped'", ESCAPE, "name '../../../escaped' is not allowed",
         _dry(_pair("arxiv", "../../../escaped"))),
    Case("results_dir: ../..", ESCAPE, "the working directory or one of its parents",
         _dry(raw={"results_dir": "../.."})),
    Case("truncated checkpoint.pt", STUCK, "checkpoint.pt.damaged; starting from step 0",
         _planted(_truncated)),
    Case("disk full at a checkpoint", STUCK, "(the run's checkpoint): no space left on the device",
         _full_disk(_checkpoint_write, "pipeline_lib.state_file", "training job (in process)")),
    Case("disk full at pack time", STUCK, "(packed tokens): no space left on the device",
         _full_disk(_pack_write, "pipeline_lib.data.pack", "data job (in process)")),
    Case("results_dir is a file", STUCK, "is a file; give a directory", _results_file),
    Case("file_pattern: '{grp}.jsonl.gz'", STUCK, "data.source.file_pattern",
         _dry({"data.source.file_pattern": "{grp}.jsonl.gz"})),
    Case("model.context above a group's validation tokens", STUCK,
         "fewer tokens than one evaluation sequence", _long_context),
    Case("two workflows sharing one results_dir", STUCK, "is held by pid", _shared_results),
    Case("warmup_steps > steps", STUCK, "warmup_steps", _dry({"train.warmup_steps": 20}),
         forbid=("Traceback", "unknown setting")),
    Case("a duplicate YAML key (a second train: block)", WRONG, "key 'train' is given twice",
         _edited(lambda text, work: text + "train:\n  steps: 1000\n  lr: 0.5\n")),
    Case("run.seeds: [0, 0]", WRONG, "run.seeds", _dry({"run.seeds": [0, 0]})),
    Case(f"{BLANKS} whitespace-only documents", WRONG, "empty or whitespace-only document",
         _counted("dropped_empty_documents", BLANKS, "empty or whitespace-only document")),
    Case("a final run.json deleted under a finished workflow", WRONG, "Missing output files",
         _vanished_run_json),
    Case("one 52 MB single-line document", WRONG, "longer than data.source.max_document_bytes",
         _counted("skipped_long_documents", 1, "longer than data.source.max_document_bytes")),
]  # fmt: skip
