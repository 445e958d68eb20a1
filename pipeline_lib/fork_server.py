"""The fork server behind :mod:`pipeline_lib.launcher`: it imports torch, the trainer and the report's
libraries once, then forks a child per launcher request that becomes the step (the launcher's working folder,
environment, arguments and standard streams) and reports the child's exit status back.

``start_server`` (a workflow's ``onstart``, the tests' snakemake server) starts one as
``python -m pipeline_lib.fork_server --serve SOCKET --parent PID``; it dies with that parent.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import json
import os
import random
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import traceback
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path

from pipeline_lib.launcher import HEADER, MATCHED, THREAD_VARS
from pipeline_lib.lifetime import die_with_parent

PRELOAD = (
    "numpy",
    "torch",
    "torch._dynamo",
    "pipeline_lib.train.run",
    "pipeline_lib.report.figures",
    "scipy.optimize",
)
"""Imported once by the server: the trainer's imports, and the report's and the fits' (pandas, matplotlib,
seaborn, scipy.stats and scipy.optimize: ~2 s of a figure's step), docs/benchmarks.md. None starts a thread
with one-thread settings and :data:`SERVER_ENV`."""
SERVER_ENV = {"JE_ARROW_MALLOC_CONF": "background_thread:false"}
"""The server's own settings, read at import: pyarrow's allocator (which pandas loads) starts no thread."""


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1  # no procfs: threading's own count is checked too


def _fork_unsafe() -> str | None:
    """Why forking steps from this process would be unsafe, if it would: a thread besides this one (its
    locks would stay held in the children), or a CUDA build of torch on a machine with NVIDIA devices (a
    CUDA runtime initialised here is unusable in every child; GPU steps are long enough to start as usual)."""
    threads = _thread_count()
    if threads > 1:
        return f"{threads} threads after the imports"
    torch = sys.modules.get("torch")
    if torch is not None and torch.version.cuda is not None and any(Path("/dev").glob("nvidia*")):
        return "a CUDA build of torch on a machine with NVIDIA devices"
    return None


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    """A launcher's request and its three standard file descriptors."""
    size = struct.calcsize("3i")
    data, ancillary, _, _ = conn.recvmsg(HEADER.size, socket.CMSG_SPACE(size))
    fds: list[int] = []
    for level, kind, blob in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(struct.unpack(f"{len(blob) // 4}i", blob[: len(blob) - len(blob) % 4]))
    (length,) = HEADER.unpack(data)
    payload = bytearray()
    while len(payload) < length:
        chunk = conn.recv(min(1 << 20, length - len(payload)))
        if not chunk:
            raise ConnectionError("the launcher closed the connection mid-request")
        payload.extend(chunk)
    return json.loads(payload), fds


