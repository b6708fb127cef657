"""Recognition of camera directions the window model never saw: every clip not filmed from the side is left out.

    python -m offline.view_out [--json]

Trainees film from wherever the phone stands, and the data has few clips of most views. This trains the window
model on every labelled clip except those of the exercises `offline.train_window.TURNED` replays from other
directions (push-ups, crunches, squats, lunges) that are not filmed from the side, then scores those left-out
clips: the share of their windows of motion named right, and each clip's most frequent answer. Not a shipped
model: an experiment on design choices (it uses held-out clips too).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from common.config import Settings
from common.exercises import NONE
from offline import clip_stream, dataset, train_window
from services.classifier import motion_window as window

EXERCISES = ("push_up", "crunch", "squat", "lunge")


def width_over_torso(clip: clip_stream.Clip) -> float:
    """Shoulder width over torso length in the picture (train_window.proportions; under SIDE_VIEW: a side view)."""
    torso, width = train_window.proportions(clip)
    return width / max(torso, 1e-6)


def run(data_dir: Path) -> dict:
    import xgboost as xgb
    clips = {lab.file: clip_stream.load(lab, data_dir) for lab in dataset.read_labels(data_dir)}
    left_out = sorted(f for f, c in clips.items()
                      if c.exercise in EXERCISES and not width_over_torso(c) < train_window.SIDE_VIEW)
    data = [train_window.clip_dataset(c) for f, c in clips.items() if f not in left_out]
    booster = train_window.fit(np.concatenate([d[0] for d in data]), np.concatenate([d[1] for d in data]))
    rows, right, total = [], 0, 0
    for f in left_out:
        X, labels = train_window.clip_windows(clips[f])
        moving = np.array(labels) != NONE
        if not moving.any():
            continue
        answers = np.array(train_window.CLASSES)[
            booster.predict(xgb.DMatrix(X[moving], feature_names=window.FEATURE_NAMES)).argmax(1)]
        names, counts = np.unique(answers, return_counts=True)
        hits = int((answers == clips[f].exercise).sum())
        right, total = right + hits, total + len(answers)
        rows.append({"file": f, "exercise": clips[f].exercise, "width_over_torso": round(width_over_torso(clips[f]), 2),
                     "windows": len(answers), "windows_right": round(hits / len(answers), 3),
                     "most_frequent": str(names[counts.argmax()])})
    return {"left_out_clips": len(rows), "windows_right": round(right / max(total, 1), 3),
            "clips_right": sum(r["most_frequent"] == r["exercise"] for r in rows),
            "per_exercise": {ex: sum(r["most_frequent"] == ex for r in rows if r["exercise"] == ex)
                             for ex in EXERCISES},
            "clips": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.view_out", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="the whole report as JSON")
    args = parser.parse_args(argv)
    data_dir = Path(Settings.from_env().data_dir)
    if not (data_dir / "clips" / "labels.csv").is_file():
        print(f"python -m offline.view_out: no labelled clips in {data_dir}", file=sys.stderr)
        return 1
    report = run(data_dir)
    if args.json:
        print(json.dumps(report))
        return 0
    for r in report["clips"]:
        print(f"{r['file']:<60} {r['exercise']:>8} width/torso {r['width_over_torso']:.2f} windows {r['windows']:4d} "
              f"right {r['windows_right']:.2f} most often {r['most_frequent']}")
    print(f"left out {report['left_out_clips']} clips: windows right {report['windows_right']:.1%}, clips right (most "
          f"frequent answer) {report['clips_right']} of {report['left_out_clips']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
