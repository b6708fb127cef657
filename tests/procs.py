"""Real service processes for fault tests: each on private ipc endpoints, its log kept, its heartbeats heard."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from common.config import PROJECT_ROOT
from common.messages import Heartbeat, ProtocolError, decode
from launcher.analyze import ipc_settings


class Service:
    """One service process on private ipc endpoints; we hold its log and listen to its heartbeats."""

    def __init__(self, workdir: Path, name: str, module: str, args=(), **overrides):
        self.name, self.module, self.args = name, module, list(args)
        self.settings = ipc_settings(str(workdir), heartbeat_s=0.5, **overrides)
        self.log = workdir / f"{name}.log"
        self.ctx = zmq.Context.instance()
        self.health = self.socket(zmq.SUB, self.settings.health_in, bind=True, subscribe=b"heartbeat")
        self.proc: subprocess.Popen | None = None
        self.last_beat: Heartbeat | None = None

    def socket(self, kind, endpoint, bind=False, subscribe=None, identity=None):
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)   # never drop on our side: every fault we send must arrive
        sock.setsockopt(zmq.RCVHWM, 0)
        if identity:
            sock.setsockopt(zmq.IDENTITY, identity)
        if subscribe is not None:
            sock.setsockopt(zmq.SUBSCRIBE, subscribe)
        (sock.bind if bind else sock.connect)(endpoint)
        return sock

    def start(self) -> "Service":
        env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(PROJECT_ROOT)}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module, *self.args], env=env, cwd=PROJECT_ROOT,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        assert self.wait_beat(lambda b: True, timeout=60), f"{self.name} never sent a heartbeat:\n{self.tail()}"
        return self

    def wait_beat(self, cond, timeout=20.0) -> bool:
        """Wait for a heartbeat of this process (sent after now) that satisfies cond(beat)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.health.poll(100):
                try:
                    msg = decode(self.health.recv_multipart())
                except ProtocolError:
                    continue
                if isinstance(msg, Heartbeat) and msg.pid == self.proc.pid:
                    self.last_beat = msg
                    if cond(msg):
                        return True
            if self.proc.poll() is not None:
                return False
        return False

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill(signal.SIGTERM)

    def tail(self, n=30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else ""

    def fault_lines(self, kind: str) -> int:
        """Log lines common.bus.FaultLog wrote for this kind of fault."""
        return sum(f"{self.name}: {kind} (" in line for line in self.log.read_text(errors="replace").splitlines())


@pytest.fixture
def services(tmp_path):
    started: list[Service] = []

    def make(name, module, args=(), before_start=None, **overrides) -> Service:
        svc = Service(tmp_path, name, module, args, **overrides)
        started.append(svc)
        if before_start:
            before_start(svc)
        return svc.start()
    yield make
    for svc in started:
        svc.stop()


def wait_for(sock: zmq.Socket, cond, timeout=20.0, resend=None):
    """The first message on sock for which cond(msg) holds; `resend()` is called every 0.2 s meanwhile (a SUB
    socket needs a moment to join: the first messages of a fresh connection can be missed)."""
    deadline = time.time() + timeout
    next_send = 0.0
    while time.time() < deadline:
        if resend and time.time() >= next_send:
            resend()
            next_send = time.time() + 0.2
        if sock.poll(50):
            frames = sock.recv_multipart()
            try:
                msg = decode(frames[1:] if sock.type == zmq.ROUTER else frames)
            except ProtocolError:
                continue
            if cond(msg):
                return msg
    return None


def pose_worker_behind_us(services) -> tuple[Service, zmq.Socket, bytes]:
    """A real pose worker whose broker we play: (the service, our ROUTER, the worker's identity). The ROUTER is bound
    before the worker starts, so the worker's first "ready" reaches us."""
    from common.messages import WorkerReady
    routers = []
    svc = services("pose", "services.pose", before_start=lambda s: routers.append(
        s.socket(zmq.ROUTER, s.settings.broker_backend, bind=True)))
    broker = routers[0]
    ready = wait_for(broker, lambda m: isinstance(m, WorkerReady), timeout=60)
    assert ready is not None, svc.tail()
    return svc, broker, ready.worker.encode()


def xpub(svc: Service, endpoint: str, topics: list[bytes]) -> zmq.Socket:
    """Bind where the service connects its SUB, and wait until it has subscribed to every topic (an XPUB hears
    subscriptions, so no message is published into the void before the service listens)."""
    sock = svc.socket(zmq.XPUB, endpoint, bind=True)
    sock.setsockopt(zmq.XPUB_VERBOSE, 1)
    wait_subscribed(sock, topics)
    return sock


def wait_subscribed(sock: zmq.Socket, topics: list[bytes], timeout=30.0) -> None:
    missing = set(topics)
    deadline = time.time() + timeout
    while missing and time.time() < deadline:
        if sock.poll(100):
            frame = sock.recv()
            if frame[:1] == b"\x01":
                missing.discard(frame[1:])
    assert not missing, f"never subscribed to {missing}"
