"""The fork-server launcher: a step forked by the server is the step run by `python -m` (its output, working
folder, environment, arguments and exit status), a killed launcher kills its step, and without a matching
server the launcher runs the step itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline_lib import fork_server, launcher

PROBE = """
import json, os, sys, time
if sys.argv[1:2] == ["sleep"]:
    open(sys.argv[2], "w").write(str(os.getpid()))
    time.sleep(60)
print(json.dumps({"name": __name__, "argv": sys.argv[1:], "cwd": os.getcwd(), "ppid": os.getppid(),
                  "probe": os.environ.get("PROBE_VALUE"), "server": os.environ.get("MIXPIPE_LAUNCHER")}))
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[1]) if sys.argv[1:] and sys.argv[1].isdigit() else 0)
"""


SERVED = ("launcher_probe",)


@pytest.fixture()
def probe_env(tmp_path, monkeypatch):
    """A module `launcher_probe` importable by the server and the launchers."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "launcher_probe.py").write_text(PROBE)
    (tmp_path / "mods" / "launcher_other.py").write_text(PROBE)  # a step the server does not fork
    path = os.pathsep.join([str(tmp_path / "mods"), str(Path(launcher.__file__).parents[1])])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.setenv("PROBE_VALUE", "from-the-job")
    return tmp_path


@pytest.fixture()
def server(probe_env, monkeypatch):
    for var in launcher.THREAD_VARS:
        monkeypatch.setenv(var, "1")
    (probe_env / "work").mkdir()
    monkeypatch.chdir(probe_env / "work")  # the workflow's working folder: the steps' too
    handle = started(fork_server.start_server(probe_env / "server.log", preload=("json",), modules=SERVED))
    monkeypatch.setenv(launcher.ENV, handle.address)
    yield handle
    fork_server.stop_server(handle)


def started(handle: fork_server.ServerHandle) -> fork_server.ServerHandle:
    """The server, once its socket is bound (its first act)."""
    path = json.loads(handle.address)["socket"]
    for _ in range(200):
        if os.path.exists(path):
            break
        time.sleep(0.05)
    return handle


def launch(
    *args: str, cwd: Path, env: dict | None = None, module: str = "launcher_probe"
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline_lib.launcher", "-m", module, *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_a_forked_step_is_the_step(server, probe_env):
    workdir = probe_env / "work"
    proc = launch("3", "--flag", "a b", cwd=workdir)
    out = json.loads(proc.stdout.splitlines()[0])
    assert proc.returncode == 3
    assert out["name"] == "__main__" and out["argv"] == ["3", "--flag", "a b"]
    assert out["cwd"] == str(workdir) and out["probe"] == "from-the-job"
    assert out["ppid"] == server.process.pid  # forked by the server, not started by the launcher
    assert "to stderr" in proc.stderr
    assert out["server"] is None  # a step that launches steps (snakemake in the tests) starts its own server


def test_a_server_for_any_folder_serves_launchers_elsewhere(server, probe_env, monkeypatch):
    """``any_cwd``: a server whose preloads cannot come from the working folder (the tests' snakemake) serves
    launchers in any folder; the default server serves its own folder only (the test above)."""
    anywhere = started(
        fork_server.start_server(probe_env / "any.log", preload=("json",), any_cwd=True, modules=SERVED)
    )
    try:
        monkeypatch.setenv(launcher.ENV, anywhere.address)
        for folder in (probe_env, probe_env / "work"):
            proc = launch("0", cwd=folder)
            out = json.loads(proc.stdout.splitlines()[0])
            assert proc.returncode == 0 and out["ppid"] == anywhere.process.pid and out["cwd"] == str(folder)
    finally:
        fork_server.stop_server(anywhere)


def test_without_a_matching_server_the_launcher_runs_the_step(server, probe_env):
    env = dict(os.environ, OMP_NUM_THREADS="2")  # a two-thread job: the server's imports assumed one
    proc = launch("0", cwd=probe_env / "work", env=env)
    out = json.loads(proc.stdout.splitlines()[0])
    assert proc.returncode == 0 and out["ppid"] != server.process.pid and out["probe"] == "from-the-job"
    env = dict(os.environ, PYTHONPATH=os.environ["PYTHONPATH"] + os.pathsep + str(probe_env))  # other imports
    proc = launch("0", cwd=probe_env / "work", env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[0])["ppid"] != server.process.pid
    proc = launch("0", cwd=probe_env)  # another working folder: `python -m` would import from there first
    assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[0])["ppid"] != server.process.pid
    proc = launch("0", cwd=probe_env / "work", module="launcher_other")  # not a module the server forks
    assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[0])["ppid"] != server.process.pid
    env = {k: v for k, v in os.environ.items() if k != launcher.ENV}
    proc = launch("4", cwd=probe_env, env=env)
    assert proc.returncode == 4 and json.loads(proc.stdout.splitlines()[0])["name"] == "__main__"


def sleeping_step(probe_env: Path) -> tuple[subprocess.Popen, int]:
    """A launcher whose step sleeps, once the step has started: the launcher's process and the step's pid."""
    pid_file = probe_env / "step.pid"
    command = [sys.executable, "-m", "pipeline_lib.launcher", "-m", "launcher_probe", "sleep", str(pid_file)]
    proc = subprocess.Popen(command, cwd=probe_env / "work")
    for _ in range(400):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    return proc, int(pid_file.read_text())


def test_a_killed_launcher_takes_its_step_with_it(server, probe_env):
    proc, step = sleeping_step(probe_env)
    proc.send_signal(signal.SIGKILL)  # the launcher dies without a word: the server sees its connection close
    proc.wait(timeout=10)
    for _ in range(100):
        try:
            os.kill(step, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the step (pid {step}) outlived its launcher")


def test_a_signal_to_the_launcher_reaches_the_step(server, probe_env):
    proc, _ = sleeping_step(probe_env)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM  # the step's own death, reported as a shell would


def test_the_launcher_imports_only_what_a_launch_needs():
    """Every job starts one launcher: the server's imports (subprocess, tempfile, dataclasses, ctypes ...)
    live in pipeline_lib.fork_server, so a launcher costs little more than the interpreter's start."""
    code = "import sys, pipeline_lib.launcher; print(' '.join(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(Path(launcher.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    heavy = {"subprocess", "tempfile", "dataclasses", "ctypes", "runpy", "pipeline_lib.fork_server"}
    assert not set(proc.stdout.split()) & heavy, sorted(set(proc.stdout.split()) & heavy)


def test_a_step_leaves_the_servers_finalizers_to_the_server(server, probe_env, monkeypatch):
    """An object the server made at import (torch.library makes 174) is not the step's to finalize at its
    exit: a step that did would, say, delete the server's temporary folder for every later step."""
    marker = probe_env / "finalized"
    (probe_env / "mods" / "launcher_final.py").write_text(
        "import os, weakref\nclass Held: ...\nHELD = Held()\n"
        f"weakref.finalize(HELD, lambda: open({str(marker)!r}, 'w').close())\n"
    )
    served = started(
        fork_server.start_server(probe_env / "final.log", preload=("launcher_final",), modules=SERVED)
    )
    try:
        monkeypatch.setenv(launcher.ENV, served.address)
        proc = launch("0", cwd=probe_env / "work")
        assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[0])["ppid"] == served.process.pid
        assert not marker.exists()
    finally:
        fork_server.stop_server(served)
    code = f"import sys; sys.path.insert(0, {str(probe_env / 'mods')!r}); import launcher_final"
    subprocess.run([sys.executable, "-c", code], check=True)  # a process of its own runs it at exit
    assert marker.exists()
