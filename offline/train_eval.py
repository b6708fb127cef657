"""Held-out evaluation of the saved cascade: per frame, per clip (through the real votes), reps and timing."""
from __future__ import annotations

import time
from collections import Counter

import numpy as np

from common.exercises import NONE, is_hold
from common.features import features
from services.classifier.cascade import Cascade
from services.classifier.session import SessionClassifier
from services.classifier.voting import VoteOptions
from offline.dataset import OTHER, FrameSet
from offline.phase_labels import count_cycles


def truth_of(fs: FrameSet) -> str:
    return NONE if fs.source_exercise == OTHER else fs.source_exercise


def run_session(cascade: Cascade, fs: FrameSet, options: VoteOptions = VoteOptions()) -> dict:
    """Every frame of a clip through a fresh SessionClassifier, in order, as the live service would."""
    session = SessionClassifier(cascade, window=options.window, options=options)
    out = {"exercise": [], "phase": [], "raw": []}
    for lm in fs.landmarks:
        r = session.classify(None if np.isnan(lm[0, 0]) else lm, fs.aspect)
        out["exercise"].append(r.exercise)
        out["phase"].append(r.phase)
        out["raw"].append(r.raw_exercise)
    return {k: np.array(v, dtype=object) for k, v in out.items()}


def reps_by_exercise(exercise: np.ndarray, phase: np.ndarray) -> dict[str, int]:
    """Start -> end -> start cycles of the voted phase, per voted exercise (how a coach would count)."""
    reps: Counter = Counter()
    for name in set(exercise) - {NONE}:
        if not is_hold(name):
            reps[name] = count_cycles(np.where(exercise == name, phase, ""))
    return dict(reps)


def clip_result(cascade: Cascade, fs: FrameSet, options: VoteOptions) -> dict:
    truth = truth_of(fs)
    pose = fs.has_pose
    run = run_session(cascade, fs, options)
    raw = Counter(run["raw"][pose])
    voted = Counter(run["exercise"][pose])
    reps = reps_by_exercise(run["exercise"], run["phase"])
    return {
        "file": fs.info.get("file", fs.source), "truth": truth, "frames": len(pose), "with_pose": int(pose.sum()),
        "raw_majority": raw.most_common(1)[0][0] if raw else NONE,
        "voted_majority": voted.most_common(1)[0][0] if voted else NONE,
        "raw_counts": dict(raw.most_common(3)), "voted_counts": dict(voted.most_common(3)),
        "reps_label": fs.info.get("reps"), "reps_counted": reps.get(truth, 0),
        "reps_other_exercises": sum(v for k, v in reps.items() if k != truth),
        "phase_changes": int(sum(1 for a, b in zip(run["phase"][:-1], run["phase"][1:]) if a and b and a != b)),
    }


def frame_predictions(cascade: Cascade, held: list[FrameSet]) -> dict:
    """Labelled held-out frames: true and predicted labels of both levels (level 2 chained and given truth)."""
    ex_true, ex_pred, ph_true, ph_chain, ph_given = [], [], [], [], []
    for fs in held:
        idx = np.flatnonzero(fs.has_pose & (fs.exercise != ""))
        if not len(idx):
            continue
        feats = features(fs.landmarks[idx], fs.aspect)
        out = cascade.predict(feats)
        ex_true += list(fs.exercise[idx])
        ex_pred += list(out.exercise)
        has_phase = np.isin(fs.phase[idx], ["start", "end"])
        if has_phase.any():
            ph_true += list(fs.phase[idx][has_phase])
            # Chained: the phase the cascade gives with its own level-1 answer ("" if that was none/plank).
            ph_chain += list(out.phase[has_phase])
            given, _ = cascade.phase(feats[has_phase], fs.exercise[idx][has_phase])
            ph_given += list(given)
    return {k: np.array(v, dtype=object) for k, v in
            dict(ex_true=ex_true, ex_pred=ex_pred, ph_true=ph_true, ph_chain=ph_chain, ph_given=ph_given).items()}


