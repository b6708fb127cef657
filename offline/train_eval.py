"""Held-out evaluation of the saved models: level 1 per window, level 2 per frame, the exercise per clip, timing."""
from __future__ import annotations

import time
from collections import Counter

import numpy as np

from common.exercises import NONE
from common.features import features
from offline.clip_stream import Clip
from offline.dataset import OTHER, FrameSet
from services.classifier.cascade import Cascade
from services.classifier.session import SessionClassifier


def truth_of(exercise: str) -> str:
    return NONE if exercise == OTHER else exercise


def recognised_exercises(cascade: Cascade, clip: Clip) -> np.ndarray:
    """The exercise recognised on every frame of a clip, in order, as the live service would."""
    session = SessionClassifier(cascade)
    return np.array([session.classify(None if np.isnan(lm[0, 0]) else lm, clip.aspect, float(t)).exercise
                     for t, lm in zip(clip.t, clip.landmarks)], dtype=object)


def clip_result(cascade: Cascade, clip: Clip) -> dict:
    seen = ~np.isnan(clip.landmarks[:, 0, 0])
    recognised = recognised_exercises(cascade, clip)
    named = Counter(recognised[seen & (recognised != NONE)])
    majority = named.most_common(1)[0][0] if named else NONE
    return {"file": clip.file, "truth": truth_of(clip.exercise), "frames": len(seen), "with_pose": int(seen.sum()),
            "recognised_majority": majority, "recognised_counts": dict(Counter(recognised[seen]).most_common(3)),
            "switches": int(sum(1 for a, b in zip(recognised[:-1], recognised[1:]) if a != b))}


def level2_given_exercise(cascade: Cascade, held: list[FrameSet]) -> tuple[np.ndarray, np.ndarray]:
    """Level 2's phase on labelled held-out frames, told the true exercise: (truth, answer)."""
    truth, answer = [], []
    for fs in held:
        idx = np.flatnonzero(fs.has_pose & np.isin(fs.phase, ["start", "end"]))
        if len(idx):
            phase, _ = cascade.phase(features(fs.landmarks[idx], fs.aspect), fs.exercise[idx])
            truth += list(fs.phase[idx])
            answer += list(phase)
    return np.array(truth, dtype=object), np.array(answer, dtype=object)


def confusion(true: np.ndarray, pred: np.ndarray, labels: list[str]) -> list[list[int]]:
    index = {name: i for i, name in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), int)
    for t, p in zip(true, pred):
        if t in index and p in index:
            m[index[t], index[p]] += 1
    return m.tolist()


def timing(cascade: Cascade, clips: list[Clip], repeats: int = 600) -> dict:
    """Milliseconds per frame of SessionClassifier.classify (window recogniser included, at the clip's rate)."""
    clip = max(clips, key=lambda c: int((~np.isnan(c.landmarks[:, 0, 0])).sum()))
    session = SessionClassifier(cascade)
    spent = []
    for i in range(min(repeats, len(clip.t))):
        lm = clip.landmarks[i]
        started = time.perf_counter()
        session.classify(None if np.isnan(lm[0, 0]) else lm, clip.aspect, float(clip.t[i]))
        spent.append(time.perf_counter() - started)
    return {"classify_ms_mean": float(np.mean(spent) * 1000), "classify_ms_median": float(np.median(spent) * 1000),
            "classify_ms_p95": float(np.percentile(spent, 95) * 1000), "frames": len(spent)}


def evaluate(cascade: Cascade, held_sets: list[FrameSet], held_clips: list[Clip], X_windows: np.ndarray,
             y_windows: np.ndarray, progress=None) -> dict:
    from sklearn.metrics import f1_score
    booster, meta = cascade.window_model
    classes = meta["classes"]
    windows_pred = np.asarray(booster.inplace_predict(X_windows)).argmax(axis=1) if len(X_windows) else []
    true_w = np.array([classes[i] for i in y_windows], dtype=object)
    pred_w = np.array([classes[i] for i in windows_pred], dtype=object)
    ph_true, ph_given = level2_given_exercise(cascade, held_sets)
    clips = []
    for clip in held_clips:
        clips.append(clip_result(cascade, clip))
        if progress:
            progress(1)
    scored = [c for c in clips if c["with_pose"]]
    phases = ["start", "end"]
    return {
        "windows": {
            "level1_accuracy": float(np.mean(true_w == pred_w)) if len(true_w) else None,
            "level1_macro_f1": float(f1_score(true_w, pred_w, labels=classes, average="macro", zero_division=0))
            if len(true_w) else None,
            "level1_windows": int(len(true_w)),
            "level1_confusion": {"labels": classes, "rows_true_cols_pred": confusion(true_w, pred_w, classes)},
        },
        "frames": {
            "level2_accuracy_given_exercise": float(np.mean(ph_true == ph_given)) if len(ph_true) else None,
            "level2_frames": int(len(ph_true)),
            "level2_confusion_given_exercise": {"labels": phases,
                                                "rows_true_cols_pred": confusion(ph_true, ph_given, phases)},
        },
        "clips": {
            "count": len(scored),
            "without_pose": [c["file"] for c in clips if not c["with_pose"]],
            "recognised_majority_accuracy": float(np.mean([c["recognised_majority"] == c["truth"] for c in scored]))
            if scored else None,
            "per_clip": clips,
        },
        "timing": timing(cascade, held_clips) if held_clips else {},
    }


def phase_label_check(sets: list[FrameSet]) -> dict:
    """How well the clips' labelling procedure agrees with the form-labelled rows' own up/down labels."""
    from sklearn.metrics import roc_auc_score
    from offline.phase_labels import label_phases, movement_signal
    out = {}
    for fs in sets:
        if fs.kind != "rows" or "row_labels" not in fs.info:
            continue
        truth = fs.phase
        known = np.isin(truth, ["start", "end"])
        signal = movement_signal(fs.source_exercise, fs.landmarks, fs.aspect)
        ok = known & np.isfinite(signal)
        # The rows are many recordings back to back: normalise over the file, as one long clip.
        labelled = label_phases(fs.source_exercise, fs.landmarks, fs.aspect, fs.fps).phase
        decided = known & np.isin(labelled, ["start", "end"])
        out[fs.source] = {
            "rows": int(known.sum()),
            "signal_auc_end_vs_start": float(roc_auc_score(truth[ok] == "end", signal[ok])),
            "labelled_share": float(decided.sum() / max(1, known.sum())),
            "agreement_where_labelled": float(np.mean(labelled[decided] == truth[decided])) if decided.any() else None,
        }
    return out
