"""The coach's state of one session: counters, holds, form, sets and setup, updated frame by frame."""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from common.exercises import COUNTED, EXERCISES, HOLDS, NONE
from common.features import as_array
from common.history import HistoryWriter
from common.messages import Classification
from common.rep_signals import measure_all
from services.coach.body import Body
from services.coach.exercise_tracker import CountedRep, ExerciseTracker
from services.coach.form_rules import in_posture
from services.coach.form_tracker import FormTracker
from services.coach.hold_timer import HoldTimer
from services.coach.sets import (PRIORITY, Announcement, SetRecord, SetTracker, hold_announcement,
                                 rep_announcement, set_announcement)
from services.coach.setup_checks import SetupMonitor, body_visible, check_setup
from services.coach.summary import SegmentLog


RECENT_CUES_S = 5.0      # corrections stay on screen this long (capture time)
HOLD_STORE_EVERY_S = 1.0  # a growing hold is written to the store this often
LOOKBACK_S = 3.0          # frames kept to backdate a hold to when the posture began (recognition needs a window)
# A stream that ends before the vote settles takes the reps of the exercise the classifier's level 1 named most
# on the frames of the last RAW_WINDOW_S if at least RAW_SHARE of them; when the whole stream was shorter than
# recognition needs (SHORT_STREAM_S: a recording of a rep or two), the exercise of level 1's last answer.
RAW_WINDOW_S = 4.0
RAW_SHARE = 0.4
SHORT_STREAM_S = 6.0


@dataclass
class Said:
    """Something the session wants said, with the capture time it belongs to."""

    text: str
    kind: str
    priority: int


@dataclass
class FrameResult:
    events: list[str]
    said: list[Said]


