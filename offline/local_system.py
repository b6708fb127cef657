"""A whole system (`fitness-trainer up`) on private ports in a folder of its own, for benchmarks and tests."""
from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from common.config import PROJECT_ROOT, Settings

# Every ZeroMQ endpoint the system binds gets a private port: other runs on this machine never cross wires.
ENDPOINTS = tuple(f.name for f in dataclasses.fields(Settings) if str(f.default).startswith("tcp://"))
START_TIMEOUT_S = 120
# Linux hands out source ports of outgoing connections from 32768-60999. A port picked with bind(0) comes from
# that range too, and while the services start, one of their connections may take it before the service meant to
# listen there binds it ("Address already in use"). Ports below that range are never taken so.
PORTS = (20000, 32000)


def free_port() -> int:
    """A free TCP port on loopback, below the ephemeral range."""
    for _ in range(200):
        port = random.randint(*PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {PORTS[0]} and {PORTS[1]}")


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class System:
    """`fitness-trainer up` on private ports, its history and logs in `folder`."""

    def __init__(self, folder: Path, pose_workers: int | None = None, env: dict | None = None):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = str(folder / "workouts.sqlite3")
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "FT_DB_PATH": self.db_path,
               "FT_SPEECH_CACHE_DIR": str(folder / "speech"), "FT_SPEAK_LOCALLY": "0",
               "FT_LOG_DIR": str(folder / "logs"), **(env or {})}
        for name in ENDPOINTS:
            env["FT_" + name.upper()] = f"tcp://127.0.0.1:{free_port()}"
        argv = [sys.executable, "-m", "launcher.cli", "up", "--port", str(self.port)]
        if pose_workers:
            argv += ["--pose-workers", str(pose_workers)]
        self.log = (folder / "up.log").open("w")
        self.proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fitness-trainer up exited: {(self.folder / 'up.log').read_text()[-3000:]}")
            try:
                health = get_json(self.url + "/api/health")
                names = {s["service"] for s in health["services"]}
                if health["all_alive"] and {"capture", "pose", "classifier", "coach", "ui"} <= names:
                    return
            except OSError:
                pass
            time.sleep(1.0)
        raise RuntimeError(f"the system did not come up in {START_TIMEOUT_S} s; see {self.folder / 'up.log'}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)   # the group this started, nothing else
            self.proc.wait(10)
        self.log.close()
