"""The phase vote that steadies level 2's per-frame answers: mean over a few frames with hysteresis.

(The exercise is voted by the window recogniser, services/classifier/recognizer.py.)"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from common.exercises import END, START

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoteOptions:
    """How sure the phase vote must be. The defaults were checked on out-of-fold answers for the training clips
    (models/README.md): results hardly move around them, so they favour steadiness."""

    phase_window: int = 5          # frames in the phase vote
    phase_on: float = 0.7          # mean P(end) above this enters "end", below 1 - this enters "start"


@dataclass(frozen=True)
class PhaseVote:
    phase: str           # "start" / "end" / "" (unknown yet)
    conf: float          # mean probability of that phase over the window


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