class CoachSession:
    """Pure apart from the store: every time comes from the messages (capture time)."""

    def __init__(self, session_id: str, store: HistoryWriter, set_pause_s: float, wall_offset: float,
                 restored: dict[str, dict] | None = None):
        self.id = session_id
        self.store = store
        self.wall_offset = wall_offset   # capture time + offset = seconds since the epoch (for the history)
        restored = restored or {}
        self.tracker = ExerciseTracker({ex: t.get("reps", 0) for ex, t in restored.items()})
        self.holds = {ex: HoldTimer(ex, total_s=restored.get(ex, {}).get("hold_seconds", 0.0)) for ex in HOLDS}
        self.forms = {ex: FormTracker(ex) for ex in EXERCISES}
        self.sets = SetTracker(set_pause_s, {ex: t.get("sets", 0) for ex, t in restored.items()})
        self.setup = SetupMonitor()
        self.segments = SegmentLog()
        self.exercise = NONE
        self.phase = ""
        self.body_visible = False
        self.form_score: float | None = None
        self.recent_cues: deque[tuple[float, str]] = deque(maxlen=8)
        self.first_ts: float | None = None
        self.first_seq = 0
        self.last_ts = 0.0
        self.frames_seen = 0
        self._recent: deque[tuple[float, str, Body]] = deque()
        self._raw: deque[tuple[float, str]] = deque()   # the classifier's per-frame answers, RAW_WINDOW_S back
        self._hold_ids: dict[str, int] = {}
        self._hold_stored_s: dict[str, float] = {}

    # ------------------------------------------------------------------ frames
    def frame(self, msg: Classification) -> FrameResult:
        now = msg.ts_capture
        if self.first_ts is None:
            self.first_ts, self.first_seq = now, msg.seq
        self.last_ts = max(self.last_ts, now)
        self.frames_seen += 1
        events: list[str] = []
        said: list[Said] = []
        body = Body.from_landmarks(msg.landmarks, msg.width, msg.height)
        recognised = msg.exercise if msg.exercise in EXERCISES else NONE
        # Recognition lost in a set whose reps go on (a view the model does not know): still that set.
        exercise = recognised if recognised != NONE else (self.tracker.set_in_progress(now) or NONE)
        for problem in self.setup.update(now, check_setup(body, exercise, msg.dark_share, msg.bright_share)):
            said.append(Said(problem.text, "setup", PRIORITY["setup"]))
        self._close_paused_set(now, events, said)
        if exercise != self.exercise and self.exercise in self.forms:
            self.forms[self.exercise].reset()  # a half-seen rep of the previous exercise is not judged
        # The phase level 2 gives the recognised exercise; in a set going on without recognition, its counter's.
        self.exercise = exercise
        self.phase = msg.phase if exercise == recognised else self.tracker.phase(exercise)
        self.segments.observe(now, exercise)
        self.body_visible = exercise != NONE and body_visible(body, exercise)
        for ex, timer in self.holds.items():
            holding = ex == exercise and self.body_visible and in_posture(body, ex)
            self._update_hold(now, ex, timer, holding, events, said)
        self._update_reps(now, msg, recognised, exercise, body, events, said)
        if exercise in HOLDS and self.body_visible and self.holds[exercise].holding:
            form = self.forms[exercise]
            for rule in form.observe(body, msg.phase or "hold", live=True):
                said.append(self._correction(now, exercise, rule.cue))
        self._remember(now, msg.raw_exercise, body)
        return FrameResult(events, said)

    @property
    def counts(self) -> dict[str, int]:
        return self.tracker.counts

    def tick(self, now: float) -> FrameResult:
        """Time passed without a usable frame (a skipped frame)."""
        events: list[str] = []
        said: list[Said] = []
        self.last_ts = max(self.last_ts, now)
        self._close_paused_set(now, events, said)
        return FrameResult(events, said)

    def finish(self, now: float) -> list[Said]:
        """End of stream: complete what is in progress, close the set and the session in the store."""
        said: list[Said] = []
        events: list[str] = []
        self.last_ts = max(self.last_ts, now)
        for rep in self.tracker.flush(self._likely_exercise()):
            self._count(rep, events, said)
        for ex, timer in self.holds.items():
            for ev in timer.finish(now):
                self._hold_event(ex, timer, ev, events, said)
        record = self.sets.close()
        if record is not None:
            said.append(self._set_closed(record))
        self.store.end_session(self.id, self.wall(self.last_ts))
        return said

    def _likely_exercise(self) -> str:
        """The counted exercise level 1 named most on recent frames (RAW_SHARE of them; in a short stream, the last
        one it named)."""
        named = Counter(raw for _, raw in self._raw if raw in COUNTED)
        if not named:
            return NONE
        if self.first_ts is not None and self.last_ts - self.first_ts < SHORT_STREAM_S:
            # A short stream's windows grow with it: the last answer saw the most of the movement.
            return next(raw for _, raw in reversed(self._raw) if raw in COUNTED)
        best, n = named.most_common(1)[0]
        return best if n >= RAW_SHARE * len(self._raw) else NONE

    def _remember(self, now: float, raw_exercise: str, body: Body | None) -> None:
        if body is not None:
            self._recent.append((now, raw_exercise, body))
            self._raw.append((now, raw_exercise))
        while self._recent and now - self._recent[0][0] > LOOKBACK_S:
            self._recent.popleft()
        while self._raw and now - self._raw[0][0] > RAW_WINDOW_S:
            self._raw.popleft()

    # ------------------------------------------------------------------ reps
    def _update_reps(self, now: float, msg: Classification, recognised: str, exercise: str, body: Body | None,
                     events: list[str], said: list[Said]) -> None:
        """Every exercise's counters see every frame; the recognised (or chosen) exercise's reps are counted, and a
        set's reps go on being counted while its movement does (ExerciseTracker). `exercise`: the one on screen."""
        landmarks = as_array(msg.landmarks) if body is not None else None
        aspect = msg.width / msg.height if msg.width > 0 and msg.height > 0 else 1.0
        credited = self.tracker.update(now, measure_all(landmarks, aspect), recognised)
        if exercise in COUNTED:
            # Form is judged in the phase the movement itself is in (the counter's), rep by rep.
            phase = self.tracker.phase(exercise)
            form = self.forms[exercise]
            if phase == "" or not self.body_visible or body is None:
                if phase == "":
                    form.reset()  # frames before the trainee settled into position say nothing about a rep
            else:
                for rule in form.observe(body, phase, live=phase == "end"):
                    said.append(self._correction(now, exercise, rule.cue))
        for rep in credited:
            self._count(rep, events, said)

    def _count(self, rep: CountedRep, events: list[str], said: list[Said]) -> None:
        verdict = self.forms[rep.exercise].close()
        self.form_score = verdict.score
        for text in verdict.late_cues:
            said.append(self._correction(rep.ended_at, rep.exercise, text))
        closed, opened = self.sets.activity(rep.ended_at, rep.exercise, started_at=rep.started_at)
        if closed is not None:
            events.append("set_end")
            said.append(self._set_closed(closed))
        current = self.sets.current
        if opened:
            current.store_id = self.store.open_set(self.id, rep.exercise, current.number, self.wall(rep.started_at))
        current.reps += 1
        self.store.record_rep(self.id, current.store_id, rep.exercise, rep.number, self.wall(rep.ended_at),
                              round(rep.duration_s, 3), rep.range_of_motion, verdict.score, verdict.cues)
        self.segments.credit(rep.exercise, reps=1)
        events.append("rep")
        announcement = rep_announcement(rep.number)
        if announcement is not None:
            said.append(Said(announcement.text, announcement.kind, announcement.priority))

    def _correction(self, now: float, exercise: str, text: str) -> Said:
        self.recent_cues.append((now, text))
        self.segments.credit(exercise, cue=text)
        self.store.record_cue(self.id, self.wall(now), exercise, "form", text)
        return Said(text, "form", PRIORITY["form"])

    # ------------------------------------------------------------------ holds
    def _update_hold(self, now: float, exercise: str, timer: HoldTimer, holding: bool,
                     events: list[str], said: list[Said]) -> None:
        if not holding and not timer.holding:
            return
        for ev in timer.update(now, holding):
            if ev.kind == "start":
                # Recognition needs a window of motion: the hold began when the body took the posture.
                earliest = now
                for ts, _, b in reversed(self._recent):
                    if not (body_visible(b, exercise) and in_posture(b, exercise)):
                        break
                    earliest = ts
                timer.backdate(earliest)
            self._hold_event(exercise, timer, ev, events, said)
        if timer.holding and timer.current_s() >= timer.timing.min_hold_s and holding:
            closed, opened = self.sets.activity(now, exercise, started_at=timer.started_at)
            if closed is not None:
                events.append("set_end")
                said.append(self._set_closed(closed))
            current = self.sets.current
            if opened:
                current.store_id = self.store.open_set(self.id, exercise, current.number, self.wall(timer.started_at))
            if exercise not in self._hold_ids:
                self._hold_ids[exercise] = self.store.start_hold(self.id, current.store_id, exercise,
                                                                 self.wall(timer.started_at))
                self._hold_stored_s[exercise] = 0.0
            seconds = timer.current_s()
            if seconds - self._hold_stored_s[exercise] >= HOLD_STORE_EVERY_S:
                self.store.update_hold(self._hold_ids[exercise], round(seconds, 2))
                self._hold_stored_s[exercise] = seconds

    def _hold_event(self, exercise: str, timer: HoldTimer, ev, events: list[str], said: list[Said]) -> None:
        if ev.kind == "milestone":
            events.append("hold_milestone")
            a = hold_announcement(ev.seconds)
            said.append(Said(a.text, a.kind, a.priority))
            # Each stretch of a long hold is judged on its own, so a correction can come again later.
            form = self.forms[exercise].close()
            if form.score is not None:
                self.form_score = form.score
        elif ev.kind == "end":
            hold_id = self._hold_ids.pop(exercise, None)
            self._hold_stored_s.pop(exercise, None)
            if ev.hold is None:
                if hold_id is not None:
                    self.store.delete_hold(hold_id)
                return
            if hold_id is not None:
                self.store.update_hold(hold_id, ev.hold.seconds)
            if self.sets.current is not None and self.sets.current.exercise == exercise:
                self.sets.current.hold_seconds += ev.hold.seconds
            self.segments.credit(exercise, hold_seconds=ev.hold.seconds)
            form = self.forms[exercise].close()
            if form.score is not None:
                self.form_score = form.score
            events.append("hold_end")

    # ------------------------------------------------------------------ sets
    def _close_paused_set(self, now: float, events: list[str], said: list[Said]) -> None:
        if self.sets.current is not None and self.sets.current.exercise in HOLDS \
                and self.holds[self.sets.current.exercise].holding:
            return  # a plank in progress is never a pause
        record = self.sets.tick(now)
        if record is not None:
            events.append("set_end")
            said.append(self._set_closed(record))

    def _set_closed(self, record: SetRecord) -> Said:
        if record.store_id is not None:
            self.store.close_set(record.store_id, self.wall(record.ended_at))
        a: Announcement = set_announcement(record)
        return Said(a.text, a.kind, a.priority)

    # ------------------------------------------------------------------ views
    def wall(self, ts: float) -> float:
        return ts + self.wall_offset

    def origin(self) -> float:
        """Capture time of the stream's first frame (frame 0), even if that frame itself was lost."""
        if self.first_ts is None:
            return 0.0
        if self.first_seq and self.frames_seen > 1 and self.last_ts > self.first_ts:
            # Frames are evenly spaced in capture time: step back over the frames lost before the first one seen.
            return self.first_ts - self.first_seq * (self.last_ts - self.first_ts) / max(1, self.frames_seen - 1)
        return self.first_ts

    def totals(self) -> dict[str, dict]:
        out = {ex: {"reps": n, "hold_seconds": 0.0} for ex, n in self.counts.items()}
        out.update({ex: {"reps": 0, "hold_seconds": round(t.total_s(), 2)} for ex, t in self.holds.items()})
        return out

    def update_fields(self, now: float) -> dict:
        """The CoachUpdate fields of the session's current state."""
        current = self.sets.current
        hold = self.holds.get(self.exercise)
        return {
            "exercise": self.exercise, "phase": self.phase,
            "reps": {ex: n for ex, n in self.counts.items() if n},
            "hold_seconds": {ex: round(t.total_s(), 1) for ex, t in self.holds.items() if t.total_s() > 0},
            "set_number": current.number if current else 0,
            "reps_in_set": current.reps if current else 0,
            "holding": bool(hold is not None and hold.holding),
            "cues": [text for ts, text in self.recent_cues if now - ts <= RECENT_CUES_S],
            "form_score": self.form_score,
            "setup": [p.text for p in self.setup.active],
            "body_visible": self.body_visible,
            **self._signal_fields(),
        }

    def _signal_fields(self) -> dict:
        value, down, up = self.tracker.signal(self.exercise)
        if value is None:
            return {}
        return {"rep_signal": round(value, 3), "rep_bands": [None if b is None else round(b, 3) for b in (down, up)]}
