"""One trainee's classifier: features -> cascade -> window votes, frame after frame."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from common.exercises import NONE, is_hold
from common.features import as_array, features
from services.classifier.cascade import Cascade
from services.classifier.voting import ExerciseVoter, PhaseVoter, VoteOptions


@dataclass(frozen=True)
class ClassifierOutput:
    exercise: str          # voted exercise or "none"
    exercise_conf: float
    phase: str             # voted "start" / "end", "" when unknown or not counted (none, plank)
    phase_conf: float
    raw_exercise: str      # this frame's level-1 answer before voting ("none" without a body)


class SessionClassifier:
    """Keeps the vote state of one session; frames must come in order (the processor re-orders them)."""

    def __init__(self, cascade: Cascade, window: int = 9, options: VoteOptions | None = None):
        self.cascade = cascade
        self.options = dataclasses.replace(options or VoteOptions(), window=window)
        self.exercise_vote = ExerciseVoter(self.options)
        self.phase_vote = PhaseVoter(self.options)
        self.phase_exercise = NONE   # the exercise the phase vote belongs to

    def classify(self, landmarks: np.ndarray | bytes | None, aspect: float) -> ClassifierOutput:
        """One frame's landmarks ([33, 4] normalised, or None / NaN when no body was found)."""
        lm = None if landmarks is None else as_array(landmarks)
        if lm is None or not np.isfinite(lm[:, :2]).all():
            return self._missing()
        feats = features(lm, aspect)
        if not np.isfinite(feats).all():   # degenerate pose (e.g. every joint on one point)
            return self._missing()
        raw = self.cascade.predict(feats)
        raw_exercise, prob = str(raw.exercise[0]), float(raw.exercise_prob[0])
        voted = self._vote(raw_exercise, prob)
        if voted.exercise == NONE or is_hold(voted.exercise):
            return ClassifierOutput(voted.exercise, voted.conf, "", 0.0, raw_exercise)
        if raw_exercise == voted.exercise:
            phase, conf = str(raw.phase[0]), float(raw.phase_conf[0])
        else:
            # The vote is steadier than this frame's answer: ask level 2 about the voted exercise.
            p, c = self.cascade.phase(feats, [voted.exercise])
            phase, conf = str(p[0]), float(c[0])
        pv = self.phase_vote.add(phase, conf)
        return ClassifierOutput(voted.exercise, voted.conf, pv.phase, pv.conf, raw_exercise)

    def _vote(self, label: str | None, prob: float = 1.0):
        voted = self.exercise_vote.add(label, prob)
        if voted.exercise != self.phase_exercise:
            # Phases of one exercise say nothing about the next one.
            self.phase_vote.reset()
            self.phase_exercise = voted.exercise
        return voted

    def _missing(self) -> ClassifierOutput:
        voted = self._vote(None)
        counted = voted.exercise != NONE and not is_hold(voted.exercise)
        # A short gap keeps the phase as it was: the body is still there, just not seen for a moment.
        phase = self.phase_vote.current if counted else ""
        return ClassifierOutput(voted.exercise, voted.conf, phase, 0.0, NONE)
