"""Keep glibc's allocator from handing every step's activations back to the kernel.

A CPU training step frees and re-allocates the same large buffers (logits, activations, gradients). With
glibc's defaults these are returned to the kernel (``munmap``/heap trim) at each free and faulted back in,
zero-filled, at the next step: on the tiny CPU model that is ~20% of a run's time spent in the kernel.
Raising the mmap and trim thresholds keeps the pages in the process. Measured on the default config (one
core, 100 steps): 3.8 s of system time -> 1.1 s, wall 22.2 s -> 18.7 s. A no-op off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit: buffers below it come from the heap
TRIM_THRESHOLD = 1 << 30  # free heap kept before trimming
TOP_PAD = 64 << 20  # extra heap requested per sbrk


def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds for training; returns whether they were applied."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # no C library to load, or not glibc
        return False
    ok = all(
        mallopt(option, value) == 1
        for option, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (_M_TOP_PAD, TOP_PAD),
        )
    )
    log.debug("malloc thresholds %s", "set" if ok else "rejected")
    return ok
