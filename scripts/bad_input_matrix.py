"""Run every bad-input case of issue 28 (tests/reliability/cases.py) and write their table into
docs/reliability.md: the message a user sees now, where the run stops, and the case's class.

    PYTHONPATH=. python scripts/bad_input_matrix.py [--only WORD] [--no-write]
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.cases import CASES, CLASSES, Workspace  # noqa: E402

DOC = REPO / "docs" / "reliability.md"
BEGIN, END = "<!-- matrix: begin -->", "<!-- matrix: end -->"


def _cell(text: str, limit: int = 400) -> str:
    """``text`` as one Markdown table cell: the scratch folder shown as <tmp>, pipes escaped, cut at
    ``limit``."""
    text = re.sub(r"/\S*?/bad-inputs-?[^/\s]*/(\d\d-)?", "<tmp>/", text)
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the workflow runs), user and system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_matrix(only: str | None = None) -> tuple[list[tuple[str, str, str, str]], str]:
    """(case, message, stops at, class) of each case, and the time they took (wall and CPU)."""
    rows = []
    start, cpu = time.monotonic(), _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as tmp:
        ws = Workspace(Path(tmp))
        for case in CASES:
            if only and only not in case.name:
                continue
            out = case.run(ws)
            rows.append((case.name, out.message, out.stops_at, case.classify(out)))
            print(f"{rows[-1][3]:>22} | {case.name} | {out.stops_at} | {out.message[:150]}", flush=True)
    return rows, f"{time.monotonic() - start:.0f} s ({_cpu_seconds() - cpu:.0f} s of CPU)"


def table(rows: list[tuple[str, str, str, str]], took: str) -> str:
    counts = Counter(r[3] for r in rows)
    lines = ["| case | message now (first line) | stops at | class |", "|---|---|---|---|"]
    lines += [f"| {_cell(c)} | `{_cell(m)}` | {s} | {k} |" for c, m, s, k in rows]
    summary = ", ".join(f"{k}: {counts.get(k, 0)}" for k in CLASSES)
    return "\n".join([*lines, "", f"{len(rows)} cases in {took}: {summary}."])


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    DOC.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", help="run the cases whose name holds this text")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave docs/reliability.md")
    args = ap.parse_args()
    rows, took = run_matrix(args.only)
    text = table(rows, took)
    print(text)
    if not args.no_write and not args.only:
        write_doc(text)


if __name__ == "__main__":
    main()
