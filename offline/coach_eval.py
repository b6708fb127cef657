"""The classifier and coach in-process on cached poses of the labelled clips, frame by frame, and their scores.

    python -m offline.coach_eval [--held-out | --train-oof] [--exercise-given] [--fps N] [--only TEXT]
                                 [--verbose] [--json]

The same classifier session and coach code as the live services, without processes or sockets, on the landmark
cache (offline.landmark_cache): minutes instead of the real pipeline's `eval`, same results. `--held-out` scores
the clips the models never saw (models/split.json); `--train-oof` the training clips, each with a window model
fitted on the other folds (grouped by clip), so no clip is scored by a model that saw it. Design choices are
judged out-of-fold; the held-out figures are for reporting.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common.config import Settings
from common.exercises import EXERCISES
from common.history import HistoryWriter
from common.messages import Classification, CoachUpdate, EndOfStream, SessionSummary
from offline.clip_stream import Clip
from services.coach.processor import CoachProcessor

FOLDS = 5
FOLD_SEED = 10


def classified(clip: Clip, session: str, cascade, chosen: str = ""):
    """The clip's frames as the classifier service would publish them (one Classification per frame)."""
    from services.classifier.session import SessionClassifier
    classifier = SessionClassifier(cascade)
    for i, (t, lm) in enumerate(zip(clip.t, clip.landmarks)):
        seen = not np.isnan(lm[0, 0])
        out = classifier.classify(lm if seen else None, clip.aspect, float(t), chosen)
        yield Classification(session=session, seq=i, ts_capture=float(t), live=False, width=clip.width,
                             height=clip.height, chosen_exercise=chosen,
                             landmarks=np.ascontiguousarray(lm, np.float32).tobytes() if seen else b"",
                             dark_share=float(clip.dark_share[i]), bright_share=float(clip.bright_share[i]),
                             exercise=out.exercise, exercise_conf=float(out.exercise_conf), phase=out.phase,
                             phase_conf=float(out.phase_conf), raw_exercise=out.raw_exercise)


def run_clip(processor: CoachProcessor, session: str, clip: Clip, messages) -> tuple[dict, list]:
    """Feed one clip's classifications through the coach; returns (summary, what happened when)."""
    events = []
    summary = None
    n = 0
    for msg in messages:
        n += 1
        for out in processor.process(msg):
            if isinstance(out, CoachUpdate) and out.events:
                events.append((round(msg.ts_capture, 2), ",".join(out.events), dict(out.reps), out.form_score))
            elif not isinstance(out, CoachUpdate):
                events.append((round(msg.ts_capture, 2), out.TYPE, getattr(out, "text", "")))
    duration = float(clip.t[-1]) + 1 / clip.fps if len(clip.t) else 0.0
    end = EndOfStream(session=session, seq=n, frames=n, fps=n / duration if duration else 0.0)
    for out in processor.process(end):
        if isinstance(out, SessionSummary):
            summary = out.summary
        else:
            events.append(("eos", out.TYPE, getattr(out, "text", "")))
    return summary, events


def per_exercise(rows: list[dict]) -> dict:
    out = {}
    for ex in EXERCISES:
        rs = [r for r in rows if r["exercise_true"] == ex and r["reps_true"] is not None]
        if not rs:
            continue
        err = [abs(r["reps_pred"] - r["reps_true"]) for r in rs]
        out[ex] = {"clips": len(rs), "exact": round(float(np.mean([e == 0 for e in err])), 3),
                   "obo": round(float(np.mean([e <= 1 for e in err])), 3),
                   "mae": round(float(np.mean([e / max(1, r["reps_true"]) for e, r in zip(err, rs)])), 3)}
    return out


def folds(labels: list, k: int = FOLDS, seed: int = FOLD_SEED) -> list[list[str]]:
    """Training clips dealt to k folds, exercise by exercise after a seeded shuffle (grouped by clip)."""
    rng = np.random.default_rng(seed)
    out: list[list[str]] = [[] for _ in range(k)]
    i = 0
    for exercise in sorted({lab.exercise for lab in labels}):
        for f in rng.permutation(sorted(lab.file for lab in labels if lab.exercise == exercise)):
            out[i % k].append(str(f))
            i += 1
    return out


