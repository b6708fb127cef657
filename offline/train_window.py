"""The window recogniser's model: XGBoost on window features of the training clips (plus "none"), augmented.

A window is labelled with the clip's exercise while that exercise's own rep signal moves in it, "none" while the
body is still (standing or lying still is never an exercise) or does something else ('other' clips, the parts of
clips described in offline/dataset.SEGMENTS), and plank throughout a plank clip. Replays of every clip
(offline/replays.py: another camera and trainee; push-ups turned head-up; forearm planks raised onto straight arms;
crunches with straighter legs, and replayed as leg raises, which are "none"; side views, and front views of jumping
jacks, seen from another direction) teach it cameras, trainees and variants the clips do not have.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from common.exercises import CATALOGUE, EXERCISES, NONE
from common.rep_signals import measure_all, signal_value
from offline import dataset, replays
from offline.clip_stream import Clip
from services.classifier import motion_window as window
from services.classifier.recognizer import METADATA_FILE, MODEL_FILE

CLASSES = [NONE, *EXERCISES]
STEP_S = 0.25            # a training window every this many seconds of clip
SEED = 10
AUG_COPIES = 3           # augmented replays of each clip besides the plain one
PARAMS = dict(objective="multi:softprob", num_class=len(CLASSES), max_depth=4, eta=0.1, subsample=0.8,
              colsample_bytree=0.7, min_child_weight=2, seed=SEED, eval_metric="mlogloss")
ROUNDS = 150
# The same model for scikit-learn's interface: what the training report's comparison scores.
SKLEARN_PARAMS = dict(n_estimators=ROUNDS, max_depth=PARAMS["max_depth"], learning_rate=PARAMS["eta"],
                      subsample=PARAMS["subsample"], colsample_bytree=PARAMS["colsample_bytree"],
                      min_child_weight=PARAMS["min_child_weight"], tree_method="hist")
MOVING, STILL = 0.6, 0.3  # the clip's signal swings >= MOVING x its minimum rep swing: exercising; < STILL: still


def signal_ranges(clip: Clip) -> list[tuple[np.ndarray, float]]:
    """(per-frame value, minimum rep swing) of each signal of the clip's own exercise (not its fallbacks: they
    stand in for the others where those are unseen)."""
    entry = CATALOGUE.get(clip.exercise)
    if entry is None or not entry.signals:
        return []
    measures = [measure_all(lm, clip.aspect) for lm in clip.landmarks]
    out = []
    for signal in (s for s in entry.signals if not s.fallback):
        values = np.array([np.nan if (v := signal_value(signal, m)) is None else v for m in measures])
        out.append((values, signal.min_swing))
    return out


def window_label(clip: Clip, t0: float, t1: float, signals: list, stretch: float,
                 source_t: np.ndarray | None = None) -> str | None:
    """What a window shows: its exercise while it moves, "none" while still or not exercising; None = unused.
    `source_t`: the times of the frames `signals` come from, when they are those of the clip as filmed."""
    segment = dataset.segment_label(clip.file, (t0 + t1) / 2 / stretch)   # segments are in the clip's own time
    if segment == NONE:
        return NONE
    if segment == dataset.SKIP:
        return None
    if clip.exercise == dataset.OTHER:
        return NONE
    if CATALOGUE[clip.exercise].hold:
        return clip.exercise
    inside = (clip.t >= t0) & (clip.t <= t1) if source_t is None else \
        (source_t >= t0 / stretch) & (source_t <= t1 / stretch)
    swings = []
    for values, min_swing in signals:
        w = values[inside]
        w = w[np.isfinite(w)]
        if len(w) >= 3:
            swings.append((np.percentile(w, 95) - np.percentile(w, 5)) / min_swing)
    if not swings:
        return None
    if max(swings) >= MOVING:
        return clip.exercise
    if max(swings) < STILL:
        return NONE                              # standing (or lying) still is never an exercise
    return None


def clip_windows(clip: Clip, stretch: float = 1.0, source: Clip | None = None) -> tuple[np.ndarray, list[str]]:
    """Window features every STEP_S along the clip (each window ending at its newest frame) and their labels (from
    `source`'s signals, in its own time, when given: the clip as filmed)."""
    present = ~np.isnan(clip.landmarks[:, 0, 0])
    descriptors = np.full((len(clip.t), len(window.FRAME_COLS)), np.nan)
    if present.any():
        descriptors[present] = window.frame_descriptors(clip.landmarks[present], clip.aspect)
    signals = signal_ranges(source or clip)
    feats, labels = [], []
    if len(clip.t):
        for t1 in np.arange(clip.t[0] + window.MIN_SPAN_S, clip.t[-1] + 1e-9, STEP_S):
            sel = (clip.t > t1 - window.WINDOW_S) & (clip.t <= t1)
            seen = present[sel]
            if seen.sum() < 3 or clip.t[sel][seen][-1] - clip.t[sel][seen][0] < window.MIN_SPAN_S:
                continue
            label = window_label(clip, t1 - window.WINDOW_S, t1, signals, stretch,
                                 None if source is None else source.t)
            if label is not None:
                feats.append(window.window_features(clip.t[sel], descriptors[sel], seen))
                labels.append(label)
    X = np.array(feats, np.float32) if feats else np.zeros((0, len(window.FEATURE_NAMES)), np.float32)
    return X, labels


def clip_dataset(clip: Clip, copies: int = AUG_COPIES, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Windows of the clip as recorded plus `copies` augmented replays (seeded by the clip's name)."""
    rng = np.random.default_rng([seed, sum(map(ord, clip.file))])
    X, labels = clip_windows(clip)
    xs, ys = [X], list(labels)

    def replay(source: Clip, labels_from: Clip | None = None) -> None:
        """Windows of an augmented replay of `source` (labelled from `labels_from`'s signals when given)."""
        augmented, stretch = replays.augment(source, rng)
        Xa, la = clip_windows(augmented, stretch, source=labels_from)
        xs.append(Xa)
        ys.extend(la)

    inclined = replays.INCLINE_COPIES if clip.exercise in replays.INCLINES else 0
    for i in range(copies + inclined):
        source = clip if i < copies else replays.incline(clip, *replays.INCLINES[clip.exercise], rng)
        if source is not None:
            replay(source)
    for _ in range(replays.OPEN_KNEE_COPIES if clip.exercise in replays.OPEN_KNEES else 0):
        replay(replays.knees_opened(clip, rng))
    raising = replays.leg_raises(clip, rng) if clip.exercise in replays.LEG_RAISED else None
    for _ in range(replays.LEG_RAISE_COPIES if raising is not None else 0):
        replay(raising)
    raised = replays.straight_armed(clip) if clip.exercise == "plank" else None
    for _ in range(replays.STRAIGHT_ARM_COPIES if raised is not None else 0):
        replay(raised)
    sources = [clip] if raised is None else [clip, raised]      # a plank is turned on its forearms and its hands
    for i in range(replays.TURN_COPIES if clip.exercise in replays.TURNED + replays.FRONT_TURNED else 0):
        source = replays.turned(sources[i % len(sources)], rng)
        if source is None:
            break
        replay(source, labels_from=clip)
    return np.concatenate(xs), np.array([CLASSES.index(v) for v in ys], int)


def fit(X: np.ndarray, y: np.ndarray, n_jobs: int = 2, rounds: int = ROUNDS):
    """XGBoost with every class weighted equally (few 'none' and lunge windows must still count)."""
    import xgboost as xgb
    counts = np.bincount(y, minlength=len(CLASSES)).astype(float)
    weights = (len(y) / (len(CLASSES) * np.maximum(counts, 1)))[y]
    dtrain = xgb.DMatrix(X, label=y, weight=weights, feature_names=window.FEATURE_NAMES)
    return xgb.train({**PARAMS, "nthread": n_jobs}, dtrain, rounds)


def metadata(train_files: list[str], y: np.ndarray, rounds: int = ROUNDS) -> dict:
    return {"classes": CLASSES, "features": window.FEATURE_NAMES, "window_s": window.WINDOW_S,
            "min_span_s": window.MIN_SPAN_S, "step_s": STEP_S, "params": PARAMS, "rounds": rounds,
            "aug_copies": AUG_COPIES, "inclines": replays.INCLINES, "incline_copies": replays.INCLINE_COPIES,
            "turned": list(replays.TURNED), "front_turned": list(replays.FRONT_TURNED),
            "turn_copies": replays.TURN_COPIES, "straight_arm_copies": replays.STRAIGHT_ARM_COPIES,
            "open_knees": list(replays.OPEN_KNEES), "open_knee_copies": replays.OPEN_KNEE_COPIES,
            "open_knee_deg": list(replays.OPEN_KNEE_DEG),
            "leg_raised": list(replays.LEG_RAISED), "leg_raise_copies": replays.LEG_RAISE_COPIES,
            "turn_deg": list(replays.TURN_DEG), "seed": SEED,
            "train_clips": sorted(train_files),
            "windows": {c: int((y == i).sum()) for i, c in enumerate(CLASSES)}}


def save(booster, out_dir: Path, train_files: list[str], y: np.ndarray) -> dict:
    """Write the model and its metadata (what the recogniser loads) into out_dir; returns the metadata."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out_dir / MODEL_FILE))
    meta = metadata(train_files, y, int(booster.num_boosted_rounds()))
    (out_dir / METADATA_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def build(clips: list[Clip], out_dir: Path, n_jobs: int = 2) -> dict:
    """Fit on these clips and write the model and its metadata into out_dir; returns the metadata."""
    data = [clip_dataset(c) for c in clips]
    X = np.concatenate([d[0] for d in data])
    y = np.concatenate([d[1] for d in data])
    return save(fit(X, y, n_jobs), out_dir, [c.file for c in clips], y)
