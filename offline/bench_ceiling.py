"""The ceiling of one broker, one classifier and one coach: each fed as fast as it takes frames, on its own.

Each run starts the service under test as a real process (with stand-in pose workers for the broker) and plays
its neighbours from the bench: frames offered in a closed loop (at most `window` in flight per run, so nothing is
dropped and the service is never idle), results counted at its output. The figures: frames per second it
carried, and CPU milliseconds per frame of every process (from psutil), which is what projects to a machine with
more cores: frames/s per core = 1000 / cpu_ms_per_frame.
"""
from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import zmq

from common import bus as busmod
from common.messages import (
    Classification,
    Credit,
    EndOfStream,
    Frame,
    Message,
    PoseResult,
    ProtocolError,
)
from launcher.analyze import ipc_settings
from launcher.supervisor import ServiceSpec, Supervisor
from offline.bench_runs import cpu_seconds, wait_broker_workers

logger = logging.getLogger(__name__)

STANDIN = "offline.standin_pose"


@dataclasses.dataclass
class _Cpu:
    """CPU seconds of a set of processes between two moments."""

    procs: dict[str, psutil.Process]
    start: dict[str, float] = dataclasses.field(default_factory=dict)

    def begin(self) -> None:
        self.start = {label: cpu_seconds(p) for label, p in self.procs.items()}

    def seconds(self) -> dict[str, float]:
        return {label: cpu_seconds(p) - self.start[label] for label, p in self.procs.items()}


def _processes(supervisor: Supervisor) -> dict[str, psutil.Process]:
    out = {m.label: psutil.Process(m.proc.pid) for m in supervisor.managed if m.proc is not None}
    out["bench"] = psutil.Process()
    return out


def _figures(frames: int, elapsed: float, cpu_s: dict[str, float], service: str) -> dict:
    """frames/s carried, CPU ms per frame of each process, and the projection for the service under test."""
    per_frame = {label: round(1000.0 * s / max(1, frames), 4) for label, s in cpu_s.items()}
    own = sum(ms for label, ms in per_frame.items() if label.rsplit("-", 1)[0] == service)
    return {"frames": frames, "seconds": round(elapsed, 2), "frames_per_s": round(frames / max(1e-9, elapsed), 1),
            "cpu_ms_per_frame": per_frame,
            "cpu_percent": {label: round(100.0 * s / max(1e-9, elapsed), 1) for label, s in cpu_s.items()},
            # What one core of this service would carry if nothing else wanted it.
            "frames_per_cpu_second": round(1000.0 / own, 1) if own > 0 else None}


def _start(supervisor: Supervisor, services: list[str]) -> None:
    supervisor.start_all()
    try:
        supervisor.wait_ready(services, timeout_s=120)
    except RuntimeError:
        supervisor.stop_all()
        raise


def _socket(ctx: zmq.Context, kind: int, endpoint: str, bind: bool) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)   # the bench keeps its own window; it never drops a frame itself
    sock.setsockopt(zmq.RCVHWM, 0)
    (sock.bind if bind else sock.connect)(endpoint)
    return sock


def _wait_subscribed(pub: zmq.Socket, topic: bytes, timeout_s: float = 60.0) -> None:
    """An XPUB hears its subscriber's subscription: then nothing we publish falls into the void."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if pub.poll(100) and pub.recv()[:1 + len(topic)] == b"\x01" + topic:
            return
    raise RuntimeError(f"the service never subscribed to {topic!r}")


# ------------------------------------------------------------------------------------------------ broker

def broker_ceiling(jpeg: bytes, width: int, height: int, seconds: float = 6.0, workers: int = 4,
                   sessions: int = 16, window: int = 8, delay_ms: float = 0.0, warmup_s: float = 1.0,
                   log_dir: str | None = None) -> dict:
    """Frames/s through one broker with stand-in workers that answer at once: offline sessions under the
    broker's own credit flow (lossless), the bench as capture and as the poses subscriber."""
    return _through_broker(jpeg, width, height, seconds, workers, sessions, window, delay_ms, warmup_s, log_dir,
                           downstream=False)


def pipeline_ceiling(jpeg: bytes, width: int, height: int, seconds: float = 8.0, workers: int = 4,
                     sessions: int = 16, window: int = 8, delay_ms: float = 0.0, warmup_s: float = 2.0,
                     log_dir: str | None = None) -> dict:
    """The same, through broker, stand-in workers, classifier, coach and relay: frames/s reaching the coach's
    subscribers, and every process's CPU per frame. (The stand-in's pose never moves, so the coach counts no
    rep: its real per-frame cost is the coach's own ceiling run.)"""
    return _through_broker(jpeg, width, height, seconds, workers, sessions, window, delay_ms, warmup_s, log_dir,
                           downstream=True)


