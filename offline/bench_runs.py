"""Benchmark runs with real service processes: live replay (latency, CPU, memory) and offline pose throughput."""
from __future__ import annotations

import logging
import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import zmq

from common import bus as busmod
from common.messages import CoachUpdate, Credit, EndOfStream, Frame, ProtocolError
from launcher.analyze import ipc_settings
from launcher.supervisor import ServiceSpec, Supervisor, pipeline_specs

logger = logging.getLogger(__name__)

MB = 1024 * 1024
LIVE_SESSION = "bench-live"
# Coach updates still in flight when the camera stops are worth waiting for, briefly.
DRAIN_S = 3.0


@dataclass
class ProcessSampler:
    """CPU time and RSS of the supervisor's children, sampled from outside (psutil)."""

    supervisor: Supervisor
    procs: dict[str, psutil.Process] = field(default_factory=dict)
    cpu_start: dict[str, float] = field(default_factory=dict)
    wall_start: dict[str, float] = field(default_factory=dict)
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=dict)   # label -> [(t, MB)]
    system_start: tuple[float, float] | None = None   # (time, busy CPU seconds of the whole machine)

    def refresh(self, now: float) -> None:
        """Start watching children that appeared since the last call (CPU counted from now on)."""
        if self.system_start is None:
            self.system_start = (now, busy_seconds())
        watched = [(m.label, m.proc) for m in self.supervisor.managed if m.proc is not None]
        for label, popen in [("bench", None), *watched]:
            if label in self.procs or (popen is not None and popen.poll() is not None):
                continue
            try:
                proc = psutil.Process(popen.pid if popen is not None else os.getpid())
                times = proc.cpu_times()
            except psutil.Error:
                continue
            self.procs[label] = proc
            self.cpu_start[label] = times.user + times.system
            self.wall_start[label] = now
            self.rss[label] = []

    def sample(self, now: float) -> None:
        self.refresh(now)
        for label, proc in self.procs.items():
            try:
                self.rss[label].append((now, proc.memory_info().rss / MB))
            except psutil.Error:
                pass

    def cpu_percent(self, now: float) -> dict[str, float]:
        """Mean CPU % of each watched process since it was first seen (100 = one core)."""
        out = {}
        for label, proc in self.procs.items():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            wall = max(1e-6, now - self.wall_start[label])
            out[label] = round(100.0 * (times.user + times.system - self.cpu_start[label]) / wall, 1)
        return out

    def other_cpu_percent(self, now: float, ours: dict[str, float]) -> float | None:
        """CPU % the rest of the machine used meanwhile (other people's work disturbs the figures)."""
        if self.system_start is None:
            return None
        t0, busy0 = self.system_start
        total = 100.0 * (busy_seconds() - busy0) / max(1e-6, now - t0)
        return round(max(0.0, total - sum(ours.values())), 1)


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU seconds (user + system) a process has used; 0 once it is gone."""
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system


def _start(supervisor: Supervisor, services: list[str]) -> None:
    supervisor.start_all()
    try:
        supervisor.wait_ready(services, timeout_s=120)
    except BaseException:   # not ready, or a stop signal meanwhile: nothing may be left running
        supervisor.stop_all()
        raise


def subscriber(ctx: zmq.Context, endpoints: str | list[str], topics: list[bytes]) -> zmq.Socket:
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, 0)   # the bench must see every message, never drop one itself
    for topic in topics:
        sock.setsockopt(zmq.SUBSCRIBE, topic)
    for endpoint in [endpoints] if isinstance(endpoints, str) else endpoints:
        sock.connect(endpoint)
    return sock


def drain(sock: zmq.Socket, on_message, timeout_ms: int) -> None:
    """Receive everything queued on sock (waiting up to timeout_ms for the first), passing (arrival, msg)."""
    if not sock.poll(timeout_ms):
        return
    while True:
        try:
            frames = sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return
        arrival = time.time()
        try:
            msg = busmod.decode(frames)
        except ProtocolError as exc:
            logger.warning("bench: undecodable message (%s)", exc.kind)
            continue
        on_message(arrival, msg)


# ------------------------------------------------------------------------------------------------ live

def live_run(clip: str, seconds: float, pose_workers: int = 2, log_dir: str | None = None,
             sample_every_s: float = 2.0) -> dict:
    """Replay `clip` in real time (looped) through capture, broker, workers, classifier and coach.

    Returns raw observations: per-frame latencies (ms, by seq), frames captured, RSS samples and CPU % per
    process, and the last heartbeat stats of each service.
    """
    with tempfile.TemporaryDirectory(prefix="ft-bench-live-") as tmp:
        settings = ipc_settings(tmp)
        supervisor = Supervisor(settings, pipeline_specs(settings, pose_workers, with_capture=False,
                                                         with_speech=False, with_ui=False),
                                log_dir=log_dir or str(Path(tmp) / "logs"))
        ctx = zmq.Context.instance()
        # Poses and classifications too: where along the pipeline the time goes.
        updates = subscriber(ctx, [settings.poses, settings.classified, settings.coach],
                       [b"pose", b"classification", b"coach_update"])
        _start(supervisor, ["broker", "pose", "classifier", "coach", "relay"])
        sampler = ProcessSampler(supervisor)
        latency_by_seq: dict[int, float] = {}
        arrivals: list[tuple[float, float]] = []   # (arrival, latency ms), for latency over time
        upstream: dict[str, list[float]] = {"pose": [], "classification": [], "pose_ms": []}

        def on_update(arrival: float, msg) -> None:
            if msg.session != LIVE_SESSION:
                return
            ms = (arrival - msg.ts_capture) * 1000
            if isinstance(msg, CoachUpdate) and msg.seq not in latency_by_seq:
                latency_by_seq[msg.seq] = ms
                arrivals.append((arrival, ms))
            elif msg.TYPE in upstream:
                upstream[msg.TYPE].append(ms)
                if msg.TYPE == "pose":
                    upstream["pose_ms"].append(msg.pose_ms)

        try:
            capture = supervisor.add(ServiceSpec(
                "capture", "services.capture",
                ["--source", str(clip), "--realtime", "--loop", "--no-ingest", "--no-preview",
                 "--session", LIVE_SESSION], restart=False))
            started = time.time()
            sampler.refresh(started)
            next_sample = started
            while time.time() - started < seconds:
                drain(updates, on_update, 50)
                supervisor.pump_health(timeout_ms=0)
                supervisor.check(time.time())
                now = time.time()
                if now >= next_sample:
                    sampler.sample(now)
                    next_sample = now + sample_every_s
            end = time.time()
            cpu = sampler.cpu_percent(end)
            other = sampler.other_cpu_percent(end, cpu)
            sampler.sample(end)
            # Frames captured up to the capture's last heartbeat: every seq below it was either sent or
            # dropped on purpose, so it is the honest denominator.
            supervisor.pump_health(timeout_ms=0)
            capture_stats = dict(supervisor.monitor.stats_of(capture.pid))
            captured = int(capture_stats.get("sent", 0)) + int(capture_stats.get("dropped", 0))
            stats = {m.label: dict(supervisor.monitor.stats_of(m.proc.pid))
                     for m in supervisor.managed if m.proc is not None}
            restarts = {m.label: m.total_restarts for m in supervisor.managed if m.total_restarts}
            capture.send_signal(signal.SIGTERM)
            drain_until = time.time() + DRAIN_S
            while time.time() < drain_until:
                drain(updates, on_update, 50)
        finally:
            updates.close(linger=0)
            supervisor.stop_all()
    latencies = [ms for seq, ms in latency_by_seq.items() if seq < captured]
    return {"seconds": round(end - started, 1), "frames_captured": captured, "coach_updates": len(latencies),
            "latencies_ms": latencies, "upstream_ms": upstream, "arrivals": [(t - started, ms) for t, ms in arrivals],
            "cpu_percent": cpu, "rss_mb": {k: [(round(t - started, 1), mb) for t, mb in v]
                                           for k, v in sampler.rss.items()},
            "stats": stats, "restarts": restarts, "other_cpu_percent": other}


# ------------------------------------------------------------------------------------------------ offline

def offline_scaling(jpegs: list[tuple[bytes, int, int]], max_workers: int, frames_per_run: int = 600,
                    fps: float = 30.0, log_dir: str | None = None) -> dict:
    """Frames/s through the broker and 1..max_workers pose workers, frames sent offline (lossless).

    `jpegs` are ready frames (JPEG, width, height), so the clock measures broker + workers only, not video
    decoding. Workers are added one at a time to the same broker; with n workers, n clips run side by side.
    """
    fps_by_workers: dict[str, float] = {}
    cpu_by_workers: dict[str, dict[str, float]] = {}
    other_by_workers: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="ft-bench-offline-") as tmp:
        settings = ipc_settings(tmp)
        supervisor = Supervisor(settings, [ServiceSpec("broker", "services.pose.broker"),
                                           ServiceSpec("pose", "services.pose")],
                                log_dir=log_dir or str(Path(tmp) / "logs"))
        ctx = zmq.Context.instance()
        source = ctx.socket(zmq.DEALER)
        source.setsockopt(zmq.LINGER, 0)
        source.connect(settings.broker_frontend)
        poses = subscriber(ctx, settings.poses, [b"pose", b"frame_skipped"])
        _start(supervisor, ["broker", "pose"])
        try:
            for n in range(1, max_workers + 1):
                if n > 1:
                    supervisor.add(ServiceSpec("pose", "services.pose"))
                    supervisor.wait_ready(["pose"], timeout_s=120)
                wait_broker_workers(supervisor, n)
                sampler = ProcessSampler(supervisor)
                sampler.refresh(time.time())
                rate = _offline_pass(source, poses, jpegs, f"bench-offline-{n}", frames_per_run, fps,
                                     window=max(8, 4 * n), warmup=10 * n, parallel=n)
                fps_by_workers[str(n)] = round(rate, 1)
                now = time.time()
                cpu_by_workers[str(n)] = sampler.cpu_percent(now)
                other_by_workers[str(n)] = sampler.other_cpu_percent(now, cpu_by_workers[str(n)])
                logger.info("offline: %d worker(s): %.1f frames/s", n, rate)
        finally:
            source.close(linger=0)
            poses.close(linger=0)
            supervisor.stop_all()
    return {"fps_by_workers": fps_by_workers, "cpu_percent_by_workers": cpu_by_workers,
            "other_cpu_percent": other_by_workers, "frames_per_run": frames_per_run}


def wait_broker_workers(supervisor: Supervisor, n: int, timeout_s: float = 30.0) -> None:
    """Until the broker's heartbeat says it knows n workers (a worker announces itself on start)."""
    broker = supervisor.pids("broker")[0]
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        supervisor.pump_health(timeout_ms=100)
        if int(supervisor.monitor.stats_of(broker).get("workers", 0)) >= n:
            return
    raise RuntimeError(f"broker does not see {n} pose workers after {timeout_s:.0f} s")


