"""Runs of one voted exercise within a session, and the SessionSummary body built from them."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.exercises import EXERCISES


@dataclass
class Segment:
    exercise: str
    start: float                 # capture time of its first frame
    end: float                   # capture time of the first frame after it (or of its last frame, while open)
    reps: int = 0
    hold_seconds: float = 0.0
    form_cues: dict[str, int] = field(default_factory=dict)


class SegmentLog:
    """Maximal runs of one voted exercise; reps, hold time and cues are credited to the latest run of theirs."""

    def __init__(self):
        self.segments: list[Segment] = []

    def observe(self, now: float, exercise: str) -> None:
        if self.segments and self.segments[-1].exercise == exercise:
            self.segments[-1].end = now
            return
        if self.segments:
            self.segments[-1].end = now
        self.segments.append(Segment(exercise, now, now))

    def _latest(self, exercise: str) -> Segment | None:
        for seg in reversed(self.segments):
            if seg.exercise == exercise:
                return seg
        return None

    def credit(self, exercise: str, reps: int = 0, hold_seconds: float = 0.0, cue: str | None = None) -> None:
        seg = self._latest(exercise)
        if seg is None:
            return
        seg.reps += reps
        seg.hold_seconds += hold_seconds
        if cue:
            seg.form_cues[cue] = seg.form_cues.get(cue, 0) + 1

    def summary(self, origin: float, frames: int, fps: float, seconds: float,
                totals: dict[str, dict]) -> dict:
        """The SessionSummary body; segments are those with reps or hold time, times relative to `origin`."""
        segments = []
        for i, seg in enumerate(self.segments):
            if seg.exercise not in EXERCISES or not (seg.reps or seg.hold_seconds > 0):
                continue
            end = seg.end if i + 1 < len(self.segments) else max(seg.end, origin + seconds)
            segments.append({"exercise": seg.exercise, "start_s": round(seg.start - origin, 3),
                             "end_s": round(end - origin, 3), "reps": int(seg.reps),
                             "hold_seconds": round(float(seg.hold_seconds), 2),
                             "form_cues": dict(seg.form_cues)})
        clean_totals = {name: {"reps": int(t.get("reps", 0)),
                               "hold_seconds": round(float(t.get("hold_seconds", 0.0)), 2)}
                        for name, t in totals.items()
                        if name in EXERCISES and (t.get("reps", 0) or t.get("hold_seconds", 0.0) > 0)}
        return {"frames": int(frames), "fps": float(fps), "seconds": round(float(seconds), 3),
                "segments": segments, "totals": clean_totals}