def _through_broker(jpeg: bytes, width: int, height: int, seconds: float, workers: int, sessions: int,
                    window: int, delay_ms: float, warmup_s: float, log_dir: str | None, downstream: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="ft-bench-ceiling-") as tmp:
        settings = ipc_settings(tmp)
        specs = [ServiceSpec("broker", "services.pose.broker")]
        specs += [ServiceSpec("pose", STANDIN, ["--delay-ms", str(delay_ms)]) for _ in range(workers)]
        ready = ["broker", "pose"]
        if downstream:
            specs += [ServiceSpec("classifier", "services.classifier"), ServiceSpec("coach", "services.coach"),
                      ServiceSpec("relay", "services.relay")]
            ready += ["classifier", "coach", "relay"]
        supervisor = Supervisor(settings, specs, log_dir=log_dir or str(Path(tmp) / "logs"))
        ctx = zmq.Context.instance()
        source = _socket(ctx, zmq.DEALER, settings.broker_frontend, bind=False)
        topic = b"coach_update" if downstream else b"pose"
        sink = _socket(ctx, zmq.SUB, settings.coach if downstream else settings.poses, bind=False)
        sink.setsockopt(zmq.SUBSCRIBE, topic)
        _start(supervisor, ready)
        try:
            wait_broker_workers(supervisor, workers)
            names = [f"ceiling-{k}" for k in range(sessions)]
            credit = {name: window for name in names}
            seq = {name: 0 for name in names}
            if downstream:
                _join_through(source, sink, topic, width, height, jpeg)
            cpu = _Cpu(_processes(supervisor))

            def offer() -> None:
                for name in names:
                    while credit[name] > 0:
                        busmod.send(source, Frame(session=name, seq=seq[name], ts_capture=seq[name] / 30.0,
                                                  width=width, height=height, source="bench", live=False,
                                                  jpeg=jpeg))
                        credit[name] -= 1
                        seq[name] += 1

            def on_source(frames: list[bytes]) -> None:
                try:
                    msg = busmod.decode(frames)
                except ProtocolError:
                    return
                if isinstance(msg, Credit) and msg.session in credit:
                    credit[msg.session] += msg.credit

            frames, elapsed, cpu_s = _run(offer, {source: on_source}, sink, topic, cpu, seconds, warmup_s)
            stats = {service: _last_stats(supervisor, service) for service in ready if service != "pose"}
            for name in names:
                busmod.send(source, EndOfStream(session=name, seq=seq[name], frames=seq[name], fps=30.0))
        finally:
            source.close(linger=0)
            sink.close(linger=0)
            supervisor.stop_all()
    out = _figures(frames, elapsed, cpu_s, "broker")
    out.update(workers=workers, sessions=sessions, window=window, jpeg_bytes=len(jpeg), delay_ms=delay_ms,
               stats=stats)
    return out


def _join_through(source: zmq.Socket, sink: zmq.Socket, topic: bytes, width: int, height: int, jpeg: bytes,
                  timeout_s: float = 60.0) -> None:
    """A live probe session until the sink hears the end of the pipeline (its SUB joins asynchronously)."""
    deadline = time.time() + timeout_s
    seq = 0
    while time.time() < deadline:
        busmod.send(source, Frame(session="ceiling-probe", seq=seq, ts_capture=time.time(), width=width,
                                  height=height, source="bench", live=True, jpeg=jpeg))
        seq += 1
        if sink.poll(100) and sink.recv_multipart()[0].startswith(topic):
            while sink.poll(300):
                sink.recv_multipart()
            while source.poll(0):
                source.recv_multipart()
            return
    raise RuntimeError("the bench never heard the end of the pipeline")


def _last_stats(supervisor: Supervisor, service: str) -> dict:
    """The service's counters from its latest heartbeat (waits up to two heartbeats for a fresh one)."""
    deadline = time.time() + 2.5 * supervisor.settings.heartbeat_s
    while time.time() < deadline:
        supervisor.pump_health(timeout_ms=100)
    pids = supervisor.pids(service)
    return dict(supervisor.monitor.stats_of(pids[0])) if pids else {}


# ------------------------------------------------------------------------------------------------ classifier, coach

def classifier_ceiling(poses: list[PoseResult], seconds: float = 6.0, sessions: int = 8, window: int = 32,
                       warmup_s: float = 2.0, log_dir: str | None = None) -> dict:
    """Frames/s through one classifier: the bench publishes a real clip's poses for `sessions` sessions (looped,
    seq and capture time running on) and counts the classifications."""
    return _subscriber_ceiling("classifier", "services.classifier", "poses", "classified_in", b"pose",
                               b"classification", poses, seconds, sessions, window, warmup_s, log_dir)


