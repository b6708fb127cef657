"""Sets (a pause or another exercise closes one) and what the coach says about counts, sets and holds."""
from __future__ import annotations

from dataclasses import dataclass

from common.exercises import count_phrase, noun


# Spoken cue priorities: a waiting cue is replaced by a newer one of at least its priority.
PRIORITY = {"count": 1, "hold": 1, "set": 2, "form": 3, "setup": 4}
COUNT_EVERY = 1   # say every rep number (5 would say 5, 10, 15 ...)


@dataclass
class SetRecord:
    exercise: str
    number: int                  # 1-based per exercise in the session
    started_at: float
    ended_at: float              # last activity (rep end or hold frame)
    reps: int = 0
    hold_seconds: float = 0.0
    store_id: int | None = None  # row id once written


@dataclass(frozen=True)
class Announcement:
    text: str
    kind: str                    # count | set | hold
    priority: int


def rep_announcement(count: int) -> Announcement | None:
    if count % COUNT_EVERY:
        return None
    return Announcement(str(count), "count", PRIORITY["count"])


def set_announcement(record: SetRecord) -> Announcement:
    if record.reps:
        what = count_phrase(record.exercise, record.reps)
    else:
        what = f"{round(record.hold_seconds)} seconds of {noun(record.exercise)}"
    return Announcement(f"Set {record.number} done: {what}", "set", PRIORITY["set"])


def hold_announcement(seconds: float) -> Announcement:
    return Announcement(f"{int(round(seconds))} seconds", "hold", PRIORITY["hold"])


class SetTracker:
    """The sets of one session: reps and hold time of one exercise in a row, until a pause or a change."""

    def __init__(self, pause_s: float, numbers: dict[str, int] | None = None):
        self.pause_s = pause_s
        self.numbers: dict[str, int] = dict(numbers or {})   # sets so far per exercise
        self.current: SetRecord | None = None

    def activity(self, now: float, exercise: str, started_at: float | None = None) -> tuple[SetRecord | None, bool]:
        """A rep or a holding frame of `exercise`. Returns (the set it closed, whether a new set opened)."""
        closed = None
        if self.current is not None and self.current.exercise != exercise:
            closed = self.close()
        elif self.current is not None and now - self.current.ended_at > self.pause_s:
            closed = self.close()
        opened = self.current is None
        if opened:
            self.numbers[exercise] = self.numbers.get(exercise, 0) + 1
            self.current = SetRecord(exercise, self.numbers[exercise],
                                     started_at if started_at is not None else now, now)
        self.current.ended_at = max(self.current.ended_at, now)
        return closed, opened

    def tick(self, now: float) -> SetRecord | None:
        """Close the set once the trainee paused for `pause_s`."""
        if self.current is not None and now - self.current.ended_at > self.pause_s:
            return self.close()
        return None

    def close(self) -> SetRecord | None:
        record, self.current = self.current, None
        return record
