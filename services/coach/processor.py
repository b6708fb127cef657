"""The coach: Classification / FrameSkipped / EndOfStream in, CoachUpdate, Cue and SessionSummary out."""
from __future__ import annotations

import logging
from typing import Callable

from common.config import Settings
from common.messages import (Classification, CoachUpdate, Cue, EndOfStream, FrameSkipped, Message,
                             SessionSummary)
from services.coach.session import CoachSession, Said
from services.coach.sets import SetRecord
from common.history import HistoryWriter

logger = logging.getLogger(__name__)

# A session that brought this many frames is a trainee's: when the table is full, newcomers are closed first.
ESTABLISHED_FRAMES = 30


class CoachProcessor:
    """Pure apart from the store: times come from the messages; `now` (receive time) only drives idle expiry.

    The store is a HistoryWriter, or the coach service's BufferedHistory (same API) that survives a failing file.
    """

    def __init__(self, store: HistoryWriter, settings: Settings, idle_s: float | None = None,
                 max_sessions: int | None = None, mine: Callable[[str], bool] | None = None):
        self.store = store
        # Which stored sessions are this coach's to finish (coaches share one store, each its shard of sessions).
        self.mine = mine or (lambda _session: True)
        self.settings = settings
        self.idle_s = settings.session_idle_s if idle_s is None else idle_s
        self.max_sessions = settings.max_sessions if max_sessions is None else max_sessions
        self.sessions: dict[str, CoachSession] = {}
        self._last_heard: dict[str, float] = {}
        self._last_said: dict[str, dict[str, float]] = {}
        # Sessions the store has open that no message has brought back yet: session -> (last activity, since)
        self._dormant: dict[str, tuple[float, float]] = {}
        self.stats: dict[str, float] = {"frames": 0, "reps": 0, "cues": 0, "cues_throttled": 0, "sessions": 0,
                                        "ignored": 0, "resumed": 0, "sessions_evicted": 0}

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

    def adopt_open_sessions(self, now: float) -> None:
        """At start: sessions the store still has open (their coach was killed) are ours to finish. A recent one is
        kept dormant: its trainee's next frame resumes it (counts and set), or it is closed once idle. An old one
        is over: it is closed at its last activity."""
        for row in self.store.open_sessions():
            if row["id"] in self.sessions or row["id"] in self._dormant or not self.mine(row["id"]):
                continue
            if now - row["last_activity"] > self.idle_s or len(self._dormant) >= self.max_sessions:
                self.store.end_session(row["id"], row["last_activity"])
            else:
                self._dormant[row["id"]] = (row["last_activity"], now)
        if self._dormant:
            logger.info("%d sessions left open by the previous coach wait for their trainees", len(self._dormant))

    def expire(self, now: float) -> list[Message]:
        """Close sessions not heard of for `idle_s` (a browser tab closed without an end of stream)."""
        out: list[Message] = []
        for session_id, heard in list(self._last_heard.items()):
            if now - heard > self.idle_s and session_id in self.sessions:
                logger.info("session %s idle for %.0f s: closing it", session_id, now - heard)
                out += self._close(session_id, "idle")
        for session_id, (last_activity, since) in list(self._dormant.items()):
            if now - since > self.idle_s:
                self._end_dormant(session_id)
        return out

    def close_all(self) -> list[Message]:
        """A clean stop: every session ends as if its stream had (ended_at set, its last set closed and announced)."""
        out: list[Message] = []
        for session_id in list(self.sessions):
            out += self._close(session_id, "stopped")
        for session_id in list(self._dormant):
            self._end_dormant(session_id)
        return out

    def _end_dormant(self, session_id: str) -> None:
        last_activity, _ = self._dormant.pop(session_id)
        self.store.end_session(session_id, last_activity)

    def _close(self, session_id: str, reason: str) -> list[Message]:
        session = self.sessions[session_id]
        return self._end(EndOfStream(session=session_id, seq=0, ts_capture=session.last_ts, reason=reason,
                                     frames=session.frames_seen, fps=0.0))

    # ------------------------------------------------------------------ internals
    def _session(self, msg: Message) -> CoachSession:
        session = self.sessions.get(msg.session)
        if session is not None:
            return session
        # Live frames carry wall-clock capture times; offline (file) frames their media time from 0, which is
        # placed at the wall-clock time the first of them was sent.
        offset = 0.0 if msg.live else msg.ts_sent - msg.ts_capture
        self._dormant.pop(msg.session, None)
        restored = self.store.restore(msg.session)
        if restored is not None:
            if not msg.live:
                offset = restored["started_at"] or offset   # the media time of a resumed clip starts where it did
            if restored["ended_at"] is not None:
                self.store.reopen_session(msg.session)    # stopped, and the trainee goes on after the restart
            logger.info("session %s resumed from the store: %s", msg.session, restored["totals"])
            self.stats["resumed"] += 1
        else:
            source = msg.source or ("live" if msg.live else "file")
            self.store.start_session(msg.session, msg.ts_capture + offset, source)
        session = CoachSession(msg.session, self.store, self.settings.set_pause_s, offset,
                               restored["totals"] if restored else None)
        if restored is not None:
            self._resume_set(session, restored["last_set"], msg.ts_capture)
        self.sessions[msg.session] = session
        self._last_said[msg.session] = {}
        self.stats["sessions"] += 1
        return session

    def _resume_set(self, session: CoachSession, last: dict | None, now: float) -> None:
        """The set the trainee was in when the coach restarted goes on (same number, its reps so far), unless the
        pause since its last rep has already closed it: a restart must not split a set in two."""
        if last is None:
            return
        ended = last["ended_at"] - session.wall_offset   # back to capture time
        if now - ended > self.settings.set_pause_s:
            return
        session.sets.current = SetRecord(last["exercise"], last["number"], last["started_at"] - session.wall_offset,
                                         ended, reps=last["reps"], hold_seconds=last["hold_seconds"],
                                         store_id=last["id"])

    def _make_room(self, session_id: str) -> list[Message]:
        """A new session beyond max_sessions closes the newcomer heard from longest ago (a flood of one-frame
        sessions replaces only its own), or else the session heard from longest ago."""
        if session_id in self.sessions or len(self.sessions) < self.max_sessions:
            return []
        newcomers = [s for s, session in self.sessions.items() if session.frames_seen < ESTABLISHED_FRAMES]
        oldest = min(newcomers or self.sessions, key=lambda s: self._last_heard.get(s, 0.0))
        logger.warning("%d sessions open: closing %s, heard from longest ago", len(self.sessions), oldest)
        self.stats["sessions_evicted"] += 1
        return self._close(oldest, "evicted")

    def _frame(self, msg: Classification, received: float) -> list[Message]:
        evicted = self._make_room(msg.session)
        if evicted:
            return evicted + self._frame(msg, received)
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