def confusion(true: np.ndarray, pred: np.ndarray, labels: list[str]) -> list[list[int]]:
    index = {name: i for i, name in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), int)
    for t, p in zip(true, pred):
        if t in index and p in index:
            m[index[t], index[p]] += 1
    return m.tolist()


def timing(cascade: Cascade, fs_list: list[FrameSet], repeats: int = 300) -> dict:
    """Milliseconds per single frame: cascade.predict alone and the whole SessionClassifier.classify."""
    frames = np.concatenate([fs.landmarks[fs.has_pose][:50] for fs in fs_list if fs.has_pose.any()])
    aspect = fs_list[0].aspect
    feats = features(frames, aspect)
    session = SessionClassifier(cascade)
    cascade_ms, classify_ms = [], []
    for i in range(repeats):
        f = feats[i % len(feats)]
        t = time.perf_counter()
        cascade.predict(f)
        cascade_ms.append(time.perf_counter() - t)
        t = time.perf_counter()
        session.classify(frames[i % len(frames)], aspect)
        classify_ms.append(time.perf_counter() - t)
    return {"cascade_predict_ms_median": float(np.median(cascade_ms) * 1000),
            "cascade_predict_ms_p95": float(np.percentile(cascade_ms, 95) * 1000),
            "classify_ms_median": float(np.median(classify_ms) * 1000),
            "classify_ms_p95": float(np.percentile(classify_ms, 95) * 1000)}


def evaluate(cascade: Cascade, held: list[FrameSet], classes: list[str], options: VoteOptions = VoteOptions(),
             progress=None) -> dict:
    from sklearn.metrics import f1_score
    frames = frame_predictions(cascade, held)
    clips = []
    for fs in held:
        if fs.has_pose.any():
            clips.append(clip_result(cascade, fs, options))
        else:
            clips.append({"file": fs.info.get("file"), "truth": truth_of(fs), "with_pose": 0})
        if progress:
            progress(1)
    scored = [c for c in clips if c["with_pose"]]
    counted = [c for c in scored if c["reps_label"] is not None and c["truth"] != NONE and not is_hold(c["truth"])]
    others = [c for c in scored if c["truth"] == NONE]
    phases = ["start", "end"]
    return {
        "frames": {
            "level1_accuracy": float(np.mean(frames["ex_true"] == frames["ex_pred"])),
            "level1_macro_f1": float(f1_score(frames["ex_true"], frames["ex_pred"], labels=classes, average="macro",
                                              zero_division=0)),
            "level1_frames": int(len(frames["ex_true"])),
            "level1_confusion": {"labels": classes, "rows_true_cols_pred":
                                 confusion(frames["ex_true"], frames["ex_pred"], classes)},
            "level2_accuracy_chained": float(np.mean(frames["ph_true"] == frames["ph_chain"])),
            "level2_accuracy_given_exercise": float(np.mean(frames["ph_true"] == frames["ph_given"])),
            "level2_frames": int(len(frames["ph_true"])),
            "level2_confusion_given_exercise": {"labels": phases, "rows_true_cols_pred":
                                                confusion(frames["ph_true"], frames["ph_given"], phases)},
        },
        "clips": {
            "count": len(scored),
            "without_pose": [c["file"] for c in clips if not c["with_pose"]],
            "raw_majority_accuracy": float(np.mean([c["raw_majority"] == c["truth"] for c in scored])),
            "voted_majority_accuracy": float(np.mean([c["voted_majority"] == c["truth"] for c in scored])),
            "reps_exact": float(np.mean([c["reps_counted"] == c["reps_label"] for c in counted])) if counted else None,
            "reps_within_1": float(np.mean([abs(c["reps_counted"] - c["reps_label"]) <= 1 for c in counted]))
            if counted else None,
            "reps_counted_on_other_clips": int(sum(c["reps_other_exercises"] for c in others)),
            "per_clip": clips,
        },
        "timing": timing(cascade, held),
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
