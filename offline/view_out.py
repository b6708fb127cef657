"""Recognition of camera directions the window model never saw: every clip not filmed from the side is left out.

    python -m offline.view_out [--json]

Trainees film from wherever the phone stands, and the data has few clips of most views. This trains the window
model on every labelled clip except those of the exercises `offline.replays.TURNED` replays from other
directions (push-ups, crunches, squats, lunges, planks) that are not filmed from the side, then scores those left-out
clips: the share of their windows of motion named right, and each clip's most frequent answer. Not a shipped
model: an experiment on design choices (it uses held-out clips too).

The data has no jumping jacks filmed from the side. The jack clips models/split.json holds out are left out as
well, and scored seen from the side and at an angle: each replayed JACK_TURNS times by replays.turned (the
same geometry that makes the training replays of the front views, so a figure on clips never seen, not on real
side-view footage).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from common.config import Settings
from common.exercises import NONE
from offline import clip_stream, dataset, replays, train_window
from services.classifier import motion_window as window

EXERCISES = ("push_up", "crunch", "squat", "lunge", "plank")
JACK_TURNS = 3


def width_over_torso(clip: clip_stream.Clip) -> float:
    """Shoulder width over torso length in the picture (replays.proportions; under SIDE_VIEW: a side view)."""
    torso, width = replays.proportions(clip)
    return width / max(torso, 1e-6)


def _scored(booster, clip: clip_stream.Clip, windows: tuple[np.ndarray, list[str]], name: str) -> dict | None:
    """The answers on the clip's windows of motion (None: it has none)."""
    import xgboost as xgb
    X, labels = windows
    moving = np.array(labels) != NONE
    if not moving.any():
        return None
    answers = np.array(train_window.CLASSES)[
        booster.predict(xgb.DMatrix(X[moving], feature_names=window.FEATURE_NAMES)).argmax(1)]
    names, counts = np.unique(answers, return_counts=True)
    return {"file": name, "exercise": clip.exercise, "width_over_torso": round(width_over_torso(clip), 2),
            "windows": len(answers), "right": int((answers == clip.exercise).sum()),
            "most_frequent": str(names[counts.argmax()])}


def _summary(rows: list[dict]) -> dict:
    for r in rows:
        r["windows_right"] = round(r["right"] / r["windows"], 3)
    return {"left_out_clips": len(rows),
            "windows_right": round(sum(r["right"] for r in rows) / max(sum(r["windows"] for r in rows), 1), 3),
            "clips_right": sum(r["most_frequent"] == r["exercise"] for r in rows), "clips": rows}


def run(data_dir: Path, models_dir: Path) -> dict:
    clips = {lab.file: clip_stream.load(lab, data_dir) for lab in dataset.read_labels(data_dir)}
    left_out = sorted(f for f, c in clips.items()
                      if c.exercise in EXERCISES and not width_over_torso(c) < replays.SIDE_VIEW)
    jacks = sorted(f for f in dataset.read_split(models_dir)["held_out"]
                   if f in clips and clips[f].exercise == "jumping_jack")
    data = [train_window.clip_dataset(c) for f, c in clips.items() if f not in left_out + jacks]
    booster = train_window.fit(np.concatenate([d[0] for d in data]), np.concatenate([d[1] for d in data]))
    rows = [r for f in left_out if (r := _scored(booster, clips[f], train_window.clip_windows(clips[f]), f))]
    report = _summary(rows)
    report["per_exercise"] = {ex: sum(r["most_frequent"] == ex for r in rows if r["exercise"] == ex)
                              for ex in EXERCISES}
    turned_rows = []
    for f in jacks:
        rng = np.random.default_rng([train_window.SEED, sum(map(ord, f))])
        for i in range(JACK_TURNS):
            if (turned := replays.turned(clips[f], rng)) is None:
                break     # not a front view
            row = _scored(booster, turned, train_window.clip_windows(turned, source=clips[f]), f"{f} turned {i + 1}")
            if row is not None:
                turned_rows.append(row)
    report["turned_jacks"] = _summary(turned_rows)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.view_out", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="the whole report as JSON")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    data_dir = Path(settings.data_dir)
    if not (data_dir / "clips" / "labels.csv").is_file():
        print(f"python -m offline.view_out: no labelled clips in {data_dir}", file=sys.stderr)
        return 1
    report = run(data_dir, Path(settings.models_dir))
    if args.json:
        print(json.dumps(report))
        return 0
    for part, title in ((report, "left out"), (report["turned_jacks"], "held-out jumping jacks turned")):
        for r in part["clips"]:
            print(f"{r['file']:<60} {r['exercise']:>8} width/torso {r['width_over_torso']:.2f} windows "
                  f"{r['windows']:4d} right {r['windows_right']:.2f} most often {r['most_frequent']}")
        print(f"{title}: {part['left_out_clips']} clips, windows right {part['windows_right']:.1%}, clips right "
              f"(most frequent answer) {part['clips_right']} of {part['left_out_clips']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
