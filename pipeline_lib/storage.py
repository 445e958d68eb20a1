"""Writes that fail for want of space or permission: the file, the free space on its filesystem and the fix.

An ``OSError`` with errno ENOSPC, EDQUOT, EACCES, EPERM or EROFS raised while writing is re-raised as a
:class:`StorageError` (an ``OSError`` with the same errno) whose message says which file, how many bytes are
free on its filesystem and what to do; any other error passes unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

_WRITABLE = "make the directory writable for this user (`ls -ld {dir}`), or set results_dir to one you own"
_FIXES = {
    errno.ENOSPC: "no space left on the device; free space on that filesystem, or set results_dir on a "
    "larger one",
    errno.EDQUOT: "disk quota exceeded; free space within your quota there (`quota -s`), or set results_dir "
    "on another filesystem",
    errno.EACCES: f"permission denied; {_WRITABLE}",
    errno.EPERM: f"operation not permitted; {_WRITABLE}",
    errno.EROFS: "read-only file system; set results_dir to a writable filesystem",
}


class StorageError(OSError):
    """A write refused for space or permission; ``str()`` is the whole message (no ``[Errno n]`` prefix)."""

    def __init__(self, code: int, message: str, filename: str) -> None:
        super().__init__(code, message, filename)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _free_space(path: Path) -> str:
    """Free and total bytes on the filesystem of ``path`` (its nearest existing folder)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        usage = shutil.disk_usage(folder)
    except OSError as err:
        return f"free space unknown ({err.strerror} on {folder})"
    return f"{usage.free:,} bytes free of {usage.total:,} on its filesystem ({folder})"


@contextlib.contextmanager
def storage_errors(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Re-raise a space or permission ``OSError`` of the block as a :class:`StorageError` naming ``path``
    (``what``: the kind of file, e.g. "packed tokens"). Written atomically, the file was not replaced."""
    try:
        yield
    except StorageError:
        raise
    except OSError as err:
        if err.errno not in _FIXES:
            raise
        path = Path(path)
        fix = _FIXES[err.errno].format(dir=path.parent)
        message = (
            f"cannot write {path} ({what}): {fix}; {_free_space(path)}. Then rerun: the file was not written "
            "(its temporary copy is removed)"
        )
        raise StorageError(err.errno, message, str(path)) from err
