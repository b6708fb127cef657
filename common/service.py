"""The thin runner every service shares: poll with a timeout, heartbeat, stop on a signal, close in layers."""
from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket as _socket
import sys
import threading
import time
from typing import Callable

import zmq

from common import bus as busmod
from common.config import Settings, add_arguments, settings_from_args
from common.health_state import HealthState
from common.identity import sign
from common.messages import Envelope, Heartbeat, Message, ProtocolError

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel for SIGTERM when the process that started us dies (Linux), so no service outlives its
    command even when that command is killed with SIGKILL. ServiceRunner.run also watches the parent's pid: the
    portable fallback, and the only guard for a parent that died before this call.

    The kernel sends it when the *thread* that forked us ends: the supervisor spawns from the thread that runs it
    (the main thread of `up`, `analyze`, `bench`, `soak`), which lives as long as the command."""
    if not parent_pid or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):   # no libc prctl (musl without it, odd sandboxes): the watchdog remains
        logger.debug("prctl(PR_SET_PDEATHSIG) unavailable")


def parent_gone(parent_pid: int) -> bool:
    """True when we were started by `parent_pid` and have since been handed to another parent (it died)."""
    return bool(parent_pid) and os.getppid() != parent_pid


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class ServiceRunner:
    """Owns the bus of one service process.

    Subclasses (or callers) register sockets with handlers; `run()` polls them, sends a heartbeat every
    `settings.heartbeat_s`, calls `tick()` hooks, and returns when `stop` is set (SIGINT/SIGTERM set it).
    """

    poll_ms = 50

    def __init__(self, name: str, settings: Settings, instance: str | None = None,
                 context: zmq.Context | None = None):
        self.name = name
        self.settings = settings
        self.instance = instance or f"{_socket.gethostname()}:{os.getpid()}"
        self.bus = busmod.Bus(settings, context)
        self.faults = busmod.FaultLog(name)
        self.stop = threading.Event()
        self.stats: dict[str, float] = {}
        self.health = HealthState()
        self._parent = settings.parent_pid
        die_with_parent(self._parent)
        self._handlers: dict[zmq.Socket, Callable[[zmq.Socket], None]] = {}
        self._ticks: list[Callable[[float], None]] = []
        self._poller = zmq.Poller()
        self._health_pub = self.bus.socket(zmq.PUB, settings.health_in, bind=False, hwm=10)
        self._next_beat = 0.0

    def on(self, sock: zmq.Socket, handler: Callable[[zmq.Socket], None]) -> None:
        self._handlers[sock] = handler
        self._poller.register(sock, zmq.POLLIN)

    def every_loop(self, hook: Callable[[float], None]) -> None:
        self._ticks.append(hook)

    def install_signal_handlers(self) -> None:
        def handle(signum, _frame):
            logger.info("%s: signal %d, stopping", self.name, signum)
            self.stop.set()
        for signum in STOP_SIGNALS:
            signal.signal(signum, handle)

    def heartbeat(self, now: float) -> None:
        if now < self._next_beat:
            return
        self._next_beat = now + self.settings.heartbeat_s
        stats = dict(self.stats)
        stats.update({f"fault.{k}": v for k, v in self.faults.counts.items()})
        stats["health"], stats["health_reason"] = self.health.state(now)
        beat = Heartbeat(service=self.name, instance=self.instance, pid=os.getpid(), stats=stats, ts_capture=now)
        busmod.send(self._health_pub, sign(self.settings.health_key, beat), block=False)

    def publish(self, sock: zmq.Socket, messages) -> None:
        """Send on a PUB socket without ever blocking: a message dropped at the high-water mark is counted."""
        for msg in messages:
            if not busmod.send(sock, msg, block=False):
                self.faults.record("publish_dropped")

    def receive(self, sock: zmq.Socket, routed: bool = False) -> tuple[list[bytes], Message] | None:
        """Receive one message; a bad one is counted by kind and skipped (returns None)."""
        try:
            return busmod.recv(sock, routed=routed)
        except ProtocolError as exc:
            self.faults.record(exc.kind, exc.detail)
            return None

    def receive_envelope(self, sock: zmq.Socket, routed: bool = False) -> tuple[list[bytes], Envelope] | None:
        """Receive one message decoding its header only (for routing); a bad one is counted and skipped."""
        try:
            return busmod.recv_envelope(sock, routed=routed)
        except ProtocolError as exc:
            self.faults.record(exc.kind, exc.detail)
            return None

    def run(self) -> None:
        poll_ms = self.poll_ms
        logger.info("%s %s running", self.name, self.instance)
        try:
            while not self.stop.is_set():
                if self._handlers:
                    events = dict(self._poller.poll(poll_ms))
                else:
                    # Nothing to poll (the relay's sockets live in its proxy threads): an empty zmq poll would
                    # return at once and spin a core.
                    self.stop.wait(poll_ms / 1000)
                    events = {}
                now = time.time()
                for sock, handler in self._handlers.items():
                    if sock in events:
                        # Drain what is queued, but bounded, so one busy socket cannot starve the others.
                        for _ in range(200):
                            try:
                                handler(sock)
                                self.health.handled(now)
                            except zmq.Again:
                                break
                            except Exception as exc:  # a bug hit by one message must not stop the service
                                if "handler_error" not in self.faults.counts:
                                    logger.exception("%s: error handling a message", self.name)
                                self.faults.record("handler_error", repr(exc)[:200])
                                self.health.failed(now, repr(exc)[:200])
                            if not sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                                break
                if parent_gone(self._parent):
                    logger.warning("%s: the process that started it (pid %d) is gone; stopping", self.name,
                                   self._parent)
                    self.stop.set()
                now = time.time()
                for hook in self._ticks:
                    hook(now)
                self.heartbeat(now)
        finally:
            self.close()

    def close(self) -> None:
        self.bus.close()
        logger.info("%s %s stopped", self.name, self.instance)


def service_main(name: str, description: str, settings_names: tuple[str, ...],
                 build: Callable[[Settings, argparse.Namespace], ServiceRunner],
                 extra_args: Callable[[argparse.ArgumentParser], None] | None = None,
                 argv: list[str] | None = None, prog: str | None = None) -> int:
    """`python -m services.<name>`: parse --options (settings with their help), build the runner, run it."""
    parser = argparse.ArgumentParser(prog=prog or f"python -m services.{name}", description=description)
    add_arguments(parser, *settings_names, "log_level")
    if extra_args:
        extra_args(parser)
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    setup_logging(settings.log_level)
    runner = build(settings, args)
    runner.install_signal_handlers()
    runner.run()
    return 0
