"""The UI's one bus thread: subscribes to previews, poses, coach, audio and health, and fans them out to pages."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import zmq

from common.messages import (Audio, Classification, CoachUpdate, Cue, EndOfStream, Frame, FrameSkipped,
                             HealthReport, SessionSummary, topic_of)
from common.service import ServiceRunner
from services.ui.media import AudioStore, FrameStore
from services.ui.sse import Broadcaster, ClientQueue
from services.ui.state import LiveState, coach_view
from services.ui.tabs import TabRegistry, pose_payload

logger = logging.getLogger(__name__)

# Which messages each subscription carries; anything else arriving there is ignored.
_CHANNELS = {
    "capture_preview": (Frame, EndOfStream),
    "classified": (Classification, FrameSkipped),   # skips answer a trainee tab's frame too
    "coach": (CoachUpdate, Cue, SessionSummary),
    "audio": (Audio,),
    "health_out": (HealthReport,),
}
PRUNE_EVERY_S = 1.0


class LiveHub:
    """Owns the SUB sockets (through a ServiceRunner, which also heartbeats as service "ui").

    The bus thread is the only writer of the live state; web requests read it under `lock`.
    """

    def __init__(self, settings, context: zmq.Context | None = None, clock: Callable[[], float] = time.time,
                 instance: str | None = None):
        self.settings = settings
        self.clock = clock
        self.state = LiveState()
        self.broadcaster = Broadcaster()
        self.frames = FrameStore()
        self.audio = AudioStore()
        self.lock = threading.Lock()
        self.tabs = TabRegistry(settings.ui_max_sessions, settings.ui_frames_in_flight, settings.ui_session_idle_s)
        self.extra_stats: list[Callable[[], dict]] = []
        self.runner = ServiceRunner("ui", settings, instance=instance, context=context)
        self._accepts: dict[zmq.Socket, tuple[type, ...]] = {}
        for name, types in _CHANNELS.items():
            sock = self.runner.bus.socket(zmq.SUB, getattr(settings, name), bind=False,
                                          subscribe=[topic_of(t) for t in types])
            self._accepts[sock] = types
            self.runner.on(sock, self._handle)
        self.runner.every_loop(self._tick)
        self._next_prune = 0.0
        self.received = 0
        self._thread = threading.Thread(target=self._run, name="ui-hub", daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LiveHub":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.runner.run()
        except Exception:
            logger.exception("ui hub crashed")
            raise

    def stop(self, timeout: float = 5.0) -> None:
        self.runner.stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        else:
            self.runner.close()
        self.broadcaster.close_all()
        self.frames.wake_all()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------ bus thread
    def _handle(self, sock: zmq.Socket) -> None:
        got = self.runner.receive(sock)
        if got is None:
            return
        msg = got[1]
        # A prefix subscription to "frame" also matches "frame_skipped": keep only what this channel is for.
        if not isinstance(msg, self._accepts[sock]):
            return
        self.received += 1
        now = self.clock()
        # A trainee tab hears about its own frame first: the answer carries the pose it draws on that frame.
        if isinstance(msg, FrameSkipped):
            self.tabs.skipped(msg.session, msg.seq)
            return
        if isinstance(msg, Classification):
            self.tabs.answered(msg.session, msg.seq, lambda: pose_payload(msg), now)
        with self.lock:
            if isinstance(msg, Frame) and msg.jpeg:
                self.frames.put(msg.session, msg.jpeg)
            if isinstance(msg, Audio):
                clip_id = self.audio.add(msg.session, msg.wav)
                events = self.state.note_audio(msg.session, clip_id, msg.text, msg.kind, msg.duration_s, now)
            else:
                events = self.state.apply(msg, now)
        for event in events:
            self.broadcaster.publish(event, now)

    def _tick(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_S
        with self.lock:
            events = self.state.prune(now)
            live = sum(1 for v in self.state.sessions.values() if v.live)
        for event in events:
            if event.name == "gone":
                self.frames.forget(event.session)
            self.broadcaster.publish(event, now)
        stats = {"sessions_live": live, "sse_clients": self.broadcaster.client_count,
                 "events": self.broadcaster.published, "received": self.received, "tabs.live": self.tabs.live,
                 **self.tabs.stats}
        for source in self.extra_stats:
            stats.update(source())
        self.runner.stats.update(stats)

    # ------------------------------------------------------------------ web threads
    def note_browser_session(self, session: str, width: int, height: int) -> None:
        """The relay sent this session's first frame: list it at once, as a browser camera."""
        now = self.clock()
        with self.lock:
            events = self.state.note_source(session, "browser", width, height, now)
        for event in events:
            self.broadcaster.publish(event, now)

    def browser_frame(self, session: str, jpeg: bytes, width: int, height: int) -> None:
        """A browser frame the relay sent on: keep it for viewers (the instructor's card), like a preview."""
        now = self.clock()
        with self.lock:
            self.frames.put(session, jpeg)
            events = self.state.apply(Frame(session=session, ts_capture=now, width=width, height=height,
                                            source="browser", jpeg=jpeg), now)
        for event in events:
            self.broadcaster.publish(event, now)

    def subscribe(self, session: str | None, poses: str) -> tuple[ClientQueue, dict]:
        """A new SSE client plus the state it starts from (taken together, so no event falls between)."""
        with self.lock:
            client = self.broadcaster.subscribe(session, poses)
            snapshot = self._snapshot(session)
        return client, snapshot

    def snapshot(self, session: str | None = None) -> dict:
        with self.lock:
            return self._snapshot(session)

    def _snapshot(self, session: str | None) -> dict:
        now = self.clock()
        cards = self.state.cards()
        if session is not None:
            view = self.state.get(session)
            cards = [c for c in cards if c["session"] == session]
            current = coach_view(view) if view is not None else None
        else:
            current = None
        return {"sessions": cards, "session": current, "health": self.state.health_view(now), "now": now}
