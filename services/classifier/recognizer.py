"""Exercise recognition from a window of motion: XGBoost every EVAL_S on window features, voted with hysteresis."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from common.exercises import CATALOGUE
from services.classifier.motion_window import FEATURE_NAMES, WindowBuffer

MODEL_FILE = "window_xgboost.json"
METADATA_FILE = "window_metadata.json"
EVAL_S = 0.33        # the model runs ~3 times a second: plenty for a 2.5 s window, cheap per frame
SMOOTH_S = 0.6       # time constant of the probability average (one odd window must not switch)
ENTER = 0.55         # an exercise is announced once its averaged probability passes this ...
CONFIRM = 2          # ... for this many evaluations in a row (~0.7 s)
LEAVE = 0.30         # the current exercise is kept until it drops below this ...
LEAVE_S = 1.5        # ... for this long (a pause within a set is still that set)


class WindowRecognizer:
    """update(t, landmarks | None, aspect) -> (exercise or "none", confidence), frame by frame."""

    def __init__(self, booster, meta: dict):
        self.booster = booster
        self.classes: list[str] = meta["classes"]
        self.buffer = WindowBuffer(meta.get("window_s", 2.5))
        self.current, self.confidence = "none", 0.0
        self.probs: np.ndarray | None = None     # averaged
        self.raw: np.ndarray | None = None       # last evaluation
        self.raw_label = "none"
        self.last_eval: float | None = None
        self.window_start: float | None = None   # first pose frame of the last evaluated window
        self._streak = 0
        self._low_since: float | None = None
        self.switched_at: float | None = None

    @classmethod
    def load(cls, model_dir: str | Path) -> "WindowRecognizer":
        booster, meta = load_model(model_dir)
        return cls(booster, meta)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(features[None]))[0]

    def update(self, t: float, landmarks: np.ndarray | None, aspect: float) -> tuple[str, float]:
        self.buffer.push(t, landmarks, aspect)
        if self.last_eval is not None and t - self.last_eval < EVAL_S:
            return self.current, self.confidence
        feats = self.buffer.features()
        if feats is None and self.probs is None:
            # Not enough of the stream yet to judge: no opinion (a "none" here would only delay the first answer,
            # and a recording of one rep is over in a second). The next frame tries again rather than EVAL_S
            # later: a clip of one rep may end a few frames after the window is long enough.
            return self.current, self.confidence
        prev = self.last_eval
        self.last_eval = t
        if feats is None:
            p = np.zeros(len(self.classes))
            p[self.classes.index("none")] = 1.0   # the person left (or too little of them): nothing is going on
            self.window_start = None
        else:
            p = self.rule_out_postures(self.predict(feats))
            self.window_start = self.buffer.start()
        self.raw = p
        self.raw_label = self.classes[int(np.argmax(p))]
        dt = EVAL_S if prev is None else t - prev
        a = 1.0 - np.exp(-dt / SMOOTH_S)
        if self.probs is None:
            # The vote starts from "nothing going on" and the first answer, on a window shorter than the full
            # one, weighs by how much of it it saw: 0.8 s of a push-up held at the top looks like a plank, and
            # must not name it alone. (The raw answer stands as it is: a stream that ends now falls back on it.)
            self.probs = np.zeros(len(self.classes))
            self.probs[self.classes.index("none")] = 1.0
            a = min(1.0, self.buffer.pose_span() / self.buffer.window_s)
        self.probs = self.probs + a * (p - self.probs)
        best = int(np.argmax(self.probs))
        name = self.classes[best]
        if name != self.current and self.probs[best] >= ENTER:
            self._streak += 1
            if self._streak >= CONFIRM:
                self._switch(t, name)
        else:
            self._streak = 0
        if self.current != "none":
            if self.probs[self.classes.index(self.current)] < LEAVE:
                self._low_since = t if self._low_since is None else self._low_since
                if t - self._low_since >= LEAVE_S:
                    self._switch(t, "none")
            else:
                self._low_since = None
        self.confidence = float(self.probs[self.classes.index(self.current)])
        return self.current, self.confidence

    def rule_out_postures(self, p: np.ndarray) -> np.ndarray:
        """The model's answer without the exercises this window's body cannot be doing (common/exercises.py:
        window_posture: jumping jacks sitting on the floor, push-ups standing upright)."""
        p = p.copy()
        for i, name in enumerate(self.classes):
            entry = CATALOGUE.get(name)
            if entry is not None and not all(gate.passes(*self.buffer.measure(gate.measure))
                                             for gate in entry.window_posture):
                p[i] = 0.0
        total = p.sum()
        if total <= 1e-9:
            p[self.classes.index("none")] = 1.0
            return p
        return p / total

    def _switch(self, t: float, name: str) -> None:
        self.current, self.switched_at = name, t
        self._streak, self._low_since = 0, None


def load_model(model_dir: str | Path):
    """(booster, metadata) of the window model; one per process, shared by every session's recogniser."""
    import xgboost as xgb
    model_dir = Path(model_dir)
    meta = json.loads((model_dir / METADATA_FILE).read_text())
    if list(meta.get("features", [])) != FEATURE_NAMES:
        raise ValueError(f"{model_dir / METADATA_FILE}: the window model was trained on other features than this "
                         f"code computes; rebuild it with `fitness-trainer train`")
    booster = xgb.Booster()
    booster.load_model(str(model_dir / MODEL_FILE))
    booster.set_param({"nthread": 1})   # one window is far too small to share out
    return booster, meta
