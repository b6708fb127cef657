"""Counts every exercise from the movement all the time; the recognised (or chosen) exercise decides whose reps count.

Recognition needs a window of motion, so it names an exercise a second or two after the trainee began. Each
counted exercise therefore has counters running on every frame; their reps wait as pending for `CREDIT_LAG_S`,
and when recognition settles on an exercise, its pending reps are credited first: the count starts at the first
rep. A pending rep that overlaps a rep already credited to another exercise is the same movement seen by a
second counter (a squat bends the knees a lunge counter watches too) and is dropped.

A set goes on while its movement does: when recognition loses the exercise (says "none": a view the window model
never saw, a camera that moved), the reps that follow on from the set, one after another at the set's pace and in
its posture, are still counted. A rep that breaks the pace or the posture ends the set (it waits for recognition's
word, as any rep does), and recognition naming another exercise ends it at once.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from common.exercises import CATALOGUE, COUNTED, NONE, STANDING, Exercise
from common.rep_signals import signal_value
from services.coach.movement_counter import GAP_RESET_S, MovementCounter, Rep

CREDIT_LAG_S = 4.0     # reps that ended this long before recognition settled on their exercise still count
OVERLAP_S = 0.2        # a pending rep starting this long before the last credited rep ended is that same rep
RESUME_S = 10.0        # recognition lost for at most this long in a set of the exercise last credited ...
CHAIN_GAP_S = 3.0      # ... credits the reps in between that follow one another (and the last credited) this closely
MAX_PENDING = 64       # reps kept waiting per exercise, at most
# A set goes on without recognition (it says "none") once it has SET_REPS reps (one may be a movement recognition
# got wrong for a moment), rep by rep: each starting within CHAIN_GAP_S of the last one counted and lasting between
# 1/SET_PACE and SET_PACE times the median of the set's recent reps (getting up after sitting down a while, or a dip
# while turning to another exercise, is not a rep of the set).
SET_REPS = 2
SET_PACE = 2.0


@dataclass(frozen=True)
class CountedRep:
    exercise: str
    number: int              # this exercise's count in the session
    started_at: float
    ended_at: float
    range_of_motion: float | None   # degrees of the exercise's range measure; None when it was not seen

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at


class ExerciseCounter:
    """One exercise: a counter per signal it declares; the exercise's rep is whichever signal completes one first
    (a sit-up bends at the hip, a crunch curls the head), never both for one movement. A rep must pass the
    exercise's gates (what every rep of it does, whatever the view). Its range of motion is reported in degrees of
    the exercise's `range_measure` (a blend of signals has no unit a trainee knows)."""

    def __init__(self, exercise: Exercise):
        self.counters = [MovementCounter(s) for s in exercise.signals]
        self.range_measure = exercise.range_measure
        self.gates = exercise.rep_gates
        self._tracked = sorted({self.range_measure, STANDING.measure, *(g.measure for g in self.gates)} - {""})
        self._history: deque[tuple[float, dict]] = deque()   # (t, tracked measures), _horizon back
        # One rep back, and GAP_RESET_S more: a rep the counter completes once the signal has been gone that long
        # is judged on all its frames.
        self._horizon = max(s.max_rep_s for s in exercise.signals) + GAP_RESET_S
        self._last_end = float("-inf")
        self._fallback = any(s.fallback for s in exercise.signals)
        self._main_seen = True   # on the last frame, some signal that is not a fallback was seen
        self.gated = 0   # swings that were not this exercise's reps

    def update(self, t: float, measures: dict) -> Rep | None:
        self._history.append((t, {m: measures.get(m) for m in self._tracked}))
        while self._history[0][0] < t - self._horizon:
            self._history.popleft()
        values = [signal_value(counter.signal, measures) for counter in self.counters]
        if self._fallback:
            self._main_seen = any(v is not None for c, v in zip(self.counters, values) if not c.signal.fallback)
        return self._judge([counter.update(t, v) for counter, v in zip(self.counters, values)])

    def finish(self) -> Rep | None:
        """The stream ends: a rep its last frames complete (see MovementCounter.finish)."""
        return self._judge([counter.finish() for counter in self.counters])

    def _judge(self, reps: list[Rep | None]) -> Rep | None:
        if not any(reps):
            return None
        if self._fallback and self._main_seen:
            # A fallback signal's rep counts only where the main signals are unseen (see RepSignal.fallback).
            reps = [None if c.signal.fallback else r for c, r in zip(self.counters, reps)]
        done = None
        for rep in reps:
            # The other signals of the same movement complete a moment apart: one movement, one rep.
            if rep is not None and rep.started_at >= self._last_end - OVERLAP_S and done is None:
                done = rep
        if done is None:
            return None
        self._last_end = done.ended_at
        frames = [v for ts, v in self._history if done.started_at <= ts <= done.ended_at]
        during = {m: [v[m] for v in frames if v[m] is not None] for m in self._tracked}
        if not all(gate.passes(during[gate.measure], len(frames)) for gate in self.gates):
            self.gated += 1
            return None
        angles = during.get(self.range_measure)
        return replace(done, range_of_motion=round(max(angles) - min(angles), 1) if angles else None,
                       standing=STANDING.verdict(during[STANDING.measure], len(frames)))

    @property
    def lead(self) -> MovementCounter:
        """The counter showing the most movement (for the phase, the bands and the form rules): of the fallback
        signals while the main ones are unseen, else of the main ones."""
        counters = [c for c in self.counters if c.signal.fallback != self._main_seen]
        return max(counters, key=lambda c: (c.phase == "end", c.count))


