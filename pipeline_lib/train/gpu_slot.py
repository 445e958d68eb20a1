"""Pin one training process to one GPU on a machine that runs several training jobs at once.

Snakemake's ``gpu`` resource limits how many ``gpu=1`` jobs run together but does not say which GPU each
should use (it does not set ``CUDA_VISIBLE_DEVICES``). The train step therefore takes the first free device
among N with an exclusive ``flock`` on a per-device lock file, points ``CUDA_VISIBLE_DEVICES`` at it before
torch initialises CUDA, and holds the lock until the process ends; the kernel drops it even when the process
is killed, so a crashed job never leaks its GPU.

Devices are the entries of an already-set ``CUDA_VISIBLE_DEVICES`` (a scheduler's allocation, or the
user's), else ``0..N-1``; lock files are named by device, so jobs that see different devices never block
each other. A data-parallel run (``resources.gpus_per_run`` > 1) takes that many devices at once, all or
none, so two waiting runs never hold half of each other's GPUs.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

SLOTS_ENV = "MIXPIPE_GPU_SLOTS"
LOCK_DIR_ENV = "MIXPIPE_GPU_LOCK_DIR"


def default_lock_dir() -> Path:
    """Shared by every job of this user on this machine (so two workflows also share GPUs fairly)."""
    return Path(
        os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / f"mixpipe-gpu-locks-{os.getuid()}"
    )


def candidate_devices(n_slots: int, visible: str | None) -> list[str]:
    """The devices to choose among: the first ``n_slots`` of ``visible`` when it is set, else 0..n-1."""
    if n_slots < 1:
        raise ValueError(f"GPU slots must be >= 1, got {n_slots}")
    if visible is not None and visible.strip():
        devices = [d.strip() for d in visible.split(",") if d.strip()]
        if len(devices) < n_slots:
            log.warning("%d GPU slots but CUDA_VISIBLE_DEVICES lists %d devices", n_slots, len(devices))
        return devices[:n_slots]
    return [str(i) for i in range(n_slots)]


@dataclass
class GpuSlot:
    """Held devices (``device``: their ``CUDA_VISIBLE_DEVICES`` value): ``release()`` (or process exit)
    frees them."""

    device: str
    lock_path: Path
    _fh: list[IO]

    def release(self) -> None:
        for fh in self._fh:
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()
        self._fh = []


def _try_lock(path: Path) -> IO | None:
    fh = open(path, "a+")  # noqa: SIM115 - held open for the slot's lifetime
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()}\n")
    fh.flush()
    return fh


def acquire(
    n_slots: int,
    lock_dir: str | Path | None = None,
    visible: str | None = None,
    timeout_s: float | None = None,
    poll_s: float = 2.0,
    count: int = 1,
) -> GpuSlot:
    """Take the first ``count`` free devices among ``n_slots``; wait (polling) while fewer are free.

    Raises :class:`TimeoutError` after ``timeout_s`` seconds (None: wait for ever)."""
    devices = candidate_devices(n_slots, visible)
    if not 1 <= count <= len(devices):
        raise ValueError(f"a run needs {count} GPUs but {len(devices)} slots ({', '.join(devices)}) exist")
    root = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    root.mkdir(parents=True, exist_ok=True)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    waited = False
    while True:
        held: list[tuple[str, IO]] = []
        for device in devices:
            fh = _try_lock(root / f"gpu{device}.lock")
            if fh is not None:
                held.append((device, fh))
            if len(held) == count:
                names = [d for d, _ in held]
                return GpuSlot(",".join(names), root / f"gpu{names[0]}.lock", [f for _, f in held])
        GpuSlot("", root, [f for _, f in held]).release()  # all or none
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(
                f"fewer than {count} of the {len(devices)} GPU slots ({', '.join(devices)}) "
                f"under {root} are free"
            )
        if not waited:
            log.info("fewer than %d GPU slots (%s) are free; waiting", count, ", ".join(devices))
            waited = True
        time.sleep(poll_s)


@contextlib.contextmanager
def pinned_gpu(
    n_slots: int,
    lock_dir: str | Path | None = None,
    env: MutableMapping[str, str] | None = None,
    timeout_s: float | None = None,
    count: int = 1,
) -> Iterator[str | None]:
    """Hold ``count`` GPU slots and set ``CUDA_VISIBLE_DEVICES`` to them in ``env`` (default ``os.environ``)
    for the block; yields its value, or None (and does nothing) when ``n_slots`` is 0. Call it before torch
    touches CUDA: the CUDA runtime reads ``CUDA_VISIBLE_DEVICES`` once."""
    if n_slots <= 0:
        yield None
        return
    env = os.environ if env is None else env
    before = env.get("CUDA_VISIBLE_DEVICES")
    slot = acquire(n_slots, lock_dir, before, timeout_s, count=count)
    env["CUDA_VISIBLE_DEVICES"] = slot.device
    log.info("pinned to GPU %s (slot lock %s)", slot.device, slot.lock_path)
    try:
        yield slot.device
    finally:
        slot.release()
        if before is None:
            env.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            env["CUDA_VISIBLE_DEVICES"] = before
