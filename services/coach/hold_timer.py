"""Times a held exercise (plank): runs while the pose holds, bridges short dropouts, announces milestones."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HoldTiming:
    dropout_s: float = 1.0      # a loss of the pose shorter than this does not break the hold
    min_hold_s: float = 1.0     # shorter holds are a pass through the pose, not a plank
    milestone_s: float = 10.0   # announce every this many seconds of one hold
    frame_s: float = 1 / 30     # duration credited to the last frame until the frame rate is observed


@dataclass
class Hold:
    """A finished hold."""

    exercise: str
    started_at: float
    seconds: float


@dataclass
class HoldEvent:
    kind: str                   # "start", "milestone", "end"
    seconds: float              # length of the hold at the event
    hold: Hold | None = None    # set on "end" (None when the hold was too short to keep)


class HoldTimer:
    """One timer per held exercise per session; feed it every frame with whether the pose holds."""

    def __init__(self, exercise: str, timing: HoldTiming | None = None, total_s: float = 0.0):
        self.exercise = exercise
        self.timing = timing or HoldTiming()
        self.banked_s = total_s            # finished holds of the session
        self._start: float | None = None   # current hold
        self._last_true = 0.0
        self._last_now: float | None = None
        self._frame_s = self.timing.frame_s
        self._milestones = 0
        self._banked_until: float | None = None   # where the last finished hold ended (already counted)

    @property
    def holding(self) -> bool:
        return self._start is not None

    @property
    def started_at(self) -> float | None:
        return self._start

    def backdate(self, start: float) -> None:
        """The hold in progress really began at `start` (seen before the exercise vote caught up), but never before
        the end of a hold already counted: a hold the vote lost for a moment and found again is not counted twice."""
        if self._banked_until is not None:
            start = max(start, self._banked_until)
        if self._start is not None and start < self._start:
            self._start = start

    def current_s(self) -> float:
        if self._start is None:
            return 0.0
        return self._last_true - self._start + self._frame_s

    def total_s(self) -> float:
        """Seconds held in the session so far (finished holds plus the current one once it is long enough)."""
        current = self.current_s()
        return self.banked_s + (current if current >= self.timing.min_hold_s else 0.0)

    def update(self, now: float, holding: bool) -> list[HoldEvent]:
        events: list[HoldEvent] = []
        if self._last_now is not None and 0 < now - self._last_now < 1.0:
            # Follow the real frame spacing (slowly) so the last frame is credited with its true length.
            self._frame_s += 0.1 * ((now - self._last_now) - self._frame_s)
        self._last_now = now
        if self._start is not None and now - self._last_true > self.timing.dropout_s:
            events.append(self._close())
        if not holding:
            return events
        if self._start is None:
            self._start, self._milestones = now, 0
            events.append(HoldEvent("start", 0.0))
        self._last_true = now
        current = self.current_s()
        reached = int(current // self.timing.milestone_s)
        if reached > self._milestones:
            self._milestones = reached
            events.append(HoldEvent("milestone", reached * self.timing.milestone_s))
        return events

    def finish(self, now: float) -> list[HoldEvent]:
        """End of stream (or exercise change): close the hold in progress."""
        return [self._close()] if self._start is not None else []

    def _close(self) -> HoldEvent:
        seconds = self.current_s()
        start = self._start
        self._start = None
        if seconds < self.timing.min_hold_s:
            return HoldEvent("end", seconds, None)
        self.banked_s += seconds
        self._banked_until = start + seconds
        return HoldEvent("end", seconds, Hold(self.exercise, start, round(seconds, 2)))