class ExerciseTracker:
    """Feed `update(t, measures, exercise)` every frame: `measures` from common.rep_signals.measure_all,
    `exercise` the recognised or chosen one ("none" when nothing is recognised). Returns the reps credited."""

    def __init__(self, counts: dict[str, int] | None = None):
        counts = counts or {}
        self.counters = {name: ExerciseCounter(CATALOGUE[name]) for name in COUNTED}
        self.counts = {name: int(counts.get(name, 0)) for name in COUNTED}
        self.pending: dict[str, deque[Rep]] = {name: deque(maxlen=MAX_PENDING) for name in COUNTED}
        self._credited_until = float("-inf")
        self._last_credited = ""
        self._set_durations: deque[float] = deque(maxlen=4)   # of the last reps credited, in this set
        self._set_standing: bool | None = None                # the set's posture: on the feet or not (None: unseen)
        self._set_over = False                                # a rep broke the set's pace or posture
        self._t = float("-inf")   # the last frame's time

    def update(self, t: float, measures: dict, exercise: str) -> list[CountedRep]:
        self._t = t
        for name, counter in self.counters.items():
            rep = counter.update(t, measures)
            if rep is not None:
                self.pending[name].append(rep)
            queue = self.pending[name]
            keep = RESUME_S if name == self._last_credited else CREDIT_LAG_S
            while queue and queue[0].ended_at < t - keep:
                queue.popleft()
        if exercise in self.pending:
            return self._credit(exercise, t)
        return self._set_goes_on() if exercise == NONE else []

    def set_in_progress(self, t: float) -> str:
        """The exercise whose set (of SET_REPS reps or more) is still going on without recognition ("" if none): its
        last rep ended within CHAIN_GAP_S, or the swing under way began within CHAIN_GAP_S of it."""
        if not self._last_credited or self._set_pace() is None or self._set_over:
            return ""
        began = self.counters[self._last_credited].lead.swing_started_at
        mark = t if began is None else min(t, began)
        return self._last_credited if mark - self._credited_until <= CHAIN_GAP_S else ""

    def _set_goes_on(self) -> list[CountedRep]:
        exercise = self._last_credited
        if not exercise:
            return []
        queue = self.pending[exercise]
        out = []
        # Not a set yet (one rep may be a movement recognition got wrong for a moment): its reps wait for recognition.
        while queue and self._set_pace() is not None and queue[0].started_at - self._credited_until <= CHAIN_GAP_S:
            if queue[0].started_at < self._credited_until - OVERLAP_S:
                queue.popleft()   # the same movement as a rep already counted
                continue
            if not self._set_pace() / SET_PACE <= queue[0].duration_s <= SET_PACE * self._set_pace():
                # Far slower or faster than the set: the set is over, and that movement waits for recognition's word
                # (a squat set that turns into lunges dips once at the turn: a squat counter's "rep" of 0.4 s).
                self._set_over = True
                break
            if None not in (queue[0].standing, self._set_standing) and queue[0].standing != self._set_standing:
                self._set_over = True   # up from the floor or down to it (sit-ups, then lunges): another exercise
                break
            out.append(self._count(exercise, queue.popleft()))
        return out

    def _set_pace(self) -> float | None:
        """Median duration of the set's recent reps; None before it has SET_REPS of them."""
        known = sorted(self._set_durations)
        return known[len(known) // 2] if len(known) >= SET_REPS else None

    def _count(self, exercise: str, rep: Rep) -> CountedRep:
        if exercise != self._last_credited or rep.started_at - self._credited_until > CHAIN_GAP_S:
            self._set_durations.clear()   # a new set
            self._set_standing = None
        self._set_over = False
        if rep.standing is not None:
            self._set_standing = rep.standing
        self.counts[exercise] += 1
        self._credited_until = rep.ended_at
        self._last_credited = exercise
        self._set_durations.append(rep.duration_s)
        return CountedRep(exercise, self.counts[exercise], rep.started_at, rep.ended_at, rep.range_of_motion)

    def _credit(self, exercise: str, t: float) -> list[CountedRep]:
        out = []
        queue = self.pending[exercise]
        chain_end = self._credited_until if exercise == self._last_credited else None
        while queue:
            rep = queue.popleft()
            if rep.started_at < self._credited_until - OVERLAP_S:
                continue   # another exercise's counter already counted this movement
            recent = rep.ended_at >= t - CREDIT_LAG_S
            if not recent and (chain_end is None or rep.started_at - chain_end > CHAIN_GAP_S):
                chain_end = None
                continue   # neither recent nor part of the set recognition was following
            out.append(self._count(exercise, rep))
            chain_end = rep.ended_at
        return out

    def flush(self, exercise: str) -> list[CountedRep]:
        """End of a stream: the reps still pending for `exercise` (the one most likely done, when recognition had
        no time to settle: a recording of one rep) are credited; everything else pending is forgotten."""
        for name, counter in self.counters.items():
            rep = counter.finish()
            if rep is not None:
                self.pending[name].append(rep)
        if exercise in self.pending:
            out = self._credit(exercise, self._t)
        else:
            out = self._set_goes_on()
        for queue in self.pending.values():
            queue.clear()
        return out

    def signal(self, exercise: str) -> tuple[float | None, float | None, float | None]:
        """(the rep signal now, the level to cross to leave the start, the level to cross to be back): what the
        counter of this exercise sees, in signal units, for drawing; Nones where unknown."""
        counter = self.counters.get(exercise)
        if counter is None:
            return None, None, None
        lead = counter.lead
        if lead.signal.fallback:   # another unit (degrees, not the blend's): the strip shows a gap meanwhile
            return None, None, None
        down, up = lead.bands()
        return lead.value, down, up

    def phase(self, exercise: str) -> str:
        """Where the trainee is in the movement of this exercise: "start", "end" or "" (unknown)."""
        counter = self.counters.get(exercise)
        return counter.lead.phase if counter is not None else ""
