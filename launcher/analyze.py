"""`fitness-trainer analyze`: run clips through the real services and report what the coach counted."""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import zmq

from common import bus as busmod
from common.config import PROJECT_ROOT, Settings
from common.messages import ProtocolError, SessionSummary
from services.capture.sources import SourceError, open_video
from launcher.annotate import Recording, render
from launcher.supervisor import ServiceSpec, Supervisor, pipeline_specs


# A clip whose frames stop moving through the pipeline for this long has failed.
STALL_TIMEOUT_S = 60.0


def ipc_settings(workdir: str, base: Settings | None = None, **overrides) -> Settings:
    """Settings whose endpoints are private ipc:// sockets in workdir, so analysis never meets a running `up`."""
    base = base or Settings.from_env()
    names = ["capture_ingest", "capture_preview", "broker_frontend", "broker_backend", "poses", "classified",
             "coach", "audio", "health_in", "health_out", "classified_in", "coach_in"]
    values = {n: f"ipc://{workdir}/{n}" for n in names}
    values.update(db_path=str(Path(workdir) / "analysis.sqlite3"), bind_host="", curve_dir="")
    values.update(overrides)
    return Settings(**{**base.__dict__, **values})


@dataclass
class ClipResult:
    video: str
    summary: dict | None = None
    error: str | None = None
    session: str = ""

    def as_json(self) -> dict:
        if self.error:
            return {"video": self.video, "error": self.error}
        s = self.summary
        return {"video": self.video, "frames": s["frames"], "fps": s["fps"], "seconds": s["seconds"],
                "segments": s["segments"], "totals": s["totals"]}


class Pipeline:
    """broker + pose workers + classifier + coach as processes, on private endpoints, for offline analysis."""

    def __init__(self, pose_workers: int = 2, settings: Settings | None = None, log_dir: str | None = None,
                 record: bool = False):
        self._tmp = tempfile.TemporaryDirectory(prefix="ft-analyze-")
        self.settings = settings or ipc_settings(self._tmp.name)
        self.log_dir = log_dir or str(Path(self._tmp.name) / "logs")
        self.supervisor = Supervisor(self.settings, pipeline_specs(self.settings, pose_workers, with_capture=False,
                                                                   with_speech=False, with_ui=False),
                                     log_dir=self.log_dir)
        self.failed = False
        self.ctx = zmq.Context.instance()
        self.summaries = self.ctx.socket(zmq.SUB)
        self.summaries.setsockopt(zmq.LINGER, 0)
        self.summaries.setsockopt(zmq.SUBSCRIBE, b"session_summary")
        self.summaries.connect(self.settings.coach)
        # --annotate: every classification and coach update of the clips, to draw them on the video afterwards.
        self.recordings: dict[str, Recording] = {}
        self.listeners = []
        if record:
            for endpoint, topic in ((self.settings.classified, b"classification"), (self.settings.coach,
                                                                                   b"coach_update")):
                sock = self.ctx.socket(zmq.SUB)
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.RCVHWM, 0)   # a clip's frames, not a live stream: lose none
                sock.setsockopt(zmq.SUBSCRIBE, topic)
                sock.connect(endpoint)
                self.listeners.append(sock)

    def __enter__(self) -> "Pipeline":
        self.supervisor.start_all()
        try:
            self.supervisor.wait_ready(["broker", "pose", "classifier", "coach", "relay"], timeout_s=90)
        except BaseException:   # not ready, or stopped by a signal meanwhile: nothing may be left running
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.summaries.close(linger=0)
        for sock in self.listeners:
            sock.close(linger=0)
        self.supervisor.stop_all()
        if self.failed and Path(self.log_dir).is_dir():
            # Keep the services' logs of a failed analysis: they say why.
            keep = PROJECT_ROOT / "var" / "logs" / f"analyze-{time.strftime('%Y%m%d-%H%M%S')}"
            shutil.copytree(self.log_dir, keep, dirs_exist_ok=True)
            print(f"fitness-trainer: service logs of this analysis kept in {keep}", file=sys.stderr)
        self._tmp.cleanup()

    def start_clip(self, path: str, session: str, exercise: str = "", max_fps: float = 0.0):
        # The capture starts in the project folder: a clip path is resolved where the user stands.
        args = ["--source", os.path.abspath(path), "--no-realtime", "--no-ingest", "--no-preview", "--exit-at-end",
                "--session", session]
        if exercise:
            args += ["--exercise", exercise]
        if max_fps:
            args += ["--max-fps", str(max_fps)]
        return self.supervisor.add(ServiceSpec("capture", "services.capture", args, restart=False))

    def run(self, clips: list[str], concurrency: int = 2, progress: bool = True, exercises: list[str] | None = None,
            max_fps: float = 0.0) -> list[ClipResult]:
        """Analyse clips, up to `concurrency` at a time; results in the order of `clips`. `exercises` (one per
        clip, "" = recognise it) are the exercises the clips are known to show; `max_fps` thins each clip to
        that frame rate."""
        results = {i: ClipResult(str(c)) for i, c in enumerate(clips)}
        todo = []
        total_frames = 0
        for i, clip in enumerate(clips):
            try:
                cap, _, frames = open_video(clip)
                cap.release()
                todo.append(i)
                total_frames += frames
            except SourceError as exc:
                results[i].error = str(exc)
                print(f"fitness-trainer: {exc}", file=sys.stderr)
        bar = _progress(total_frames, progress)
        running: dict[str, tuple[int, object, float, int]] = {}   # session -> (index, process, last move, sent)
        done_frames = 0
        while todo or running:
            while todo and len(running) < concurrency:
                i = todo.pop(0)
                session = f"analyze-{Path(clips[i]).stem}-{uuid.uuid4().hex[:6]}"
                exercise = exercises[i] if exercises else ""
                results[i].session = session
                running[session] = (i, self.start_clip(clips[i], session, exercise, max_fps), time.time(), 0)
            self.supervisor.pump_health(timeout_ms=0)
            self.supervisor.check(time.time())
            self._record()
            if self.summaries.poll(100):
                try:
                    _, msg = busmod.recv(self.summaries)
                except ProtocolError:
                    continue
                if isinstance(msg, SessionSummary) and msg.session in running:
                    i, _, _, sent = running.pop(msg.session)
                    results[i].summary = msg.summary
                    bar.update(max(0, msg.summary.get("frames", 0) - sent))
                    done_frames += msg.summary.get("frames", 0)
            now = time.time()
            for session, (i, proc, last, sent) in list(running.items()):
                stats = self.supervisor.monitor.stats_of(proc.pid)
                new_sent = int(stats.get("sent", sent)) if stats else sent
                if new_sent > sent:
                    bar.update(new_sent - sent)
                    running[session] = (i, proc, now, new_sent)
                elif proc.poll() not in (None, 0):
                    results[i].error = f"capture failed on {clips[i]} (exit code {proc.returncode})"
                elif now - last > STALL_TIMEOUT_S:
                    results[i].error = f"no progress on {clips[i]} for {STALL_TIMEOUT_S:.0f} s"
                if results[i].error:
                    self.failed = True
                    running.pop(session)
                    print(f"fitness-trainer: {results[i].error}", file=sys.stderr)
        bar.close()
        return [results[i] for i in range(len(clips))]


    def _record(self) -> None:
        for sock in self.listeners:
            while sock.poll(0):
                try:
                    _, msg = busmod.recv(sock)
                except ProtocolError:
                    continue
                self.recordings.setdefault(msg.session, Recording()).add(msg)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, unit="frame", desc="analyze", file=sys.stderr,
                disable=not enabled or not sys.stderr.isatty() and total < 1000)


