"""Live state of every session, reduced from bus messages into what the pages show (pure: no sockets, no clock)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from common.exercises import CATALOGUE, NONE, display_name, is_hold
from common.features import NUM_LANDMARKS
from common.messages import (Classification, CoachUpdate, Cue, EndOfStream, Frame, HealthReport, Message,
                             SessionSummary)
from common.topology import SERVICE_NAMES

GENERAL_ADVICE = "Stand back so your whole body is in view."

# A session with no message for this long is shown as idle (its source may have died without an end).
IDLE_AFTER_S = 20.0
# Idle or ended sessions are forgotten after this long, so the instructor grid does not grow forever.
FORGET_AFTER_S = 600.0


@dataclass
class Event:
    """Something the pages should hear about; `session` "" means every page."""

    name: str
    data: dict
    session: str = ""


@dataclass
class SessionView:
    """The latest known state of one session."""

    session: str
    source: str = ""
    started: float = 0.0
    last_seen: float = 0.0
    ended: bool = False
    idle: bool = False
    end_reason: str = ""
    width: int = 0
    height: int = 0
    frames: int = 0            # preview frames seen (file/camera sources have video to watch)
    poses: int = 0             # classified frames seen
    pose_seq: int = -1
    exercise: str = NONE
    phase: str = ""
    last_exercise: str = NONE  # the latest real exercise, so the count does not vanish between reps
    reps: dict = field(default_factory=dict)
    hold_seconds: dict = field(default_factory=dict)
    set_number: int = 0
    reps_in_set: int = 0
    holding: bool = False
    cues: list = field(default_factory=list)
    form_score: float | None = None
    setup: list = field(default_factory=list)
    body_visible: bool = False
    events: list = field(default_factory=list)
    last_cue: str = ""
    last_correction: str = ""
    summary: dict | None = None

    @property
    def live(self) -> bool:
        return not self.ended and not self.idle


def current_exercise(view: SessionView) -> str:
    return view.exercise if view.exercise != NONE else view.last_exercise


def coach_view(view: SessionView) -> dict:
    """What a page shows for a session: the coach's numbers plus names and advice ready to display."""
    current = current_exercise(view)
    hold = is_hold(current)
    return {
        "session": view.session, "source": view.source, "live": view.live, "ended": view.ended,
        "idle": view.idle, "started": view.started, "last_seen": view.last_seen,
        "exercise": view.exercise, "exercise_name": display_name(view.exercise),
        "phase": view.phase, "current": current, "current_name": display_name(current),
        "is_hold": hold,
        "count": int(view.reps.get(current, 0)) if not hold else 0,
        "hold_s": round(float(view.hold_seconds.get(current, 0.0)), 1) if hold else 0.0,
        "reps": {k: int(v) for k, v in view.reps.items()},
        "hold_seconds": {k: round(float(v), 1) for k, v in view.hold_seconds.items()},
        "set_number": view.set_number, "reps_in_set": view.reps_in_set, "holding": view.holding,
        "cues": list(view.cues), "form_score": None if view.form_score is None else round(view.form_score),
        "setup": list(view.setup), "body_visible": view.body_visible, "events": list(view.events),
        "last_cue": view.last_cue, "last_correction": view.last_correction,
        "advice": CATALOGUE[current].camera_advice if current in CATALOGUE else GENERAL_ADVICE,
        "has_video": view.frames > 0, "width": view.width, "height": view.height,
    }


def session_card(view: SessionView) -> dict:
    """The short form of a session, for lists."""
    card = coach_view(view)
    card["summary"] = view.summary
    return card


def landmarks_for_page(raw: bytes) -> list:
    """float32 [33, 4] bytes -> [[x, y, visibility], ...] rounded for the wire; [] when there is no person."""
    if not raw:
        return []
    arr = np.frombuffer(raw, dtype=np.float32)
    if arr.size != NUM_LANDMARKS * 4:
        return []
    arr = arr.reshape(NUM_LANDMARKS, 4)
    if not np.isfinite(arr[:, :2]).all():
        return []
    out = np.round(arr[:, [0, 1, 3]].astype(np.float64), 3)
    return out.tolist()


