"""Window votes that steady the per-frame answers: exercise by majority, phase by mean with hysteresis."""
from __future__ import annotations

import logging
import math
from collections import Counter, deque
from dataclasses import dataclass

from common.exercises import END, NONE, START

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoteOptions:
    """How sure the votes must be. The defaults were checked on out-of-fold answers for the training clips
    (models/README.md): results hardly move around them, so they favour steadiness."""

    window: int = 9                # frames in the exercise vote (Settings.vote_window)
    min_exercise_prob: float = 0.4  # a level-1 answer below this counts as "none"
    switch_share: float = 0.6      # share of the window a new exercise needs before the vote changes
    phase_window: int = 5          # frames in the phase vote
    phase_on: float = 0.7          # mean P(end) above this enters "end", below 1 - this enters "start"


@dataclass(frozen=True)
class ExerciseVote:
    exercise: str
    conf: float          # share of the window that voted for it


@dataclass(frozen=True)
class PhaseVote:
    phase: str           # "start" / "end" / "" (unknown yet)
    conf: float          # mean probability of that phase over the window


class ExerciseVoter:
    """Majority over the last `window` frames, with hysteresis: the answer changes only when another label
    holds at least `switch_share` of the window, so a mixed window keeps the current answer.

    A frame without a body votes "none": a short gap leaves the answer as it was, a long one ends it.
    """

    def __init__(self, options: VoteOptions = VoteOptions()):
        self.options = options
        self._window: deque[str] = deque(maxlen=options.window)
        self._needed = max(1, math.ceil(options.switch_share * options.window))
        self.current = NONE

    def add(self, label: str | None, prob: float = 1.0) -> ExerciseVote:
        """One frame's level-1 answer (None: no body in the frame)."""
        if label is None or prob < self.options.min_exercise_prob:
            label = NONE
        self._window.append(label)
        counts = Counter(self._window)
        leader, votes = counts.most_common(1)[0]
        if leader != self.current and votes >= self._needed and votes > counts[self.current]:
            logger.debug("exercise %s -> %s (%d/%d)", self.current, leader, votes, len(self._window))
            self.current = leader
        return ExerciseVote(self.current, counts[self.current] / self.options.window)

    def reset(self) -> None:
        self._window.clear()
        self.current = NONE


class PhaseVoter:
    """Mean of P(end) over the last `phase_window` frames with a Schmitt trigger: "end" is entered above
    `phase_on` and left only below 1 - `phase_on`, so jitter at the boundary of the two positions (mean
    near 0.5) never flips the phase, while a held position flips it within a few frames.
    """

    def __init__(self, options: VoteOptions = VoteOptions()):
        self.options = options
        self._p_end: deque[float] = deque(maxlen=options.phase_window)
        self.current = ""

    def add(self, phase: str, conf: float) -> PhaseVote:
        """One frame's level-2 answer for the voted exercise ("" adds nothing)."""
        if phase in (START, END):
            self._p_end.append(conf if phase == END else 1.0 - conf)
        if not self._p_end:
            return PhaseVote(self.current, 0.0)
        mean = sum(self._p_end) / len(self._p_end)
        # Until the window has filled (a new exercise), a lone frame must not decide the phase.
        if len(self._p_end) == self.options.phase_window:
            if self.current != END and mean >= self.options.phase_on:
                self.current = END
            elif self.current != START and mean <= 1.0 - self.options.phase_on:
                self.current = START
        if self.current == "":
            return PhaseVote("", 0.0)
        return PhaseVote(self.current, mean if self.current == END else 1.0 - mean)

    def reset(self) -> None:
        self._p_end.clear()
        self.current = ""
