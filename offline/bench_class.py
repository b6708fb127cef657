"""A class on one laptop: 1, 2, 4 and 8 live trainees at once, each a real clip replayed at 30 frame/s.

The bench plays the trainees' browser tabs (as the UI relays them: numbered JPEG frames pushed to capture's ingest)
through capture, broker, the pose workers, classifier, coach and relay, all real processes on private endpoints.
Per trainee: frames/s answered while every trainee of the run is live, capture -> coach-update latency, and the
reps the coach counted against the same clip analysed offline (lossless, `analyze`). Per service: CPU ms per
frame answered. The clips are read, resized and JPEG-encoded before the run, as a browser would have done.
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import zmq

from common import bus as busmod
from common.messages import CoachUpdate, EndOfStream, Frame, SessionSummary
from launcher.analyze import ipc_settings
from launcher.supervisor import Supervisor, pipeline_specs
from offline.bench_runs import busy_seconds, cpu_seconds, drain, subscriber

logger = logging.getLogger(__name__)

SIZES = (1, 2, 4, 8)
# Eight 30 frame/s clips with reps, 10-20 s, different exercises and views: trainee k replays CLIPS[k]. The first
# four (the 4-trainee goal) are four exercises.
CLIPS = ("PushUp-Counter/pushup2.mp4", "Fitness/lunges.mp4", "RandySamuelA__PortoREcurFit.github.io/squat.mp4",
         "409416541__Independent-Study/Jumping_Jacks.mp4", "409416541__Independent-Study/Push_Up.mp4",
         "PushUp-Counter/pushup4.mp4", "Subhadip313__Fitness-Guide-360/situps.mp4",
         "409416541__Independent-Study/Jumping_Jacks_sample.mp4")
FPS = 30.0
DRAIN_S = 5.0          # after the last frame: the pipeline finishes what it holds, summaries come back
SUMMARY_WAIT_S = 20.0
SETTLE_S = 2.0         # the measured window starts this long after the last trainee's first frame


@dataclass
class ClipFrames:
    path: str
    jpegs: list[bytes]
    width: int
    height: int

    @property
    def seconds(self) -> float:
        return len(self.jpegs) / FPS


def read_clip(path: str | Path, max_side: int = 640, quality: int = 80) -> ClipFrames:
    """Every frame of a clip as the browser page would send it (resized, JPEG)."""
    from offline.bench_stages import iter_frames
    from services.capture.frames import prepare
    jpegs, width, height = [], 0, 0
    for image in iter_frames(str(path), 100_000):
        jpeg, width, height = prepare(image, max_side, quality)
        jpegs.append(jpeg)
    if not jpegs:
        raise ValueError(f"cannot read frames from {path}")
    return ClipFrames(str(path), jpegs, width, height)


# ------------------------------------------------------------------------------------------------ pure figures

def share_spread(fps_by_session: dict[str, float]) -> float | None:
    """Largest relative distance of a session's frames/s from the mean (0.1 = every share within ±10 %)."""
    values = list(fps_by_session.values())
    if not values or not np.mean(values):
        return None
    mean = float(np.mean(values))
    return round(max(abs(v - mean) for v in values) / mean, 3)


def count_vs_offline(live: dict | None, offline: dict | None) -> dict:
    """The reps of the clip's exercise (as offline analysis names it) counted live and offline."""
    from offline.evaluate import prediction
    if offline is None:
        return {"error": "no offline result"}
    exercise, reps, _ = prediction(offline)
    if live is None:
        return {"exercise": exercise, "offline": reps, "live": None, "diff": None, "error": "no session summary"}
    live_exercise, _, _ = prediction(live)
    live_reps = int((live.get("totals") or {}).get(exercise, {}).get("reps", 0))
    return {"exercise": exercise, "offline": reps, "live": live_reps, "diff": live_reps - reps,
            "live_exercise": live_exercise}


def check_class_goals(run: dict, share: float = 0.10, p95_ms: float = 150.0, reps: int = 1) -> dict:
    """The issue's goals for one class size."""
    spread = run.get("share_spread")
    p95 = (run.get("latency_ms") or {}).get("p95")
    diffs = [c.get("diff") for c in (run.get("counts_vs_offline") or {}).values()]
    return {f"shares within ±{share:.0%}": None if spread is None else spread <= share,
            f"latency p95 <= {p95_ms:.0f} ms": None if p95 is None else p95 <= p95_ms,
            f"every count within ±{reps} of offline": None if not diffs else all(
                d is not None and abs(d) <= reps for d in diffs)}


# ------------------------------------------------------------------------------------------------ runs

