"""Tune the coach in-process: cached poses of the labelled clips -> classifier -> CoachProcessor -> scores.

    python -m offline.coach_eval [--only TEXT] [--held-out] [--verbose] [--json]

The same classifier and coach code as the live services, without processes or sockets, on the landmark cache
(offline.landmark_cache). Clips marked * were held out of training (models/split.json); their figures are
reported apart.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

from common.config import Settings
from common.exercises import EXERCISES
from common.history import HistoryWriter
from common.messages import Classification, CoachUpdate, EndOfStream, SessionSummary
from services.coach.processor import CoachProcessor


CLIPS_DIR = Path(Settings.from_env().data_dir) / "clips"


def model_stream(clip, cascade, window: int):
    from services.classifier.session import SessionClassifier
    classifier = SessionClassifier(cascade, window=window)
    out = []
    for lm in clip.landmarks:
        res = classifier.classify(None if np.isnan(lm[0, 0]) else lm, clip.aspect)
        out.append((res.exercise, res.phase, float(res.exercise_conf), float(res.phase_conf), res.raw_exercise))
    return out


def run_clip(processor: CoachProcessor, session: str, clip, stream) -> tuple[dict, list]:
    """Feed one clip through the coach; returns (summary, coach updates with an event)."""
    events = []
    summary = None
    for i, item in enumerate(stream):
        exercise, phase = item[0], item[1]
        lm = clip.landmarks[i]
        landmarks = b"" if np.isnan(lm[0, 0]) else np.ascontiguousarray(lm, np.float32).tobytes()
        msg = Classification(session=session, seq=i, ts_capture=i / clip.fps, live=False, width=clip.width,
                             height=clip.height, landmarks=landmarks, dark_share=float(clip.dark_share[i]),
                             bright_share=float(clip.bright_share[i]), exercise=exercise, phase=phase,
                             exercise_conf=item[2] if len(item) > 2 else 1.0,
                             phase_conf=item[3] if len(item) > 3 else 1.0,
                             raw_exercise=item[4] if len(item) > 4 else exercise)
        for out in processor.process(msg):
            if isinstance(out, CoachUpdate) and out.events:
                events.append((round(i / clip.fps, 2), ",".join(out.events), dict(out.reps), out.form_score))
            elif not isinstance(out, CoachUpdate):
                events.append((round(i / clip.fps, 2), out.TYPE, getattr(out, "text", "")))
    for out in processor.process(EndOfStream(session=session, seq=len(stream), frames=len(stream), fps=clip.fps)):
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
        out[ex] = {"clips": len(rs), "exact": round(np.mean([e == 0 for e in err]), 3),
                   "obo": round(np.mean([e <= 1 for e in err]), 3),
                   "mae": round(np.mean([e / max(1, r["reps_true"]) for e, r in zip(err, rs)]), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.coach_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="only clips whose file name contains this text")
    parser.add_argument("--held-out", action="store_true", help="only the clips held out of training (models/split.json)")
    parser.add_argument("--verbose", action="store_true", help="print the coach's events per clip")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not CLIPS_DIR.is_dir():
        print(f"no clips at {CLIPS_DIR}", file=sys.stderr)
        return 1
    from offline.dataset import read_split
    from offline.evaluate import clip_row, score
    from offline.labels import read_labels
    from offline.landmark_cache import extract
    from services.classifier.cascade import Cascade
    labels = read_labels(CLIPS_DIR / "labels.csv")
    settings = Settings.from_env()
    cascade = Cascade.load(settings.models_dir)
    split = read_split(settings.models_dir)
    held_out = set(split["held_out"]) if split is not None else set()   # never seen by the models: honest figures
    tmp = tempfile.TemporaryDirectory(prefix="coach-eval-")
    processor = CoachProcessor(HistoryWriter(Path(tmp.name) / "eval.sqlite3"), settings)
    rows = []
    for name, lab in labels.items():
        if (args.only and args.only not in name) or (args.held_out and name not in held_out):
            continue
        clip = extract(CLIPS_DIR / name)
        summary, events = run_clip(processor, name, clip, model_stream(clip, cascade, settings.vote_window))
        row = {**clip_row(lab, summary), "held_out": name in held_out}
        rows.append(row)
        if not args.json:
            pred, reps, hold = row["exercise_pred"], row["reps_pred"], row["hold_pred"]
            bad = (pred != lab.exercise or (lab.reps is not None and reps != lab.reps)
                   or (lab.hold_seconds is not None and abs(hold - lab.hold_seconds) > 1.5))
            mark = ("BAD" if bad else "ok ") + ("*" if name in held_out else " ")
            print(f"{mark}{name:<52} {lab.exercise:>12} -> {pred:<12} reps {lab.reps!s:>4} -> {reps:<3} "
                  f"hold {lab.hold_seconds!s:>5} -> {hold:<6.2f}", flush=True)
            if args.verbose:
                for e in events:
                    print("      ", e)
    report = {"overall": score(rows), "per_exercise": per_exercise(rows)}
    if held_out:   # * in the listing
        unseen = [r for r in rows if r["held_out"]]
        report["held_out"] = {"overall": score(unseen), "per_exercise": per_exercise(unseen)}
    if args.json:
        report["clips"] = rows
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
