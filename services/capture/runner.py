"""Capture runner: a local source (file/camera) and/or browser frames relayed by the UI, sent to the broker."""
from __future__ import annotations

import argparse
import logging
import time
import uuid
from pathlib import Path

import zmq

from common import bus
from common.config import Settings
from common.messages import Credit, EndOfStream, Frame
from common.service import ServiceRunner, service_main
from services.capture.frames import rate_slot
from services.capture.processor import CreditWindow, IngestGate, SessionEncoder
from services.capture.sources import CameraSource, FileSource, SourceError

logger = logging.getLogger(__name__)

SETTINGS = ("source", "exercise", "max_fps", "capture_ingest", "capture_preview", "broker_frontend", "health_in", "max_side",
            "jpeg_quality", "realtime", "loop", "offline_window", "bind_host", "curve_dir")


class CaptureRunner(ServiceRunner):
    def __init__(self, settings: Settings, session: str | None = None, ingest: bool = True,
                 preview: bool = True, exit_at_end: bool = False, **kwargs):
        # A capture that exits at the end of its file must not exit before its last frames and its end of stream
        # have left: ZeroMQ honours a socket's linger only while its context terminates, and a process that simply
        # exits drops what is still queued (under load a session then never ended: "no progress" in `eval`). Its
        # own context, terminated at close, waits for them (up to the linger set in _finish).
        self._own_context = zmq.Context() if exit_at_end and kwargs.get("context") is None else None
        if self._own_context is not None:
            kwargs["context"] = self._own_context
        super().__init__("capture", settings, **kwargs)
        self.poll_ms = 5  # file sources are paced to the frame; 50 ms polls would bunch frames up
        self.exit_at_end = exit_at_end
        self.dealer = self.bus.socket(zmq.DEALER, settings.broker_frontend, bind=False, hwm=50)
        self.on(self.dealer, self._on_broker)
        self.preview = self.bus.socket(zmq.PUB, settings.capture_preview, bind=True, hwm=5) if preview else None
        self.gate = IngestGate()
        if ingest:
            self.ingest = self.bus.socket(zmq.PULL, settings.capture_ingest, bind=True, hwm=50)
            self.on(self.ingest, self._on_ingest)
        self.local = None
        self.stats.update(sent=0, dropped=0, ingested=0, preview_dropped=0)
        self._open_local(settings.source, session)
        self.every_loop(self._pump)

    # ------------------------------------------------------------------------------ local source
    def _open_local(self, source: str, session: str | None) -> None:
        if source in ("", "webcam", "browser"):
            return
        try:
            if source.isdigit():
                self.local = CameraSource(int(source))
                name, live = f"camera:{source}", True
            else:
                self.local = FileSource(source, loop=self.settings.loop)
                name, live = f"file:{source}", self.settings.realtime
        except SourceError as exc:
            # The trainer keeps serving browsers; the user sees exactly what is wrong.
            logger.error("%s", exc)
            self.stats["source_error"] = str(exc)
            if self.exit_at_end:
                self.close()
                raise
            return
        session = session or f"{'cam' if source.isdigit() else Path(source).stem}-{uuid.uuid4().hex[:6]}"
        self.encoder = SessionEncoder(session, name, live, self.settings.max_side, self.settings.jpeg_quality,
                                      self.settings.exercise)
        self.window = CreditWindow(self.settings.offline_window)
        self.frames = self.local.frames()
        self.started = time.time()
        self.source_frames = 0   # frames read from the source (sent or skipped); paces a live file
        self.fps = getattr(self.local, "fps", 30.0)
        self._last_slot = -1
        self.stats.update(session=session, total_frames=getattr(self.local, "frame_count", 0))
        logger.info("capturing %s as session %s (%s)", name, session, "live" if live else "offline, lossless")

    def _pump(self, now: float) -> None:
        """Send the local source's frames that are due (live: at media time; offline: while credit lasts)."""
        if self.local is None:
            return
        live = self.encoder.live
        if isinstance(self.local, CameraSource):
            item = self.local.poll()
            if item is not None:
                self._send(self.encoder.frame(item[0], item[1]), block=False)
                self.stats["camera_skipped"] = self.local.skipped
            return
        while True:
            if live:
                due = self.started + self.source_frames / self.fps
                if now < due:
                    return
            if not live and self.window.available <= 0:
                return
            try:
                image, media_t = next(self.frames)
                self.source_frames += 1
            except StopIteration:
                self._finish("eof")
                return
            if self._thinned(media_t):
                continue
            if not live:
                self.window.take()
            # Live frames carry wall-clock capture time (latency); offline frames their media time (exact
            # durations however fast the workers go).
            ts = time.time() if live else media_t
            frame = self.encoder.frame(image, ts)
            self._send(frame, block=not live)
            if live:
                # Never catch up on a backlog: a late file source skips ahead, like a camera would. Skipped
                # frames get no sequence number, so downstream never waits for a frame that was not sent.
                behind = int((time.time() - self.started) * self.fps) - self.source_frames
                for _ in range(max(0, behind)):
                    if next(self.frames, None) is None:
                        break
                    self.source_frames += 1
                    self.stats["dropped"] += 1
                return

    def _thinned(self, media_t: float) -> bool:
        """With max_fps: the frames a slower camera would not have delivered (one per 1/max_fps of media time)."""
        if not self.settings.max_fps:
            return False
        slot = int(rate_slot(media_t, self.settings.max_fps))
        if slot == self._last_slot:
            return True
        self._last_slot = slot
        return False

    def _send(self, frame: Frame, block: bool) -> None:
        if bus.send(self.dealer, frame, block=block):
            self.stats["sent"] += 1
        else:
            self.stats["dropped"] += 1
        if self.preview is not None and not bus.send(self.preview, frame, block=False):
            self.stats["preview_dropped"] += 1

    def _finish(self, reason: str) -> None:
        fps = min(self.fps, self.settings.max_fps) if self.settings.max_fps else self.fps
        end = self.encoder.end(reason, fps, time.time() if self.encoder.live else self.encoder.seq / fps)
        bus.send(self.dealer, end)
        logger.info("session %s: end of source after %d frames", end.session, end.frames)
        self.local.close()
        self.local = None
        if self.exit_at_end:
            # Give the end-of-stream time to leave before the socket closes.
            self.dealer.setsockopt(zmq.LINGER, 2000)
            self.stop.set()

    # ------------------------------------------------------------------------------ sockets
    def _on_broker(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is not None and isinstance(got[1], Credit) and self.local is not None:
            self.window.give(got[1].credit)

    def _on_ingest(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is None:
            return
        try:
            msg = self.gate.check(got[1])
        except ValueError as exc:   # BadFrame included
            self.faults.record("bad_ingest", str(exc))
            return
        self.stats["ingested"] += 1
        if not bus.send(self.dealer, msg, block=isinstance(msg, EndOfStream)):
            self.stats["dropped"] += 1

    def close(self) -> None:
        if self.local is not None:
            self.local.close()
            self.local = None
        super().close()
        if self._own_context is not None:
            self._own_context.term()   # every socket of it is closed: returns once the queued messages are out
            self._own_context = None


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", help="Session id of the local source (default: derived from it)")
    parser.add_argument("--no-ingest", action="store_true", help="Do not accept browser frames from the UI")
    parser.add_argument("--no-preview", action="store_true", help="Do not publish preview frames")
    parser.add_argument("--exit-at-end", action="store_true",
                        help="Exit when the file source ends (used by `fitness-trainer analyze`)")


def build(settings: Settings, args: argparse.Namespace) -> CaptureRunner:
    try:
        return CaptureRunner(settings, session=args.session, ingest=not args.no_ingest,
                             preview=not args.no_preview, exit_at_end=args.exit_at_end)
    except SourceError as exc:
        raise SystemExit(f"capture: {exc}") from None


def main(argv=None) -> int:
    return service_main("capture", "Publishes frames from a video file, a camera, or the trainee's browser",
                        SETTINGS, build, extra_args=_extra, argv=argv)