class LiveState:
    """Reduces messages to per-session views; `apply` returns the events the pages need."""

    def __init__(self, idle_after_s: float = IDLE_AFTER_S, forget_after_s: float = FORGET_AFTER_S):
        self.idle_after_s = idle_after_s
        self.forget_after_s = forget_after_s
        self.sessions: dict[str, SessionView] = {}
        self.health: dict = {"services": [], "received_at": 0.0}
        self._last_coach: dict[str, dict] = {}

    # ------------------------------------------------------------------ reading
    def get(self, session: str) -> SessionView | None:
        return self.sessions.get(session)

    def cards(self, live_only: bool = False) -> list[dict]:
        views = sorted(self.sessions.values(), key=lambda v: v.started)
        return [session_card(v) for v in views if v.live or not live_only]

    # ------------------------------------------------------------------ writing
    def _view(self, session: str, now: float, events: list[Event]) -> SessionView:
        view = self.sessions.get(session)
        if view is None:
            view = SessionView(session=session, started=now, last_seen=now)
            self.sessions[session] = view
            events.append(Event("session", session_card(view), session))
        return view

    def apply(self, msg: Message, now: float) -> list[Event]:
        """Fold one message into the state; returns the events to fan out."""
        events: list[Event] = []
        if isinstance(msg, HealthReport):
            self.health = {"services": list(msg.services), "received_at": now}
            events.append(Event("health", self.health_view(now)))
            return events
        if not msg.session:
            return events
        view = self._view(msg.session, now, events)
        was_live = view.live
        view.last_seen = now
        view.idle = False
        if isinstance(msg, Frame):
            view.frames += 1
            view.source = msg.source or view.source
            view.width, view.height = msg.width or view.width, msg.height or view.height
        elif isinstance(msg, Classification):
            events.extend(self._classification(view, msg))
        elif isinstance(msg, CoachUpdate):
            events.extend(self._coach(view, msg))
        elif isinstance(msg, Cue):
            view.last_cue = msg.text
            events.append(Event("cue", {"session": view.session, "text": msg.text, "kind": msg.kind,
                                        "priority": msg.priority}, view.session))
        elif isinstance(msg, EndOfStream):
            view.end_reason = msg.reason
        elif isinstance(msg, SessionSummary):
            view.ended = True
            view.summary = dict(msg.summary)
            events.append(Event("ended", {"session": view.session, "summary": view.summary}, view.session))
        if was_live != view.live or (isinstance(msg, Frame) and view.frames == 1):
            events.append(Event("session", session_card(view), view.session))
        return events

    def _classification(self, view: SessionView, msg: Classification) -> list[Event]:
        if msg.seq < view.pose_seq:
            return []  # a late result: the page already drew a newer pose
        view.pose_seq = msg.seq
        view.poses += 1
        view.width, view.height = msg.width or view.width, msg.height or view.height
        view.exercise, view.phase = msg.exercise, msg.phase
        if msg.exercise != NONE:
            view.last_exercise = msg.exercise
        return [Event("pose", {"session": view.session, "seq": msg.seq, "exercise": msg.exercise,
                               "phase": msg.phase, "width": view.width, "height": view.height,
                               "lm": landmarks_for_page(msg.landmarks)}, view.session)]

    def _coach(self, view: SessionView, msg: CoachUpdate) -> list[Event]:
        view.exercise, view.phase = msg.exercise, msg.phase
        if msg.exercise != NONE:
            view.last_exercise = msg.exercise
        view.reps, view.hold_seconds = dict(msg.reps), dict(msg.hold_seconds)
        view.set_number, view.reps_in_set, view.holding = msg.set_number, msg.reps_in_set, msg.holding
        view.cues, view.setup, view.body_visible = list(msg.cues), list(msg.setup), msg.body_visible
        if msg.form_score is not None and math.isfinite(msg.form_score):
            view.form_score = msg.form_score
        view.events = list(msg.events)
        if msg.cues:
            view.last_correction = str(msg.cues[0])
        shown = coach_view(view)
        # The coach speaks after every frame; the pages only need to hear when something they show changed.
        comparable = {k: v for k, v in shown.items() if k not in ("last_seen",)}
        if self._last_coach.get(view.session) == comparable and not msg.events:
            return []
        self._last_coach[view.session] = comparable
        return [Event("coach", shown, view.session)]

    def note_source(self, session: str, source: str, width: int, height: int, now: float) -> list[Event]:
        """A source the UI itself relays (browser uploads never come back on the preview channel)."""
        events: list[Event] = []
        view = self._view(session, now, events)
        view.last_seen = now
        if view.source != source:
            view.source = source
            view.width, view.height = width or view.width, height or view.height
            events.append(Event("session", session_card(view), session))
        return events

    def note_audio(self, session: str, clip_id: int, text: str, kind: str, duration_s: float,
                   now: float) -> list[Event]:
        """A rendered cue is ready to play at /api/audio/<clip_id>.wav."""
        events: list[Event] = []
        if session:
            self._view(session, now, events).last_seen = now
        events.append(Event("audio", {"session": session, "id": clip_id, "text": text, "kind": kind,
                                      "duration_s": round(duration_s, 2), "url": f"/api/audio/{clip_id}.wav"},
                            session))
        return events

    def prune(self, now: float) -> list[Event]:
        """Mark silent sessions idle and forget old ones (called with the hub's clock)."""
        events: list[Event] = []
        for session, view in list(self.sessions.items()):
            silent = now - view.last_seen
            if silent > self.forget_after_s:
                del self.sessions[session]
                self._last_coach.pop(session, None)
                events.append(Event("gone", {"session": session}, session))
            elif silent > self.idle_after_s and not view.idle and not view.ended:
                view.idle = True
                events.append(Event("session", session_card(view), session))
        return events

    def health_view(self, now: float) -> dict:
        """The last health report with its age, so a page can tell a stale report from a fresh one."""
        received = self.health.get("received_at", 0.0)
        services = []
        for entry in self.health.get("services", []):
            if isinstance(entry, dict):
                services.append({"service": str(entry.get("service", "?")), "instance": str(entry.get("instance", "")),
                                 "alive": bool(entry.get("alive", False)),
                                 "health": str(entry.get("health", "ok")), "reason": str(entry.get("reason", "")),
                                 "age_s": float(entry.get("age_s", 0.0) or 0.0),
                                 "restarts": int(entry.get("restarts", 0) or 0), "pid": entry.get("pid"),
                                 "stats": entry.get("stats", {}) if isinstance(entry.get("stats"), dict) else {}})
        if services:
            # A service that never managed to heartbeat (crashing at start) is absent from the report: say so.
            reported = {s["service"] for s in services}
            services += [{"service": name, "instance": "", "alive": False, "age_s": None, "restarts": 0,
                          "pid": None, "stats": {}, "missing": True} for name in SERVICE_NAMES if name not in reported]
        return {"services": services, "report_age_s": None if not received else round(now - received, 1),
                "all_alive": bool(services) and all(s["alive"] for s in services),
                "all_healthy": bool(services) and all(s["alive"] and s.get("health", "ok") == "ok" for s in services)}
