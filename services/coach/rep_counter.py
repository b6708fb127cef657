"""Counts the reps of one exercise from the voted phase: one rep per settled start -> end -> start cycle."""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from common.exercises import CATALOGUE, END, START, RepTiming

logger = logging.getLogger(__name__)


@dataclass
class Rep:
    """One counted rep."""

    exercise: str
    number: int                     # 1-based count of this exercise in the session
    started_at: float               # capture time the trainee left the start phase
    ended_at: float                 # capture time they were back in the start phase
    range_of_motion: float | None   # degrees the rep angle swung, None when not measurable

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at


class RepCounter:
    """The counter of one exercise in one session; feed it every frame on which that exercise is voted."""

    def __init__(self, exercise: str, timing: RepTiming | None = None, count: int = 0):
        self.exercise = exercise
        entry = CATALOGUE.get(exercise)
        self.timing = timing or (entry.timing if entry else RepTiming())
        self.signal = entry.signal if entry else None
        self.count = count
        self.rejected: dict[str, int] = {}
        self._may_join = False
        self.reset()

    def reset(self) -> None:
        """Forget the cycle in progress; the next rep needs a settled start again."""
        self.state = ""                # "", START (settled) or END
        self._cand: str = ""
        self._cand_since = 0.0
        self._cand_frames = 0
        self._last_seen: float | None = None
        self._cycle_start = 0.0
        self._at_start: float | None = None   # last time the angle showed the start position
        self._start_angles: deque[float] = deque(maxlen=30)
        self._extreme: float | None = None
        self._last_angle: float | None = None
        self._opening_extreme: float | None = None   # most end-like angle before the first start (mid-rep join)
        self._opening_at = 0.0                       # when the first angle was seen
        self._pending: tuple[float, float] | None = None   # joined rep back at the start phase: (start, extreme)

    @property
    def in_rep(self) -> bool:
        return self.state == END or (self.state == START and self._cand == END)

    @property
    def fresh(self) -> bool:
        """Nothing observed since the last reset: the caller may `prime` it with the moments before."""
        return self._last_seen is None and self.state == ""

    def prime(self, angles: list[float]) -> None:
        """Rep angles of the second before this exercise was voted (the vote lags the first movement)."""
        if self.state == "":
            self._start_angles.extend(angles)

    def join_under_way(self) -> None:
        """The stream began with the trainee already doing this exercise (a camera switched on, or a recording
        cut, mid-set): the deepest angle before the first start position is then the bottom of a rep whose start
        came before the first frame, not someone getting into position. That rep counts once the angle shows a
        clear return to the start over a full rep's range (`full_range_deg`); without a rep angle, never."""
        self._may_join = True

    def observe(self, now: float, phase: str, angle: float | None = None) -> Rep | None:
        """One frame of this exercise; returns the rep it completes, if any."""
        t = self.timing
        if self._last_seen is not None and now - self._last_seen > t.max_gap_s:
            self.reset()
        self._track_angle(angle, now)
        if angle is not None and self.state in ("", START) and self._cand != END and self._start_level() is not None \
                and self._toward_end(self._start_level(), angle) < t.min_range_deg / 2:
            self._at_start = now
        joined = self._confirm_joined(now, angle)
        if joined is not None:
            return joined
        phase = self._fuse(phase, angle)
        if phase not in (START, END):
            return None
        self._last_seen = now
        if self.state == "" and phase == END:
            if not self._left_start(angle):
                # An "end" before any start position was seen is someone getting into position - or, when the
                # stream began mid-set, the bottom of a rep under way (judged when the start is reached).
                self._cand = ""
                return None
            # The angle saw the trainee in the start position a moment ago (the classifier's vote was still
            # warming up): settled since then, and this is the way down.
            self.state = START
            self._may_join = False
        if phase == self.state:
            self._cand = ""
            return None
        if self._cand != phase:
            self._cand, self._cand_since, self._cand_frames = phase, now, 0
            if phase == END and self.state == START:
                self._extreme = angle
        self._cand_frames += 1
        needed = t.settle_s if self.state == "" else t.min_phase_s
        if now - self._cand_since < needed or self._cand_frames < t.min_phase_frames:
            return None
        return self._enter(phase, self._cand_since)

    def finish(self, now: float) -> Rep | None:
        """End of stream: a rep whose return was seen but not yet confirmed still counts."""
        if self.state != END:
            return None
        if self._cand == START:
            return self._enter(START, self._cand_since)
        level = self._start_level()
        if level is not None and self._extreme is not None and self._last_angle is not None:
            swing = abs(self._extreme - level)
            back = abs(self._last_angle - self._extreme)
            if swing > 0 and back >= self.timing.finish_return * swing:
                return self._enter(START, now)
        return None

    # ------------------------------------------------------------------ internals
    def _confirm_joined(self, now: float, angle: float | None) -> Rep | None:
        """A joined rep back in the start phase counts once the angle has swung `full_range_deg` back."""
        if self._pending is None or angle is None:
            return None
        started, extreme = self._pending
        back = -self._toward_end(extreme, angle)
        if back < self.timing.full_range_deg:
            return None
        self._pending = None
        self._cycle_start, self._extreme = started, extreme
        self._start_angles.clear()
        self._start_angles.append(angle)
        rep = self._judge(now)
        self._extreme = None
        return rep

    def _toward_end(self, level: float, angle: float) -> float:
        """Degrees from the start angle towards the end position."""
        return level - angle if self.signal is None or self.signal.start_high else angle - level

    def _left_start(self, angle: float | None) -> bool:
        level = self._start_level()
        if level is None or angle is None or self.signal is None:
            return False
        return self._toward_end(level, angle) >= self.timing.min_range_deg

    def _fuse(self, phase: str, angle: float | None) -> str:
        """The classifier's phase, corrected by the rep angle where the angle is unambiguous: "end" while the
        angle has not left the start position is still the start; and back at the start angle after a real
        swing is the start, even while the classifier still says "end" (its vote lags, or it misses the top)."""
        if angle is None or self.signal is None or self.state == "":
            return phase
        level = self._start_level()
        if level is None:
            return phase
        toward_end = self._toward_end(level, angle)
        if self.state == START and phase == END and toward_end < self.timing.min_range_deg / 2:
            return START
        if self.state == END and phase != START and self._extreme is not None:
            swing = self._toward_end(level, self._extreme)
            if swing >= self.timing.min_range_deg and toward_end <= self.timing.return_share * swing:
                return START
        return phase

    def _track_angle(self, angle: float | None, now: float) -> None:
        if angle is None:
            return
        self._last_angle = angle
        if self._may_join and self.state == "":
            if self._opening_extreme is None:
                self._opening_at = now
                self._opening_extreme = self._most_end_like(list(self._start_angles) + [angle])
            else:
                self._opening_extreme = self._most_end_like([self._opening_extreme, angle])
        if self.state in ("", START) and self._cand != END:
            self._start_angles.append(angle)
        elif self.in_rep and self.signal is not None:
            if self._extreme is None:
                self._extreme = angle
            elif self.signal.start_high:
                self._extreme = min(self._extreme, angle)
            else:
                self._extreme = max(self._extreme, angle)

    def _most_end_like(self, angles: list[float]) -> float:
        return min(angles) if self.signal is None or self.signal.start_high else max(angles)

    def _start_level(self) -> float | None:
        """The most start-like angle of the start phase (robustly): the voted phase lags the movement, so the
        last "start" frames are already on the way down."""
        if not self._start_angles:
            return None
        values = sorted(self._start_angles)
        pick = 0.8 if self.signal is None or self.signal.start_high else 0.2
        return values[min(len(values) - 1, int(pick * len(values)))]

    def _enter(self, phase: str, at: float) -> Rep | None:
        previous, self.state, self._cand = self.state, phase, ""
        if phase == END:
            if self._pending is not None:   # down again before a full return: half a rep, not counted
                self._pending = None
                self.rejected["partial_start"] = self.rejected.get("partial_start", 0) + 1
            # The rep began when the trainee left the start position: by the angle when it was seen (the voted
            # phase flips only halfway down), else when the phase changed.
            left = self._at_start
            self._cycle_start = left if left is not None and 0 <= at - left < self.timing.max_rep_s else at
            return None
        if previous != END:  # first settle into the start position: nothing to count ...
            if self._may_join and self._opening_extreme is not None:
                # ... unless the stream began mid-rep: the way up from the deepest angle seen before this start
                # is a rep once it has come back far enough (`_confirm_joined`).
                self._pending = (self._opening_at, self._opening_extreme)
                self._may_join = False
                return self._confirm_joined(at, self._last_angle)
            self._may_join = False
            return None
        rep = self._judge(at)
        self._start_angles.clear()
        self._extreme = None
        return rep

    def _judge(self, at: float) -> Rep | None:
        t = self.timing
        duration = at - self._cycle_start
        level = self._start_level()
        rom = abs(self._extreme - level) if level is not None and self._extreme is not None else None
        reason = ("too_short" if duration < t.min_rep_s else "too_long" if duration > t.max_rep_s
                  else "shallow" if rom is not None and rom < t.min_range_deg else "")
        if reason:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
            logger.debug("%s cycle not counted: %s (%.2f s, range %s)", self.exercise, reason, duration, rom)
            return None
        self.count += 1
        return Rep(self.exercise, self.count, self._cycle_start, at, None if rom is None else round(rom, 1))
