"""Counts reps from one movement signal: a full swing away from the start position and back, causally.

Hysteresis bands scale with this trainee's range: a rep begins when the signal falls `DOWN_SHARE` of the
calibrated range below the start level, and completes when it has come back `UP_SHARE` of the swing from the
far end. The calibrated range starts at the exercise's prior and learns from every counted rep. Nothing looks
ahead or at the whole stream: each frame is judged on what came before it, live and offline alike.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from common.exercises import RepSignal

DOWN_SHARE = 0.40     # leaving the start: a fall of this share of the calibrated range
UP_SHARE = 0.80       # back at the start: a return of this share of the swing (a rep cut at 3/4 of the way up,
                      # by the end of a recording, is not a rep: the labelling rule of the shared clips)
OPEN_SHARE = 0.60     # a stream that opens at the far end counts the rise once it covers this share of the range
SMOOTH_S = 0.15       # running median: one or two glitching BlazePose frames never move the signal
TOP_WINDOW_S = 3.0    # the start level is the highest point of the last this many seconds: a camera that drifts, or
                      # a trainee who settles into a lower stance, moves it within seconds; a rep's way down does
                      # not (the level it left is still in the window)
UNSEEN_START_S = 0.3  # a swing that leaves the level of the stream's first this many seconds began before it
GAP_RESET_S = 2.0     # without the signal this long (out of the picture, a cut) the position is unknown again
# When the signal stops (the stream ends, or it is gone GAP_RESET_S), a swing whose last raw values are back past
# the band completes: the last two (one glitch never completes a rep), or the last alone when it ends TRAVEL steps
# that rise steadily, none more than STEADY times the one before (the trainee still moving back as a fade or the
# edge of the picture takes them, which the running median lags; a limb slows into the start position, while a
# skeleton that hops to another person jumps).
TRAVEL = 2
STEADY = 2.0
# Up from the far end by the opening rise (OPEN_SHARE of the range) between two raw samples at most CUT_SHARE of the
# signal's shortest rep apart (push-ups 0.12 s): as fast as the quickest rep it allows, down and up, averages over all
# of it, where a body starts and ends a rise slowly (a push-up's elbow would turn 450 deg/s from the first sample).
# So a cut of an edited video from another shot at the bottom to the trainee at the top, not a rise, once the next
# sample is still up (one glitching sample comes back down). The stream opens after the cut.
CUT_SHARE = 0.3
CALIBRATION_REPS = 4  # the calibrated range is the median of this many recent reps, with the prior as one more
# A swing far larger than this trainee's reps (more than BIG_SWING times the calibrated range: a start level
# remembered from standing up straight before a split stance) completes once it returns UP_SHARE of
# max(BIG_SWING x the range, BIG_SWING_SHARE x the swing): the level it left may never come back.
BIG_SWING = 1.3
BIG_SWING_SHARE = 0.80
# A swing whose start level never comes back (a camera that moves, a stance that changed mid-rep) still ends where
# the trainee turns: once the signal has risen TURN_SHARE of the calibrated range from the far end, and at least
# TURN_OF_SWING of the way back up to the level it left, and then fallen back by the band that starts a rep, the rep
# is over at that turning point and the next one has begun. A smaller wobble on the way back is not a turn: a sit-up
# (a 100 deg swing) whose way back went 42 deg, curled 39 deg again, then went all the way, was two reps when the
# turn only had to beat the prior range (30 deg).
TURN_OF_SWING = 0.5
# The rise that makes a turn, against the calibrated range: less than UP_SHARE, which judges a return to a level
# still there. Before the first rep the range is the exercise's prior, and a trainee whose reps are smaller (crunches
# that curl 20 deg of a 30 deg prior, the camera moving and the start level a spike) turned at 70 % of it, rep after
# rep, and was never counted.
TURN_SHARE = 0.6


@dataclass(frozen=True)
class Rep:
    number: int              # 1-based, within this counter
    started_at: float        # when the signal left the start level (for a rep the stream opened in: when it began)
    ended_at: float          # when it was back
    range_of_motion: float   # signal units (degrees for a single angle)
    standing: bool | None = None   # on the feet through it (ExerciseCounter fills it in; None: not seen)

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at


class MovementCounter:
    """Feed `update(t, value)` frame by frame (value None when the signal is not seen); it returns the Rep that
    frame completes. `phase`, `bands()` and `calibrated_range` say where the trainee is, for display and form."""

    def __init__(self, signal: RepSignal):
        self.signal = signal
        self.sign = 1.0 if signal.start_high else -1.0   # inside, the start position is always the high side
        self.count = 0
        self.ranges: deque[float] = deque(maxlen=CALIBRATION_REPS)
        self.value: float | None = None                   # smoothed signal, in the signal's own direction
        self._window: deque[tuple[float, float]] = deque()   # (t, raw) of the last SMOOTH_S, for the median
        self._tail: deque[float] = deque(maxlen=TRAVEL + 1)   # the last raw values (whatever the frame rate)
        self._last_t: float | None = None
        self._prev_t: float | None = None   # the sample before the last one
        self._reset()

    def _reset(self) -> None:
        self.phase = ""                  # "": unknown; "start": at or near the start position; "end": away from it
        self._top: float | None = None   # start level: the highest point of the last TOP_WINDOW_S
        self._top_t = 0.0
        self._recent: deque[tuple[float, float]] = deque()   # (t, s), decreasing s: the window's running maximum
        self._first: float | None = None
        self._first_t = 0.0
        self._unseen_start = False       # the current swing left a level the stream opened on: its length unknown
        self._low: float | None = None   # lowest point: of the opening (phase ""), or of the current swing
        self._low_t = 0.0
        self._left_top = 0.0             # the start level the current swing left
        self._left_t = 0.0
        self._peak: float | None = None  # highest point since the far end of the current swing
        self._peak_t = 0.0
        self._window.clear()
        self._tail.clear()
        self._cut_from: float | None = None   # the raw value before a jump (see CUT_SHARE), until the next sample

    @property
    def calibrated_range(self) -> float:
        """The prior range blended with the median of this trainee's recent reps (the prior weighs as one rep)."""
        if not self.ranges:
            return self.signal.prior_range
        ordered = sorted(self.ranges)
        n = len(ordered)
        median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
        return (self.signal.prior_range + median * n) / (1 + n)

    @property
    def swing_started_at(self) -> float | None:
        """When the swing under way left the start level (None at the start or not yet known)."""
        return self._left_t if self.phase == "end" else None

    def bands(self) -> tuple[float | None, float | None]:
        """(level to cross to leave the start, level to cross to be back), in signal units; None when unknown."""
        if self._top is None:
            return None, None
        down = self._top - self._down_threshold()
        up = self._low + self._up_threshold() if self.phase == "end" else None
        return self.sign * down, (None if up is None else self.sign * up)

    def _opening_rise(self) -> float:
        """How far a stream that opened at the far end must rise for that to be a rep (see OPEN_SHARE)."""
        return max(self.signal.min_swing, OPEN_SHARE * self.calibrated_range)

    def _down_threshold(self) -> float:
        return max(self.signal.min_swing, DOWN_SHARE * self.calibrated_range)

    def _up_threshold(self) -> float:
        swing = self._left_top - self._low
        reference = min(swing, max(BIG_SWING * self.calibrated_range, BIG_SWING_SHARE * swing))
        return max(self.signal.min_swing, UP_SHARE * reference)

    def update(self, t: float, value: float | None) -> Rep | None:
        lost = None
        if self._last_t is not None and t - self._last_t > GAP_RESET_S:
            lost = self.finish()   # a rep its last frames completed before the signal went
            self._reset()
        if value is None or value != value:
            return lost
        raw = self.sign * value
        if self.phase == "" and self._tail and (self._cut_from is not None
                                                or raw - self._tail[-1] >= self.signal.min_swing):
            rise = self._opening_rise()
            if self._cut_from is not None and raw - self._cut_from >= rise:
                self._reset()   # see CUT_SHARE: still up after the jump, so not a glitching sample
            else:
                jump = t - self._last_t <= CUT_SHARE * self.signal.min_rep_s and raw - self._tail[-1] >= rise
                self._cut_from = self._tail[-1] if jump else None
        self._prev_t, self._last_t = self._last_t, t
        self._tail.append(raw)
        s = self._smooth(t, raw)
        self.value = self.sign * s
        if self._top is None:
            self._low = self._first = s
            self._low_t = self._first_t = t
            self._top, self._top_t = self._window_max(t, s)
            return lost
        if self.phase == "end":
            return self._in_swing(t, s)
        # At (or not yet known to be away from) the start: follow the start level.
        self._top, self._top_t = self._window_max(t, s)
        if self.phase == "":
            lone = self._low_t == self._prev_t   # the lowest point so far is the sample just before this one
            if s < self._low:
                self._low, self._low_t = s, t
            rise = self._opening_rise()
            if lone and s - self._low >= rise:
                # The lowest point came and went in one sample: a glitch (BlazePose's first guess of a body it has
                # just found), not a position the trainee was in. If it opened the stream, the stream opens here.
                if self._first_t == self._low_t:
                    self._first, self._first_t = s, t
                self._low, self._low_t = s, t
                return None
            if self._low <= self._first and s - self._low >= rise:
                # The stream opened at (or on the way to) the far end and the trainee rose: a rep that began
                # before the first frame. Its length is unknown, so no lower bound on it.
                self._left_top = s
                return self._complete(t, s, started=self._low_t, opened=True)
        if self._top - s >= self._down_threshold():
            # Leaving the very level the stream opened on (a trainee who walks in mid-rep, a title card that
            # fades onto one): the rep began before the first frame; no lower bound on its length either.
            self._unseen_start = self.phase == "" and self._top_t - self._first_t <= UNSEEN_START_S
            self.phase = "end"
            self._left_top, self._left_t = self._top, self._top_t
            self._low, self._low_t = s, t
        return None

    def _in_swing(self, t: float, s: float) -> Rep | None:
        if s < self._low:
            self._low, self._low_t = s, t
            self._peak = None
        if t - self._left_t > self.signal.max_rep_s:
            # Too long away to be a rep (sat down, walked off): start over from where the trainee is now.
            self._restart_at(t, s)
            return None
        if s - self._low >= self._up_threshold():
            return self._complete(t, s, started=self._left_t)
        if self._peak is None or s > self._peak:
            self._peak, self._peak_t = s, t
        if (self._peak - self._low >= max(self.signal.min_swing, TURN_SHARE * self.calibrated_range,
                                          TURN_OF_SWING * (self._left_top - self._low))
                and self._peak - s >= self._down_threshold()):
            # Turned back down well short of the old start level: that level is gone. The rep ended at the turn;
            # the trainee is already on the way down into the next one.
            peak, peak_t, started = self._peak, self._peak_t, self._left_t
            rep = self._complete(peak_t, peak, started=started, turned=True)
            self.phase = "end"
            self._left_top, self._left_t = peak, peak_t
            self._low, self._low_t = s, t
            self._peak = None
            return rep
        return None

    def finish(self) -> Rep | None:
        """The signal stops (the stream ends; `update` calls it when the signal has been gone GAP_RESET_S): a swing
        whose last raw values are back past the band completes (the running median lags a trainee who stands up in
        the last few frames). See TRAVEL."""
        if self.phase != "end" or len(self._tail) < 2 or self._last_t is None:
            return None
        need = self._low + self._up_threshold()
        tail = list(self._tail)
        if min(tail[-2:]) >= need:
            return self._complete(self._last_t, min(tail[-2:]), started=self._left_t)
        steps = [b - a for a, b in zip(tail, tail[1:])]
        if (len(tail) > TRAVEL and tail[-1] >= need and min(steps) > 0
                and all(later <= STEADY * earlier for earlier, later in zip(steps, steps[1:]))):
            return self._complete(self._last_t, tail[-1], started=self._left_t)
        return None

    def _complete(self, t: float, s: float, started: float, opened: bool = False, turned: bool = False) -> Rep | None:
        rom = (s if turned else max(self._left_top, s)) - self._low
        duration = t - started
        opened = opened or self._unseen_start
        self._restart_at(t, s)
        if rom < self.signal.min_swing or duration > self.signal.max_rep_s or (
                not opened and duration < self.signal.min_rep_s):
            return None
        self.count += 1
        self.ranges.append(rom)
        return Rep(self.count, started, t, rom)

    def _restart_at(self, t: float, s: float) -> None:
        """Back in the start phase, from this point: the level the last swing left is history."""
        self.phase = "start"
        self._peak = None
        self._unseen_start = False
        self._recent.clear()
        self._top, self._top_t = self._window_max(t, s)

    def _window_max(self, t: float, s: float) -> tuple[float, float]:
        """(value, time) of the highest point of the last TOP_WINDOW_S, this frame included."""
        while self._recent and self._recent[-1][1] <= s:
            self._recent.pop()
        self._recent.append((t, s))
        while self._recent[0][0] < t - TOP_WINDOW_S:
            self._recent.popleft()
        return self._recent[0][1], self._recent[0][0]

    def _smooth(self, t: float, v: float) -> float:
        self._window.append((t, v))
        while t - self._window[0][0] > SMOOTH_S:
            self._window.popleft()
        values = sorted(x for _, x in self._window)
        n = len(values)
        return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
