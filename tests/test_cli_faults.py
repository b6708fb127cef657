"""The command line under accidents: paths from where the user stands, one-line errors, every child stopped on a
stop signal, and no child outliving a command killed with SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from common.config import PROJECT_ROOT
from offline.local_system import ENDPOINTS, free_port
from tests.test_store_faults import damage, history_with_a_set

ENV = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def cli(*args, cwd, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher.cli", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def start_cli(*args, cwd) -> subprocess.Popen:
    # Private ports for every endpoint: a trainer running on this machine is never disturbed.
    env = {**ENV, **{f"FT_{name.upper()}": f"tcp://127.0.0.1:{free_port()}" for name in ENDPOINTS}}
    return subprocess.Popen([sys.executable, "-m", "launcher.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def noise_video(path: Path, seconds: float, fps: float = 30.0) -> Path:
    """A video with nobody in it: the pipeline has work to do, and nothing to count."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(int(seconds * fps)):
        writer.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


def children_once_started(proc: subprocess.Popen, at_least: int, timeout: float = 90.0) -> list[psutil.Process]:
    """The command's service processes, once `at_least` of them are up (and have sent a heartbeat, by the time
    that many are alive long enough)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        kids = psutil.Process(proc.pid).children(recursive=True)
        if len(kids) >= at_least:
            time.sleep(3.0)   # let them get past their imports
            return psutil.Process(proc.pid).children(recursive=True)
        time.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} children after {timeout} s")


def all_gone(processes: list[psutil.Process], timeout: float = 15.0) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive


# ------------------------------------------------------------------------------------------------ one-line errors

@pytest.mark.parametrize("name, content, says", [
    ("missing.csv", None, "labels file not found"),
    ("latin1.csv", "file,exercise\nsqu\xe4t.mp4,squat\n".encode("latin-1"), "is not UTF-8 text"),
    ("letters.csv", b"file,exercise,reps\na.mp4,squat,abc\n", "reps='abc' is not a number"),
    ("empty.csv", b"", "has no column file, exercise"),
    ("garbage.csv", os.urandom(300).replace(b"\x00", b"x").decode("latin-1").encode("utf-8"), "has no column"),
    ("no-clip-here.csv", b"file,exercise,reps\nnot-here.mp4,squat,5\n", "none of the 1 clips listed"),
])
def test_eval_refuses_a_labels_file_it_cannot_use_in_one_line(tmp_path, name, content, says):
    labels = tmp_path / name
    if content is not None:
        labels.write_bytes(content)
    proc = cli("eval", str(tmp_path), "--labels", name, cwd=tmp_path, timeout=60)   # a path relative to here
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc.stderr)
    assert line.startswith("fitness-trainer: ") and says in line and name in line


def test_usage_and_environment_errors_are_one_line(tmp_path):
    for args in (["analyze"], ["frobnicate"], ["bench", "--clip", "nowhere.mp4"], ["keys", "/proc/no/keys"]):
        proc = cli(*args, cwd=tmp_path, timeout=60)
        assert proc.returncode != 0, (args, proc.stderr)
        one_line(proc.stderr)


def test_up_refuses_a_damaged_store_before_starting_anything(tmp_path):
    history_with_a_set(tmp_path / "w.sqlite3")
    damage(tmp_path / "w.sqlite3")
    proc = cli("up", "--db-path", "w.sqlite3", "--port", str(free_port()), cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    path = tmp_path / "w.sqlite3"   # named as the absolute file, with what to do
    assert f"history store {path} is damaged" in line and f"mv {path} {path}.damaged" in line


# ------------------------------------------------------------------------------------------------ paths

def test_analyze_takes_a_clip_path_relative_to_where_the_user_stands(tmp_path):
    noise_video(tmp_path / "nobody.mp4", 2.0)
    proc = cli("analyze", "--json", "--no-progress", "--pose-workers", "1", "nobody.mp4", cwd=tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["video"] == "nobody.mp4" and result["frames"] == 60 and result["totals"] == {}


# ------------------------------------------------------------------------------------------------ stopping

def test_every_stop_signal_stops_all_services_without_a_traceback(tmp_path):
    noise_video(tmp_path / "long.mp4", 60.0)
    sigs = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    runs = {sig: start_cli("analyze", "--no-progress", "--pose-workers", "1", "long.mp4", cwd=tmp_path)
            for sig in sigs}
    try:
        kids = {sig: children_once_started(proc, at_least=4) for sig, proc in runs.items()}
        for sig, proc in runs.items():
            proc.send_signal(sig)
        for sig, proc in runs.items():
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 128 + sig, (sig, err)
            assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
            assert f"stopped by {signal.Signals(sig).name}" in err
            assert all_gone(kids[sig]) == [], f"{signal.Signals(sig).name} left {kids[sig]} running"
    finally:
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()


@pytest.mark.parametrize("command", ["analyze", "up"])
def test_no_service_outlives_a_command_killed_with_sigkill(tmp_path, command):
    noise_video(tmp_path / "long.mp4", 60.0)
    args = (["analyze", "--no-progress", "--pose-workers", "1", "long.mp4"] if command == "analyze" else
            ["up", "--pose-workers", "1", "--port", str(free_port()), "--db-path", "w.sqlite3", "--log-dir", "logs"])
    proc = start_cli(*args, cwd=tmp_path)
    kids = children_once_started(proc, at_least=4 if command == "analyze" else 7)
    proc.kill()   # SIGKILL: no handler runs, nothing stops the children but themselves
    proc.wait(10)
    left = all_gone(kids)
    for p in left:
        p.kill()
    assert left == [], f"orphans: {[(p.pid, p.cmdline()[-1]) for p in left]}"


def test_a_service_whose_parent_is_already_gone_stops_by_itself(tmp_path):
    # The watchdog that backs up PR_SET_PDEATHSIG: a service told its parent is a process that is not its parent
    # (as after the parent died and it was adopted) stops at its first loop.
    env = {**ENV, "FT_PARENT_PID": str(os.getppid()), "FT_HEALTH_IN": f"ipc://{tmp_path}/health",
           "FT_BROKER_FRONTEND": f"ipc://{tmp_path}/front", "FT_BROKER_BACKEND": f"ipc://{tmp_path}/back",
           "FT_POSES": f"ipc://{tmp_path}/poses"}
    proc = subprocess.run([sys.executable, "-m", "services.pose.broker"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert f"the process that started it (pid {os.getppid()}) is gone; stopping" in proc.stderr
