"""Starts every service as its own process, restarts the dead or stuck ones (capped, with back-off), stops them."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import zmq

from common import bus as busmod
from common.config import PROJECT_ROOT, Settings, with_absolute_paths
from common.identity import new_key
from common.messages import Heartbeat
from common.topology import SERVICE_NAMES, SERVICES
from launcher.health import HealthChange, HealthMonitor

logger = logging.getLogger(__name__)

# An unhealthy service is named on the console when it turns so, and again this often while it stays so.
UNHEALTHY_REMINDER_S = 60.0
# A process gets this long for its first heartbeat (imports, models; much slower on a loaded machine) before it
# is taken for stuck; after that, stuck_after_s.
STARTUP_GRACE_S = 60.0


@dataclass
class ServiceSpec:
    name: str               # service kind, as in heartbeats
    module: str             # python -m <module>
    args: list[str] = field(default_factory=list)
    restart: bool = True

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "-m", self.module, *self.args]


@dataclass
class _Managed:
    spec: ServiceSpec
    label: str
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: deque = field(default_factory=deque)   # times of recent restarts
    total_restarts: int = 0
    next_start: float = 0.0
    gave_up: bool = False


def pipeline_specs(settings: Settings, pose_workers: int, with_capture=True, with_speech=True,
                   with_ui=True) -> list[ServiceSpec]:
    """The processes of one system, from the one list of services (common.topology): `pose_workers` workers,
    `settings.classifiers` classifiers and `settings.coaches` coaches, each sharded one told its shard."""
    left_out = {name for name, keep in (("capture", with_capture), ("speech", with_speech), ("ui", with_ui))
                if not keep}
    specs = []
    for info in SERVICES:
        if info.name in left_out:
            continue
        count = 1
        if info.scalable:
            count = pose_workers if info.name == "pose" else int(getattr(settings, info.count))
        for i in range(count):
            specs.append(ServiceSpec(info.name, info.module, ["--shard", str(i)] if info.sharded else []))
    return specs


def child_env(caller: dict[str, str], settings: Settings) -> dict[str, str]:
    """The environment of every child: the caller's, with the settings and the project root added.

    The caller's PYTHONPATH stays (a non-editable install or an extra site directory lives there); the project
    root goes first so `python -m services.x` finds this checkout's code.
    """
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **caller, **settings.to_env()}
    paths = [str(PROJECT_ROOT)] + [p for p in caller.get("PYTHONPATH", "").split(os.pathsep)
                                   if p and p != str(PROJECT_ROOT)]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


class Supervisor:
    """Owns child processes and the health channel (SUB heartbeats in, PUB health report out)."""

    def __init__(self, settings: Settings, specs: list[ServiceSpec], log_dir: str | None = None,
                 context: zmq.Context | None = None, trust_unsigned: bool | None = None):
        # Children start in the project folder: a path the user gave is resolved where the user stands.
        settings = with_absolute_paths(settings)
        self.settings = settings
        # One BLAS/OpenMP thread per service: we scale out by processes, and idle BLAS threads spin-wait
        # between frames (the classifier burnt 7-16 ms of CPU per frame instead of 2 on the pose workers' cores).
        self.env = child_env(os.environ, settings)
        self.log_dir = log_dir
        counts: dict[str, int] = {}
        self.managed: list[_Managed] = []
        for spec in specs:
            counts[spec.name] = counts.get(spec.name, 0) + 1
            self.managed.append(_Managed(spec, f"{spec.name}-{counts[spec.name]}"))
        if trust_unsigned is None:
            # Only a bare health channel (`monitor`, for containers) without a shared key takes every heartbeat, and
            # one whose TCP connections CURVE authenticates; `up` and `analyze` know the key of every child.
            trust_unsigned = (not specs and not settings.health_key) or (
                bool(settings.curve_dir) and settings.health_in.startswith("tcp://"))
        self.monitor = HealthMonitor(stale_after_s=max(3.0, 3 * settings.heartbeat_s),
                                     shared_key=settings.health_key, open=trust_unsigned)
        self.faults = busmod.FaultLog("health channel")
        self._reminded: dict[str, float] = {}
        self.bus = busmod.Bus(settings, context)
        self.health_in = self.bus.socket(zmq.SUB, settings.health_in, bind=True, hwm=1000)
        self.health_out = self.bus.socket(zmq.PUB, settings.health_out, bind=True, hwm=100)
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._next_report = 0.0

    # ------------------------------------------------------------------------------ processes
    def _spawn(self, m: _Managed, now: float) -> None:
        out = None
        if self.log_dir:
            os.makedirs(self.log_dir, exist_ok=True)
            out = open(os.path.join(self.log_dir, f"{m.label}.log"), "ab")
        # Each child gets its own heartbeat key (only its heartbeats are believed) and our pid (it stops when we die).
        key = new_key()
        env = {**self.env, "FT_HEALTH_KEY": key, "FT_PARENT_PID": str(os.getpid())}
        m.proc = subprocess.Popen(m.spec.argv, env=env, cwd=str(PROJECT_ROOT), stdout=out,
                                  stderr=subprocess.STDOUT if out else None, start_new_session=True)
        self.monitor.trust(m.proc.pid, key)
        if out:
            out.close()
        m.started_at = now
        logger.info("started %s (pid %d)", m.label, m.proc.pid)

    def start_all(self) -> None:
        now = time.time()
        for m in self.managed:
            self._spawn(m, now)

    def add(self, spec: ServiceSpec) -> subprocess.Popen:
        """Start one more process (e.g. a pose worker joining, or a capture for one clip)."""
        with self._lock:
            m = _Managed(spec, f"{spec.name}-{sum(x.spec.name == spec.name for x in self.managed) + 1}")
            self.managed.append(m)
            self._spawn(m, time.time())
            return m.proc

    def pids(self, service: str) -> list[int]:
        return [m.proc.pid for m in self.managed if m.spec.name == service and m.proc and m.proc.poll() is None]

    def check(self, now: float) -> None:
        """Restart what died or stopped sending heartbeats; give up on a service that keeps failing."""
        with self._lock:
            for m in self.managed:
                if m.proc is None:
                    if m.next_start and now >= m.next_start and not m.gave_up:
                        self._spawn(m, now)
                    continue
                code = m.proc.poll()
                reason = None
                if code is not None:
                    reason = f"exited with code {code}"
                else:
                    seen = self.monitor.last_seen_pid(m.proc.pid)
                    last = seen or m.started_at
                    limit = self.settings.stuck_after_s if seen else max(STARTUP_GRACE_S, self.settings.stuck_after_s)
                    if now - last > limit:
                        reason = f"no heartbeat for {now - last:.0f} s"
                        _kill(m.proc)
                if reason is None:
                    continue
                self.monitor.distrust(m.proc.pid)
                if code is not None and code > 0:   # it stopped itself: its last line says why
                    reason += self._last_words(m)
                m.proc = None
                if not m.spec.restart or (code == 0 and m.spec.name == "capture"):
                    logger.info("%s %s", m.label, reason)
                    continue
                while m.restarts and now - m.restarts[0] > self.settings.restart_window_s:
                    m.restarts.popleft()
                if len(m.restarts) >= self.settings.max_restarts:
                    m.gave_up = True
                    logger.error("%s %s; restarted %d times in %.0f s, giving up", m.label, reason,
                                 len(m.restarts), self.settings.restart_window_s)
                    continue
                delay = min(30.0, 0.5 * 2 ** len(m.restarts))
                m.restarts.append(now)
                m.total_restarts += 1
                m.next_start = now + delay
                logger.warning("%s %s; restarting in %.1f s", m.label, reason, delay)

    def _last_words(self, m: _Managed) -> str:
        """The last line of a crashed child's log (its error), so the console says why and not just a code."""
        if not self.log_dir:
            return ""
        try:
            with open(os.path.join(self.log_dir, f"{m.label}.log"), "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 4096))
                lines = [line.strip() for line in fh.read().decode(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return f": {lines[-1][:300]}" if lines else ""

    # ------------------------------------------------------------------------------ health channel
    def pump_health(self, timeout_ms: int = 100) -> None:
        if self.health_in.poll(timeout_ms):
            for _ in range(1000):
                try:
                    _, msg = busmod.recv(self.health_in)
                except busmod.ProtocolError as exc:
                    self.faults.record(exc.kind, exc.detail)
                    continue
                if isinstance(msg, Heartbeat):
                    ignored = sum(self.monitor.ignored.values())
                    change = self.monitor.on_heartbeat(msg, time.time())
                    if sum(self.monitor.ignored.values()) > ignored:
                        self.faults.record("unknown_sender", f"a heartbeat claiming to be {msg.service[:40]!r} "
                                                             f"(pid {msg.pid}) is not signed by one of ours")
                    if change is not None:
                        self._announce(change, time.time())
                if not self.health_in.poll(0):
                    break
        now = time.time()
        if now >= self._next_report:
            self._next_report = now + self.settings.heartbeat_s
            self._remind(now)
            busmod.send(self.health_out, self.report(now), block=False)

    def _label(self, pid: int, fallback: str) -> str:
        return next((m.label for m in self.managed if m.proc and m.proc.pid == pid), fallback)

    def _announce(self, change: HealthChange, now: float) -> None:
        label = self._label(change.pid, change.instance)
        if change.health == "ok":
            self._reminded.pop(change.instance, None)
            logger.warning("%s is healthy again", label)
        else:
            self._reminded[change.instance] = now
            logger.error("%s is UNHEALTHY: %s", label, change.reason)

    def _remind(self, now: float) -> None:
        unhealthy = self.monitor.unhealthy(now)
        for gone in set(self._reminded) - {i.instance for i in unhealthy}:
            del self._reminded[gone]
        for inst in unhealthy:
            since = self._reminded.setdefault(inst.instance, now)
            if now - since >= UNHEALTHY_REMINDER_S:
                self._reminded[inst.instance] = now
                logger.error("%s is still UNHEALTHY: %s", self._label(inst.pid, inst.instance), inst.reason)

    def report(self, now: float):
        """Heartbeats of every instance, plus the managed processes that are not heartbeating at all
        (crashing at start, waiting for a restart, or given up), which would otherwise be invisible."""
        with self._lock:
            restarts = {m.proc.pid: m.total_restarts for m in self.managed if m.proc}
            report = self.monitor.report(now, restarts)
            for m in self.managed:
                pid = m.proc.pid if m.proc else 0
                if not (m.proc and self.monitor.last_seen_pid(pid)) and m.spec.restart:
                    state = "gave up" if m.gave_up else ("starting" if m.proc else "restarting")
                    report.services.append({"service": m.spec.name, "instance": m.label, "pid": pid,
                                            "alive": False, "health": "down", "reason": state, "age_s": None,
                                            "restarts": m.total_restarts, "stats": {"state": state}})
        return report

    def run(self) -> None:
        """Supervise until stop_event is set (the caller's signal handler or Ctrl-C sets it)."""
        while not self.stop_event.is_set():
            self.pump_health()
            self.check(time.time())

    def wait_ready(self, services: list[str], timeout_s: float = 60.0) -> None:
        """Block until every managed process of these services has sent a heartbeat."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            self.pump_health()
            self.check(time.time())
            missing = [m.label for m in self.managed if m.spec.name in services
                       and not (m.proc and self.monitor.last_seen_pid(m.proc.pid))]
            if not missing:
                return
            dead = [m.label for m in self.managed if m.gave_up]
            if dead:
                raise RuntimeError(f"services failed to start: {', '.join(dead)} (see their logs)")
        raise RuntimeError(f"services not ready after {timeout_s:.0f} s: {', '.join(missing)}")

    def stop_all(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            for name in SERVICE_NAMES + tuple(sorted({m.spec.name for m in self.managed} - set(SERVICE_NAMES))):
                procs = [m.proc for m in self.managed if m.spec.name == name and m.proc and m.proc.poll() is None]
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                deadline = time.time() + timeout_s
                for p in procs:
                    try:
                        p.wait(max(0.1, deadline - time.time()))
                    except subprocess.TimeoutExpired:
                        logger.warning("pid %d ignored SIGTERM; killing", p.pid)
                        _kill(p)
            for m in self.managed:
                m.proc = None
        self.bus.close()


def _kill(proc: subprocess.Popen) -> None:
    try:
        proc.kill()
        proc.wait(5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