def coach_ceiling(classified: list[Classification], seconds: float = 6.0, sessions: int = 8, window: int = 32,
                  warmup_s: float = 2.0, log_dir: str | None = None) -> dict:
    """Frames/s through one coach (with its SQLite history): the bench publishes a real clip's classifications
    for `sessions` sessions and counts the coach updates."""
    return _subscriber_ceiling("coach", "services.coach", "classified", "coach_in", b"classification",
                               b"coach_update", classified, seconds, sessions, window, warmup_s, log_dir)


def _subscriber_ceiling(service: str, module: str, inbound: str, outbound: str, in_topic: bytes,
                        out_topic: bytes, clip: list[Message], seconds: float, sessions: int, window: int,
                        warmup_s: float, log_dir: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="ft-bench-ceiling-") as tmp:
        settings = ipc_settings(tmp)
        supervisor = Supervisor(settings, [ServiceSpec(service, module)], log_dir=log_dir or str(Path(tmp) / "logs"))
        ctx = zmq.Context.instance()
        pub = _socket(ctx, zmq.XPUB, getattr(settings, inbound), bind=True)
        sink = _socket(ctx, zmq.SUB, getattr(settings, outbound), bind=True)   # the bench plays the relay
        sink.setsockopt(zmq.SUBSCRIBE, out_topic)
        _start(supervisor, [service])
        try:
            _wait_subscribed(pub, in_topic)
            _join(pub, sink, clip[0], out_topic)
            names = [f"ceiling-{service}-{k}" for k in range(sessions)]
            # Each session at its own place in the clip: two trainees never hold the very same pose at once.
            offsets = [k * len(clip) // sessions for k in range(sessions)]
            step = clip[1].ts_capture - clip[0].ts_capture
            state = {"sent": 0, "turn": 0}
            received = {"n": 0}
            cpu = _Cpu(_processes(supervisor))

            def offer() -> None:
                while state["sent"] - received["n"] < window:
                    k = state["turn"] % sessions
                    i = state["turn"] // sessions
                    template = clip[(i + offsets[k]) % len(clip)]
                    msg = dataclasses.replace(template, session=names[k], seq=i,
                                              ts_capture=clip[0].ts_capture + i * step)
                    busmod.send(pub, msg)
                    state["sent"] += 1
                    state["turn"] += 1

            def counted(n: int) -> None:
                received["n"] += n

            frames, elapsed, cpu_s = _run(offer, {}, sink, out_topic, cpu, seconds, warmup_s, on_count=counted)
            stats = _last_stats(supervisor, service)
        finally:
            pub.close(linger=0)
            sink.close(linger=0)
            supervisor.stop_all()
    out = _figures(frames, elapsed, cpu_s, service)
    out.update(sessions=sessions, window=window, stats=stats)
    return out


def _join(pub: zmq.Socket, sink: zmq.Socket, template: Message, out_topic: bytes, timeout_s: float = 30.0) -> None:
    """Until the sink hears the service's output (a probe session, one message every 50 ms): a SUB joins
    asynchronously, and a closed loop whose first answers were lost would wait for ever."""
    deadline = time.time() + timeout_s
    seq = 0
    while time.time() < deadline:
        busmod.send(pub, dataclasses.replace(template, session="ceiling-probe", seq=seq,
                                             ts_capture=template.ts_capture + seq / 30.0))
        seq += 1
        if sink.poll(50):
            frames = sink.recv_multipart()
            if frames[0].startswith(out_topic):
                while sink.poll(200):   # what is still on its way from the probe
                    sink.recv_multipart()
                return
    raise RuntimeError("the bench never heard the service under test")


# ------------------------------------------------------------------------------------------------ the loop

def _run(offer: Callable[[], None], others: dict[zmq.Socket, Callable[[list[bytes]], None]], sink: zmq.Socket,
         topic: bytes, cpu: _Cpu, seconds: float, warmup_s: float,
         on_count: Callable[[int], None] | None = None) -> tuple[int, float, dict[str, float]]:
    """Offer frames, handle replies, count `topic` messages at the sink; the clock and the CPU meter start after
    warm-up. Returns (frames counted after warm-up, seconds, CPU seconds by process)."""
    poller = zmq.Poller()
    poller.register(sink, zmq.POLLIN)
    for sock in others:
        poller.register(sock, zmq.POLLIN)
    start = time.time()
    measuring, counted, t0 = False, 0, 0.0
    deadline = start + warmup_s + seconds
    last_progress = start
    while True:
        now = time.time()
        if not measuring and now - start >= warmup_s:
            measuring, counted, t0 = True, 0, now
            cpu.begin()
        if now >= deadline:
            break
        if now - last_progress > 30.0:
            raise RuntimeError("no results for 30 s: the service under test is stuck")
        offer()
        for sock, _ in poller.poll(100):
            handler = others.get(sock)
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if handler is not None:
                    handler(frames)
                elif frames[0].startswith(topic):
                    counted += 1
                    last_progress = time.time()
                    if on_count:
                        on_count(1)
    cpu_s = cpu.seconds()
    return counted, time.time() - t0, cpu_s