def offline_counts(clips: list[str], pose_workers: int) -> dict[str, dict | None]:
    """Each clip analysed offline (every frame, one tracker): its summary, by path."""
    from launcher.analyze import analyze
    results = analyze(clips, pose_workers=pose_workers, progress=False)
    return {r.video: r.summary for r in results}


def class_runs(clips: list[ClipFrames], sizes=SIZES, pose_workers: int = 2, log_dir: str | None = None,
               offline: dict[str, dict | None] | None = None) -> dict:
    """Every class size in turn through one pipeline; {"sessions": {"1": run, ...}, "pose_workers", ...}."""
    with tempfile.TemporaryDirectory(prefix="ft-bench-class-") as tmp:
        settings = ipc_settings(tmp)
        supervisor = Supervisor(settings, pipeline_specs(settings, pose_workers, with_capture=True,
                                                         with_speech=False, with_ui=False),
                                log_dir=log_dir or str(Path(tmp) / "logs"))
        ctx = zmq.Context.instance()
        push = ctx.socket(zmq.PUSH)             # the trainees' tabs, as the UI relays them
        push.setsockopt(zmq.LINGER, 0)
        push.setsockopt(zmq.SNDHWM, 0)
        push.connect(settings.capture_ingest)
        sub = subscriber(ctx, settings.coach, [b"coach_update", b"session_summary"])
        supervisor.start_all()
        try:
            supervisor.wait_ready(["capture", "broker", "pose", "classifier", "coach", "relay"], timeout_s=120)
            _warm_up(push, sub, clips[0])
            out = {}
            for n in sizes:
                logger.info("class: %d trainee(s) ...", n)
                out[str(n)] = _one_class(supervisor, push, sub, [clips[k % len(clips)] for k in range(n)], n,
                                         offline or {})
                time.sleep(2.0)   # let the pipeline empty between runs
        finally:
            push.close(linger=0)
            sub.close(linger=0)
            supervisor.stop_all()
    return {"sessions": out, "pose_workers": pose_workers, "fps_offered_per_trainee": FPS,
            "clips": [c.path for c in clips]}


def _warm_up(push: zmq.Socket, sub: zmq.Socket, clip: ClipFrames, timeout_s: float = 60.0) -> None:
    """A short session until coach updates come back: every SUB has joined and every worker has a model."""
    deadline = time.time() + timeout_s
    seq = 0
    while time.time() < deadline:
        busmod.send(push, _frame("class-warmup", seq, clip))
        seq += 1
        if sub.poll(1000 / FPS) and busmod.decode(sub.recv_multipart()).session == "class-warmup":
            busmod.send(push, EndOfStream(session="class-warmup", seq=seq, frames=seq, fps=FPS, reason="eof"))
            time.sleep(1.0)
            while sub.poll(100):
                sub.recv_multipart()
            return
    raise RuntimeError("no coach update for the warm-up session: the pipeline does not answer")


def _frame(session: str, seq: int, clip: ClipFrames) -> Frame:
    return Frame(session=session, seq=seq, ts_capture=time.time(), width=clip.width, height=clip.height,
                 source="browser", live=True, jpeg=clip.jpegs[seq % len(clip.jpegs)])