def window_models(side: str, labels: list, models_dir: str, side_labels: list | None = None) -> dict[str, tuple]:
    """file -> the window model that scores it: the shipped one, or (train-oof) one fitted without its fold. The
    folds are dealt over `side_labels` (every training clip), whichever of them `labels` asks for."""
    from services.classifier.recognizer import load_model
    if side != "train-oof":
        model = load_model(models_dir)
        return {lab.file: model for lab in labels}
    from offline import clip_stream, train_window
    from services.classifier.recognizer import METADATA_FILE, MODEL_FILE
    import xgboost as xgb
    side_labels = side_labels or labels
    wanted = {lab.file for lab in labels}
    clips = {lab.file: clip_stream.load(lab) for lab in side_labels}
    data = {f: train_window.clip_dataset(c) for f, c in clips.items()}
    out = {}
    for fold in folds(side_labels):
        if not wanted & set(fold):
            continue
        rest = [f for f in data if f not in fold]
        X = np.concatenate([data[f][0] for f in rest])
        y = np.concatenate([data[f][1] for f in rest])
        booster = train_window.fit(X, y)
        booster.set_param({"nthread": 1})
        meta = train_window.metadata(rest, y)
        with tempfile.TemporaryDirectory() as tmp:   # through the files, exactly as the service loads them
            booster.save_model(str(Path(tmp) / MODEL_FILE))
            (Path(tmp) / METADATA_FILE).write_text(json.dumps(meta))
            loaded = xgb.Booster()
            loaded.load_model(str(Path(tmp) / MODEL_FILE))
            loaded.set_param({"nthread": 1})
        out.update({f: (loaded, meta) for f in fold})
    return out


def evaluate(side: str = "held-out", given: bool = False, fps: float | None = None, only: str = "",
             settings: Settings | None = None, log=None) -> dict:
    """Score one side of the split ("held-out", "train-oof" or "all") in one mode; rows and overall figures."""
    from offline import clip_stream, dataset
    from offline.evaluate import clip_row, score
    from services.classifier.cascade import Cascade
    settings = settings or Settings.from_env()
    split = dataset.read_split(settings.models_dir)
    side_labels = [lab for lab in dataset.read_labels(Path(settings.data_dir))
                   if side == "all" or (split and lab.file in split["held_out" if side == "held-out" else "train"])]
    labels = [lab for lab in side_labels if only in lab.file and not (given and lab.exercise == dataset.OTHER)]
    cascade = Cascade.load(settings.models_dir)
    models = window_models(side, labels, settings.models_dir, side_labels)
    rows, spent, frames = [], 0.0, 0
    with tempfile.TemporaryDirectory(prefix="coach-eval-") as tmp:
        processor = CoachProcessor(HistoryWriter(Path(tmp) / "eval.sqlite3"), settings)
        for lab in labels:
            clip = clip_stream.load(lab, Path(settings.data_dir), max_fps=fps or 0.0)
            started = time.perf_counter()
            fold_cascade = Cascade(models[lab.file], cascade.knn, cascade.metadata)
            messages = classified(clip, lab.file, fold_cascade, lab.exercise if given else "")
            summary, events = run_clip(processor, lab.file, clip, messages)
            spent += time.perf_counter() - started
            frames += len(clip.t)
            row = {**clip_row(lab, summary), "rep_times": [e[0] for e in events if "rep" in str(e[1]).split(",")]}
            rows.append(row)
            if log:
                log(row, events)
    overall = score(rows)
    overall["ms_per_frame"] = round(1000 * spent / max(1, frames), 3)
    return {"side": side, "mode": "exercise given" if given else "recognised", "fps": fps or "clip",
            "overall": overall, "per_exercise": per_exercise(rows), "clips": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.coach_eval", description=__doc__.split("\n")[0])
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--held-out", action="store_true", help="the clips held out of training (default)")
    side.add_argument("--train-oof", action="store_true",
                      help="the training clips, each scored by a window model fitted without its fold")
    side.add_argument("--all", action="store_true", help="every labelled clip with the shipped models")
    parser.add_argument("--exercise-given", action="store_true", help="each clip analysed as its labelled exercise")
    parser.add_argument("--fps", type=float, default=None,
                        help="as a camera of this frame rate (a busy machine) delivers the clips: BlazePose runs on "
                             "those frames (cached separately, extracted on first use)")
    parser.add_argument("--only", default="", help="only clips whose file name contains this text")
    parser.add_argument("--verbose", action="store_true", help="print the coach's events per clip")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if not (Path(settings.data_dir) / "clips" / "labels.csv").is_file():
        print(f"python -m offline.coach_eval: no labelled clips in {settings.data_dir}", file=sys.stderr)
        return 1

    def log(row, events):
        if args.json:
            return
        bad = (row["exercise_pred"] != row["exercise_true"] and not (row["exercise_true"] == "other"
                                                                      and row["reps_all"] == 0)) \
            or (row["reps_true"] is not None and row["reps_pred"] != row["reps_true"]) \
            or (row["hold_true"] is not None and abs(row["hold_pred"] - row["hold_true"]) > 1.0)
        print(f"{'BAD' if bad else 'ok '} {row['file']:<58} {row['exercise_true']:>12} -> {row['exercise_pred']:<12} "
              f"reps {row['reps_true']!s:>4} -> {row['reps_pred']:<3} hold {row['hold_true']!s:>5} -> "
              f"{row['hold_pred']:<6} {row['rep_times'][:12]}", flush=True)
        if args.verbose:
            for e in events:
                print("      ", e)

    side_name = "train-oof" if args.train_oof else "all" if args.all else "held-out"
    report = evaluate(side_name, args.exercise_given, args.fps, args.only, settings, log)
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps({k: report[k] for k in ("side", "mode", "fps", "overall", "per_exercise")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
