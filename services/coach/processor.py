"""The coach: Classification / FrameSkipped / EndOfStream in, CoachUpdate, Cue and SessionSummary out."""
from __future__ import annotations

import logging

from common.config import Settings
from common.messages import (Classification, CoachUpdate, Cue, EndOfStream, FrameSkipped, Message,
                             SessionSummary)
from services.coach.session import CoachSession, Said
from common.history import HistoryWriter

logger = logging.getLogger(__name__)

IDLE_S = 120.0            # a session silent this long (receive time) is closed and forgotten


class CoachProcessor:
    """Pure apart from the store: times come from the messages; `now` (receive time) only drives idle expiry."""

    def __init__(self, store: HistoryWriter, settings: Settings, idle_s: float = IDLE_S):
        self.store = store
        self.settings = settings
        self.idle_s = idle_s
        self.sessions: dict[str, CoachSession] = {}
        self._last_heard: dict[str, float] = {}
        self._last_said: dict[str, dict[str, float]] = {}
        self.stats: dict[str, float] = {"frames": 0, "reps": 0, "cues": 0, "cues_throttled": 0, "sessions": 0,
                                        "ignored": 0}

    def process(self, msg: Message, now: float | None = None) -> list[Message]:
        """Handle one message; `now` is when it was received (defaults to its capture time)."""
        received = msg.ts_capture if now is None else now
        if isinstance(msg, Classification):
            return self._frame(msg, received)
        if isinstance(msg, FrameSkipped):
            session = self.sessions.get(msg.session)
            if session is None:
                return []
            self._last_heard[msg.session] = received
            result = session.tick(msg.ts_capture)
            return self._cues(session, msg, result.said)
        if isinstance(msg, EndOfStream):
            return self._end(msg)
        self.stats["ignored"] += 1
        key = f"ignored.{msg.TYPE or type(msg).__name__}"
        self.stats[key] = self.stats.get(key, 0) + 1
        return []

    def expire(self, now: float) -> list[Message]:
        """Close sessions not heard of for `idle_s` (a browser tab closed without an end of stream)."""
        out: list[Message] = []
        for session_id, heard in list(self._last_heard.items()):
            if now - heard > self.idle_s and session_id in self.sessions:
                session = self.sessions[session_id]
                logger.info("session %s idle for %.0f s: closing it", session_id, now - heard)
                out += self._end(EndOfStream(session=session_id, seq=0, ts_capture=session.last_ts, reason="idle",
                                             frames=session.frames_seen, fps=0.0))
        return out

    # ------------------------------------------------------------------ internals
    def _session(self, msg: Message) -> CoachSession:
        session = self.sessions.get(msg.session)
        if session is not None:
            return session
        # Live frames carry wall-clock capture times; offline (file) frames their media time from 0, which is
        # placed at the wall-clock time the first of them was sent.
        offset = 0.0 if msg.live else msg.ts_sent - msg.ts_capture
        restored = None
        if self.store.session_known(msg.session):
            restored = self.store.session_totals(msg.session)
            logger.info("session %s resumed from the store: %s", msg.session, restored)
        else:
            source = msg.source or ("live" if msg.live else "file")
            self.store.start_session(msg.session, msg.ts_capture + offset, source)
        session = CoachSession(msg.session, self.store, self.settings.set_pause_s, offset, restored)
        self.sessions[msg.session] = session
        self._last_said[msg.session] = {}
        self.stats["sessions"] += 1
        return session

    def _frame(self, msg: Classification, received: float) -> list[Message]:
        session = self._session(msg)
        self._last_heard[msg.session] = received
        self.stats["frames"] += 1
        result = session.frame(msg)
        if "rep" in result.events:
            self.stats["reps"] += 1
        update = CoachUpdate(session=msg.session, seq=msg.seq, ts_capture=msg.ts_capture, events=result.events,
                             **session.update_fields(msg.ts_capture))
        return [update, *self._cues(session, msg, result.said)]

    def _cues(self, session: CoachSession, msg: Message, said: list[Said]) -> list[Message]:
        """Each text is spoken at most once per cue_interval_s (capture time) in a session."""
        out: list[Message] = []
        last = self._last_said.setdefault(session.id, {})
        for item in said:
            when = last.get(item.text)
            if when is not None and msg.ts_capture - when < self.settings.cue_interval_s:
                self.stats["cues_throttled"] += 1
                continue
            last[item.text] = msg.ts_capture
            self.stats["cues"] += 1
            out.append(Cue(session=session.id, seq=msg.seq, ts_capture=msg.ts_capture, text=item.text,
                           kind=item.kind, priority=item.priority))
        return out

    def _end(self, msg: EndOfStream) -> list[Message]:
        session = self.sessions.pop(msg.session, None)
        self._last_heard.pop(msg.session, None)
        if session is None:
            # A stream with no frame at all still gets its (empty) summary.
            summary = {"frames": int(msg.frames), "fps": float(msg.fps),
                       "seconds": round(msg.frames / msg.fps, 3) if msg.fps > 0 else 0.0,
                       "segments": [], "totals": {}}
            return [SessionSummary(session=msg.session, seq=msg.seq, ts_capture=msg.ts_capture, summary=summary)]
        origin = session.origin()
        if msg.fps > 0 and msg.frames > 0:
            seconds = msg.frames / msg.fps
        else:
            seconds = max(0.0, session.last_ts - origin)
        end_ts = max(session.last_ts, origin + seconds if msg.fps > 0 else session.last_ts)
        said = session.finish(end_ts)
        cues = self._cues(session, EndOfStream(session=msg.session, seq=msg.seq, ts_capture=end_ts), said)
        self._last_said.pop(msg.session, None)
        summary = session.segments.summary(origin, msg.frames, msg.fps, seconds, session.totals())
        return [*cues, SessionSummary(session=msg.session, seq=msg.seq, ts_capture=end_ts, summary=summary)]
