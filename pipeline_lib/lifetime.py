"""A process whose life is tied to its parent's: a killed workflow or job leaves nothing running."""

from __future__ import annotations

import ctypes
import os
import signal
import sys


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent exits (``PR_SET_PDEATHSIG``), and exits now if the
    parent already has: a fork server's steps die with it, it with the workflow, torchrun and its ranks with
    their job's launcher. Also a ``preexec_fn``."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the call: no signal will come
        os._exit(1)