def _become_step(request: dict, fds: list[int], closing: list[socket.socket]) -> None:
    """In the forked child: take the launcher's place and run its module as ``__main__``; never returns."""
    code = 1
    try:
        os.setsid()  # its own process group: the server or the launcher can kill it with its children
        die_with_parent()  # a workflow killed hard takes the server, and so its steps, with it
        for sock in closing:
            sock.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        warnings.filterwarnings("ignore", ".*found in sys.modules after import of package", RuntimeWarning)
        for finalizer in list(weakref.finalize._registry):  # the server's objects' (torch.library's 174):
            finalizer.atexit = False  # theirs to clean up, not each step's at its exit (~40 ms a step)
        random.seed()  # unseeded generators as in a fresh process
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        sys.argv = [request["module"], *request["argv"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int | None):
            print(stop.code, file=sys.stderr)
    except BaseException:  # the step's traceback, as `python -m` prints it
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


@dataclass
class _Server:
    listener: socket.socket
    parent: int
    children: dict[int, socket.socket]  # a running step's pid -> its launcher's connection
    wakeup: socket.socket  # readable when a child exits (SIGCHLD through signal.set_wakeup_fd) ...
    wakeup_writer: socket.socket  # ... which writes here

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError, ConnectionError, struct.error) as err:
            print(f"launcher server: bad request: {err}", file=sys.stderr)
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            own = [self.listener, self.wakeup, self.wakeup_writer, conn, *self.children.values()]
            _become_step(request, fds, own)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        print(f"forked {request['module']} (pid {pid})", flush=True)  # the log: which steps it served

    def launcher_gone(self, conn: socket.socket) -> None:
        """A launcher's connection closed before its child finished: the job was killed, so is the child."""
        pid = next(p for p, c in self.children.items() if c is conn)
        del self.children[pid]
        conn.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(OSError):  # the launcher is gone: nobody to tell
                conn.sendall(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
            conn.close()

    def loop(self) -> None:
        while os.getppid() == self.parent:
            readable, _, _ = select.select([self.listener, self.wakeup, *self.children.values()], [], [], 0.1)
            for sock in readable:
                if sock is self.listener:
                    self.accept()
                elif sock is self.wakeup:
                    with contextlib.suppress(BlockingIOError):
                        while self.wakeup.recv(4096):
                            pass
                elif not sock.recv(1):
                    self.launcher_gone(sock)
            self.reap()


def serve(path: str, parent: int, preload: tuple[str, ...] = PRELOAD) -> int:
    """Listen at ``path`` (bound first, so launchers queue while the imports run), import ``preload`` and
    fork a child per request until the workflow (``parent``) exits."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    for name in preload:
        importlib.import_module(name)
    gc.freeze()  # the imports' objects: no child collects them (which would copy every page they sit on)
    refusal = _fork_unsafe()
    if refusal:
        print(f"launcher server: {refusal}; not forking, steps start as usual", file=sys.stderr)
        listener.close()
        os.unlink(path)
        return 0
    wakeup, wakeup_writer = socket.socketpair()
    for sock in (wakeup, wakeup_writer):
        sock.setblocking(False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a Python handler, so the signal writes the wakeup fd
    signal.set_wakeup_fd(wakeup_writer.fileno(), warn_on_full_buffer=False)
    server = _Server(listener, parent, {}, wakeup, wakeup_writer)  # a finished step is reported at once
    try:
        server.loop()
    finally:
        signal.set_wakeup_fd(-1)
        wakeup.close()
        wakeup_writer.close()
        listener.close()
        Path(path).unlink(missing_ok=True)
    return 0


@dataclass(frozen=True)
class ServerHandle:
    """A started server: its process and the value of ``MIXPIPE_LAUNCHER`` (:data:`pipeline_lib.launcher.ENV`)
    that points launchers at it."""

    process: subprocess.Popen
    address: str
    folder: str


def start_server(
    log_file: str | Path,
    threads: int = 1,
    preload: tuple[str, ...] = PRELOAD,
    pythonpath: str | None = None,
    any_cwd: bool = False,
    modules: tuple[str, ...] | None = None,
) -> ServerHandle:
    """Start a server, in this working folder, for the jobs whose environment it shares: ``threads`` (the
    value Snakemake gives their thread variables) and ``pythonpath`` (what their shell exports; default:
    this process's). It imports ``preload``, forks the steps that run one of ``modules`` (None: any; a fork
    costs ~70 ms, less than a step's own numpy import, docs/benchmarks.md), writes its own messages to
    ``log_file`` and dies with this process. ``any_cwd``: serve launchers in any working folder (for a
    module whose imports cannot come from it, such as the test suite's ``snakemake``)."""
    folder = tempfile.mkdtemp(prefix="mixpipe-launcher-")
    path = os.path.join(folder, "socket")
    env = dict(os.environ, **{var: str(threads) for var in THREAD_VARS})
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    server_only = {**env, **SERVER_ENV}
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline_lib.fork_server",
                "--serve",
                path,
                "--parent",
                str(os.getpid()),
                "--preload",
                ",".join(preload),
            ],
            env=server_only,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,
        )
    where = {
        "host": socket.gethostname(),
        "python": [sys.prefix, os.path.realpath(sys.executable)],  # the environment and its interpreter
        "cwd": None if any_cwd else os.getcwd(),
        "socket": path,
        "env": {var: env.get(var, "") for var in MATCHED},
        "modules": None if modules is None else list(modules),
    }
    return ServerHandle(process, json.dumps(where, sort_keys=True), folder)


def stop_server(handle: ServerHandle) -> None:
    """Stop the server (its running children, if any, are the workflow's to kill) and remove its socket."""
    handle.process.terminate()
    try:
        handle.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        handle.process.kill()
    for name in os.listdir(handle.folder):
        Path(handle.folder, name).unlink(missing_ok=True)
    Path(handle.folder).rmdir()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pipeline_lib.fork_server")
    ap.add_argument("--serve", required=True, help="the socket's path")
    ap.add_argument("--parent", type=int, required=True, help="the workflow's pid: stop when it is gone")
    ap.add_argument("--preload", default=",".join(PRELOAD), help="modules to import once (comma-separated)")
    args = ap.parse_args(argv)
    return serve(args.serve, args.parent, tuple(filter(None, args.preload.split(","))))


if __name__ == "__main__":
    sys.exit(main())
