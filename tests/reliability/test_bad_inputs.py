"""Issue 28's bad-input matrix as tests: every case (tests/reliability/cases.py) stops clearly, before
training or in its job, naming the file or field and the fix; none runs code, none is silently wrong.
``scripts/bad_input_matrix.py`` runs the same cases and writes docs/reliability.md's table."""

from __future__ import annotations

import os

import pytest

from tests.reliability.cases import CASES, Case, Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One scratch folder for the module: the finished workflow and the dirty corpus's pack are shared."""
    return Workspace(tmp_path_factory.mktemp("bad-inputs"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_input_stops_clearly(workspace: Workspace, case: Case) -> None:
    if case.name.startswith("disk full") and not os.path.exists("/dev/full"):
        pytest.skip("a full disk is simulated with /dev/full")
    out = case.run(workspace)
    assert not out.code_ran, f"{case.name}: planted code ran"
    assert case.expect in out.message, f"{case.name}: the message lacks {case.expect!r}: {out.message}"
    assert not any(f in out.message for f in case.forbid), f"{case.name}: {out.message}"
    assert case.classify(out) in ("clear before training", "clear in a job")


def test_the_matrix_covers_every_heading_of_the_issue() -> None:
    headings = {c.heading for c in CASES}
    assert headings == {"code runs", "paths escape", "stuck or unclear", "silently wrong"}
    assert len({c.name for c in CASES}) == len(CASES) == 22


def test_a_case_without_its_message_is_unclear_or_silently_wrong_and_a_payload_is_code_running() -> None:
    """The classification the table reports, on made-up outcomes."""
    from tests.reliability.cases import Outcome

    case = CASES[0]
    assert case.classify(Outcome("a traceback", "training job")) == "unclear"
    assert case.classify(Outcome("all fine", "training job", failed=False)) == "silently wrong"
    assert case.classify(Outcome(case.expect, "training job", code_ran=True)) == "code runs"
    assert case.classify(Outcome(case.expect, "training job")) == "clear in a job"
    assert case.classify(Outcome(case.expect, "dry run")) == "clear before training"
    assert case.classify(Outcome(f"{case.expect} Traceback", "dry run")) == "unclear"
