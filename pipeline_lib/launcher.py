"""Start a step's Python process without paying for its imports each time: a local fork server.

Every job of a local workflow runs ``python -m pipeline_lib.launcher -m <module> <args>``. When the workflow
started a server (``onstart``, :func:`pipeline_lib.fork_server.start_server`), the launcher hands the step to
it over a Unix socket: the server, which imported torch and the trainer once, forks a child that becomes the
step (its working folder, environment, stdin/stdout/stderr are the launcher's) and reports the child's exit
status, which the launcher exits with. Otherwise (no server, another host, other thread settings) it
``exec``s ``python -m <module>`` as before. Either way the step runs the same code on the same inputs in a
fresh process image of its own, so its numbers are the same; what is saved is the interpreter's start-up and
the imports (~2-3 s a job on 2 cores: torch, and torch._dynamo, which ``torch.optim`` pulls in on first use).

Safety: the server forks only from a single-threaded state (it refuses to serve otherwise) and with the
thread settings Snakemake gives a one-thread job; it dies with the workflow (``PR_SET_PDEATHSIG`` and a
parent check); a launcher killed or gone kills its child's process group; a signal to the launcher is passed
on. The server is :mod:`pipeline_lib.fork_server`; this module imports only the few standard modules a
launch needs (~40 ms of a job's start-up less than importing the server's too, docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys

ENV = "MIXPIPE_LAUNCHER"
"""The environment variable that tells launchers where the server listens (JSON: host, socket, threads)."""
SHARED_ENV = "MIXPIPE_SHARED_LAUNCHER"
"""A server the caller keeps for several workflows (the test suite's, one per worker), in :data:`ENV`'s form:
a workflow's ``onstart`` points its steps at it instead of starting its own (~4 CPU-s of imports, which its
first jobs wait for). Each launcher checks it as it checks a workflow's own, and execs where it differs."""
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""What Snakemake sets to a job's ``threads`` and the libraries read once, at import."""
MATCHED = (*THREAD_VARS, "PYTHONPATH")
"""A step is forked from the server only when these variables, its interpreter and its working folder equal
the server's: what was imported is what the step would import."""
HEADER = struct.Struct("!Q")
"""A request's length, before its JSON (the server reads it with the standard streams' descriptors)."""


def _server_address(env: dict[str, str], module: str) -> str | None:
    """The server's socket, if one serves ``module`` on this host with this job's thread settings."""
    raw = env.get(ENV)
    if not raw:
        return None
    try:
        where = json.loads(raw)
    except ValueError:
        return None
    same_place = (where.get("host"), where.get("python")) == (
        socket.gethostname(),
        [sys.prefix, os.path.realpath(sys.executable)],
    ) and where.get("cwd", os.getcwd()) in (None, os.getcwd())  # None: any folder (start_server's any_cwd)
    if not same_place or any(env.get(var, "") != value for var, value in where.get("env", {}).items()):
        return None
    if where.get("modules") is not None and module not in where["modules"]:
        return None  # not a step this server forks
    return where.get("socket")


def _connect(path: str) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    return conn


def _read_line(conn: socket.socket, buffer: bytearray) -> dict | None:
    """The next JSON line from the server, or None when it closed the connection first."""
    while b"\n" not in buffer:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return json.loads(line)


def _forward_signals(pid: int) -> None:
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)


def run_through_server(path: str, module: str, args: list[str]) -> int | None:
    """Run ``module`` in a child of the server at ``path``; its exit status, or None if no server answered."""
    conn = _connect(path)
    if conn is None:
        return None
    # without ENV: a step that launches steps (the tests' snakemake) starts its own server for them
    env = {k: v for k, v in os.environ.items() if k != ENV}
    request = json.dumps({"module": module, "argv": args, "cwd": os.getcwd(), "env": env})
    payload = request.encode()
    fds = [sys.stdin.fileno(), sys.stdout.fileno(), sys.stderr.fileno()]
    conn.sendmsg(
        [HEADER.pack(len(payload))], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("3i", *fds))]
    )
    conn.sendall(payload)
    buffer = bytearray()
    started = _read_line(conn, buffer)
    if started is None:
        return None  # the server went away before forking: run it here
    _forward_signals(started["pid"])
    finished = _read_line(conn, buffer)
    if finished is None:
        print(f"launcher: the fork server stopped while {module} ran (pid {started['pid']})", file=sys.stderr)
        return 1
    code = finished["status"]
    return 128 - code if code < 0 else code  # killed by a signal: the shell's convention


def launch(argv: list[str]) -> int:
    """``-m MODULE ARGS...``: run it through the server if one serves this job, else exec it."""
    if len(argv) < 2 or argv[0] != "-m":
        print("usage: python -m pipeline_lib.launcher -m MODULE [ARGS...]", file=sys.stderr)
        return 2
    module, args = argv[1], argv[2:]
    path = _server_address(dict(os.environ), module)
    if path is not None:
        sys.stdout.flush()
        code = run_through_server(path, module, args)
        if code is not None:
            return code
    os.execv(sys.executable, [sys.executable, "-m", module, *args])
    return 1  # not reached


def main(argv: list[str] | None = None) -> int:
    return launch(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