def _one_class(supervisor: Supervisor, push: zmq.Socket, sub: zmq.Socket, clips: list[ClipFrames], n: int,
               offline: dict[str, dict | None]) -> dict:
    names = [f"class{n}-t{k}" for k in range(n)]
    # Trainees start a few frames apart, as people do (and so no two frames of the class are sent in lockstep).
    starts = {name: k * (1.0 / FPS) / max(1, n) for k, name in enumerate(names)}
    clip_of = dict(zip(names, clips))
    sent = {name: 0 for name in names}
    ended: set[str] = set()
    updates: dict[str, list[tuple[float, float]]] = {name: [] for name in names}   # (arrival, latency ms)
    summaries: dict[str, dict] = {}
    broker0 = _broker_stats(supervisor)
    procs = {m.label: psutil.Process(m.proc.pid) for m in supervisor.managed if m.proc is not None}
    cpu0 = {label: cpu_seconds(p) for label, p in procs.items()}
    busy0 = busy_seconds()
    t0 = time.time() + 0.2
    # fps and latency are measured while every trainee is live (until the shortest clip ends), from SETTLE_S on:
    # a trainee's first frame makes each worker build a tracker for them (0.3-0.5 s of a worker, once).
    window_start = t0 + max(starts.values()) + SETTLE_S
    window_end = t0 + min(c.seconds for c in clips)
    last_send = t0 + max(c.seconds for c in clips) + max(starts.values())

    def on_message(arrival: float, msg) -> None:
        if isinstance(msg, CoachUpdate) and msg.session in updates:
            updates[msg.session].append((arrival, (arrival - msg.ts_capture) * 1000.0))
        elif isinstance(msg, SessionSummary) and msg.session in updates:
            summaries[msg.session] = msg.summary

    while len(summaries) < n and time.time() < last_send + DRAIN_S + SUMMARY_WAIT_S:
        now = time.time()
        for name in names:
            clip = clip_of[name]
            due = int((now - t0 - starts[name]) * FPS) + 1
            while name not in ended and sent[name] < min(due, len(clip.jpegs)):
                busmod.send(push, _frame(name, sent[name], clip))
                sent[name] += 1
            if name not in ended and sent[name] >= len(clip.jpegs) and now >= t0 + starts[name] + clip.seconds:
                busmod.send(push, EndOfStream(session=name, seq=sent[name], frames=sent[name], fps=FPS))
                ended.add(name)
        drain(sub, on_message, 5)
    elapsed = time.time() - t0
    cpu_s = {label: cpu_seconds(p) - cpu0[label] for label, p in procs.items()}
    other = 100.0 * (busy_seconds() - busy0) / max(1e-6, elapsed) - 100.0 * sum(cpu_s.values()) / elapsed
    answered = sum(len(u) for u in updates.values())
    window = window_end - window_start
    measured = {name: [ms for t, ms in updates[name] if window_start <= t <= window_end] for name in names}
    fps = {name: round(len(measured[name]) / window, 2) for name in names}
    latencies = [ms for name in names for ms in measured[name]]
    stats = _broker_stats(supervisor)
    run = {
        "trainees": n, "seconds_measured": round(window, 2), "fps": fps,
        "fps_total": round(sum(fps.values()), 1), "share_spread": share_spread(fps),
        "latency_ms": _p(latencies),
        "latency_ms_by_session": {name: _p(measured[name]) for name in names},
        "frames_sent": sent, "frames_answered": {name: len(updates[name]) for name in names},
        "counts_vs_offline": {name: {"clip": clip_of[name].path, **count_vs_offline(
            summaries.get(name), offline.get(clip_of[name].path))} for name in names},
        "cpu_ms_per_frame": _per_service(cpu_s, answered),
        "cpu_percent": {label: round(100.0 * s / elapsed, 1) for label, s in cpu_s.items()},
        "other_cpu_percent": round(max(0.0, other), 1),
        # BlazePose's wall time per frame in the workers (a new session's first frame builds its tracker)
        "pose_ms_in_workers": round((stats["pose_ms_total"] - broker0["pose_ms_total"])
                                    / max(1.0, stats["pose_frames"] - broker0["pose_frames"]), 1),
        # what the broker did in this run (its counters run on across runs)
        "broker": {k: int(stats.get(k, 0)) - int(broker0.get(k, 0))
                   for k in ("dropped_live", "results", "requeued", "trackers_released")},
    }
    run["goals"] = check_class_goals(run)
    return run


def _p(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p95": None}
    arr = np.asarray(values)
    return {"n": int(arr.size), "p50": round(float(np.percentile(arr, 50)), 1),
            "p95": round(float(np.percentile(arr, 95)), 1)}


def _per_service(cpu_s: dict[str, float], frames: int) -> dict[str, float]:
    """CPU ms per answered frame, instances of one service added up ('pose-1' + 'pose-2' -> 'pose')."""
    out: dict[str, float] = {}
    for label, seconds in cpu_s.items():
        service = label.rsplit("-", 1)[0]
        out[service] = out.get(service, 0.0) + 1000.0 * seconds / max(1, frames)
    return {k: round(v, 3) for k, v in out.items()}


def _broker_stats(supervisor: Supervisor) -> dict:
    """The broker's counters, and the pose workers' frames and BlazePose milliseconds (sums over workers)."""
    deadline = time.time() + 1.5 * supervisor.settings.heartbeat_s
    while time.time() < deadline:
        supervisor.pump_health(timeout_ms=100)
    pids = supervisor.pids("broker")
    out = dict(supervisor.monitor.stats_of(pids[0])) if pids else {}
    frames = pose_ms = 0.0
    for pid in supervisor.pids("pose"):
        stats = supervisor.monitor.stats_of(pid)
        frames += stats.get("frames", 0)
        pose_ms += stats.get("frames", 0) * stats.get("pose_ms_mean", 0.0)
    out.update(pose_frames=frames, pose_ms_total=pose_ms)
    return out
