"""One trainee's classifier, frame after frame: the exercise from a window of motion, its phase from the cascade.

Level 1 is the window recogniser (XGBoost on ~2.5 s of motion, voted with hysteresis): which joints swing, how the
body lies and the rhythm say what the trainee does, where one frame's pose cannot (a standing person is the start
of every standing exercise). Level 2 (kNN over the frame's pose features, given that exercise) names the frame's
start/end phase, voted with hysteresis: the phase the trainee sees. Reps are counted from the movement by the
coach, not from this phase. A trainee's chosen exercise replaces recognition.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.exercises import EXERCISES, NONE, is_hold
from common.features import as_array, features
from services.classifier.cascade import Cascade
from services.classifier.recognizer import WindowRecognizer
from services.classifier.voting import PhaseVoter, VoteOptions


@dataclass(frozen=True)
class ClassifierOutput:
    exercise: str          # recognised (or chosen) exercise, or "none"
    exercise_conf: float
    phase: str             # voted "start" / "end", "" when unknown or not counted (none, plank)
    phase_conf: float
    raw_exercise: str      # level 1's latest answer before its vote (its last window; "none" without one)


class SessionClassifier:
    """The state of one session; frames must come in order (the processor re-orders them)."""

    def __init__(self, cascade: Cascade, options: VoteOptions | None = None):
        self.cascade = cascade
        self.recognizer = WindowRecognizer(*cascade.window_model)
        self.phase_vote = PhaseVoter(options or VoteOptions())
        self.phase_exercise = NONE   # the exercise the phase vote belongs to

    def classify(self, landmarks: np.ndarray | bytes | None, aspect: float, t: float,
                 chosen: str = "") -> ClassifierOutput:
        """One frame's landmarks ([33, 4] normalised, or None / NaN without a body) at capture time `t`."""
        lm = None if landmarks is None else as_array(landmarks)
        feats = None
        if lm is not None and np.isfinite(lm[:, :2]).all():
            feats = features(lm, aspect)
            if not np.isfinite(feats).all():   # degenerate pose (e.g. every joint on one point)
                lm, feats = None, None
        else:
            lm = None
        recognised, conf = self.recognizer.update(t, lm, aspect)
        exercise, conf = (chosen, 1.0) if chosen in EXERCISES else (recognised, conf)
        if exercise != self.phase_exercise:
            self.phase_vote.reset()   # phases of one exercise say nothing about the next one
            self.phase_exercise = exercise
        counted = exercise != NONE and not is_hold(exercise)
        raw_exercise = self.recognizer.raw_label
        if feats is None:
            # A short gap keeps the phase as it was: the body is still there, just not seen for a moment.
            return ClassifierOutput(exercise, conf, self.phase_vote.current if counted else "", 0.0, raw_exercise)
        if not counted:
            return ClassifierOutput(exercise, conf, "", 0.0, raw_exercise)
        p, c = self.cascade.phase(feats, [exercise])
        pv = self.phase_vote.add(str(p[0]), float(c[0]))
        return ClassifierOutput(exercise, conf, pv.phase, pv.conf, raw_exercise)