def _offline_pass(source: zmq.Socket, poses: zmq.Socket, jpegs: list[tuple[bytes, int, int]], session: str,
                  total: int, fps: float, window: int, warmup: int, parallel: int = 1) -> float:
    """Send `total` frames as `parallel` offline sessions (clips analysed side by side, as analyze does) under
    the broker's credit; frames/s after `warmup` results.

    The broker keeps an offline session on the worker that holds its tracker, so one clip uses one worker;
    n workers are measured with n clips at once.
    """
    names = [f"{session}-{k}" for k in range(parallel)]
    share = total // parallel
    total = share * parallel
    credit = {name: max(2, window // parallel) for name in names}
    sent = {name: 0 for name in names}
    got = 0
    t_warm = t_last = 0.0
    deadline = time.time() + 300
    while got < total:
        for name in names:
            while credit[name] > 0 and sent[name] < share:
                jpeg, width, height = jpegs[sent[name] % len(jpegs)]
                busmod.send(source, Frame(session=name, seq=sent[name], ts_capture=sent[name] / fps, width=width,
                                          height=height, source="bench", live=False, jpeg=jpeg))
                credit[name] -= 1
                sent[name] += 1
        if time.time() > deadline:
            raise RuntimeError(f"offline pass stalled after {got} of {total} frames")
        poller_events = dict(_poll([source, poses], 100))
        if source in poller_events:
            while source.poll(0):
                try:
                    _, msg = busmod.recv(source)
                except ProtocolError:
                    continue
                if isinstance(msg, Credit) and msg.session in credit:
                    credit[msg.session] += msg.credit
        if poses in poller_events:
            while poses.poll(0):
                try:
                    _, msg = busmod.recv(poses)
                except ProtocolError:
                    continue
                if msg.session not in credit:
                    continue
                got += 1
                t_last = time.time()
                if got == warmup:
                    t_warm = t_last
    for name in names:
        busmod.send(source, EndOfStream(session=name, seq=share, frames=share, fps=fps))
    return (total - warmup) / max(1e-6, t_last - t_warm)


def _poll(sockets: list[zmq.Socket], timeout_ms: int):
    poller = zmq.Poller()
    for sock in sockets:
        poller.register(sock, zmq.POLLIN)
    return poller.poll(timeout_ms)