def analyze(clips: list[str], pose_workers: int = 2, progress: bool = True, exercises: list[str] | None = None,
            max_fps: float = 0.0, annotate: str | None = None) -> list[ClipResult]:
    """Analyse clips through the real services; with `annotate` (one clip), write it with what was seen."""
    with Pipeline(pose_workers, record=annotate is not None) as pipeline:
        results = pipeline.run(clips, concurrency=max(1, pose_workers), progress=progress, exercises=exercises,
                               max_fps=max_fps)
        pipeline._record()
        recordings = pipeline.recordings
    if annotate is not None and results and not results[0].error:
        frames = render(clips[0], annotate, recordings.get(results[0].session, Recording()))
        print(f"fitness-trainer: {frames} annotated frames written to {annotate}", file=sys.stderr)
    return results


def main(args) -> int:
    exercise = getattr(args, "exercise", None) or ""
    annotate = getattr(args, "annotate", None)
    if annotate and len(args.clips) != 1:
        print("fitness-trainer: --annotate takes one clip", file=sys.stderr)
        return 2
    results = analyze(args.clips, args.pose_workers, progress=not args.no_progress,
                      exercises=[exercise] * len(args.clips), max_fps=getattr(args, "fps", None) or 0.0,
                      annotate=annotate)
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            if not args.json:
                continue
        if args.json:
            print(json.dumps(r.as_json()), flush=True)
        else:
            print(_human(r), flush=True)
    return 1 if failed else 0


def _human(r: ClipResult) -> str:
    s = r.summary
    lines = [f"{r.video}: {s['frames']} frames, {s['seconds']:.1f} s"]
    for seg in s["segments"]:
        what = f"{seg['hold_seconds']:.1f} s held" if seg["exercise"] == "plank" else f"{seg['reps']} reps"
        lines.append(f"  {seg['start_s']:6.1f}-{seg['end_s']:6.1f} s  {seg['exercise']:<13} {what}")
        for cue, n in seg.get("form_cues", {}).items():
            lines.append(f"      cue x{n}: {cue}")
    if not s["segments"]:
        lines.append("  no exercise recognised")
    return "\n".join(lines)
