"""`fitness-trainer eval`: analyse labelled clips and score exercise, rep counts and hold times."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from common.exercises import EXERCISES, is_hold
from offline.labels import ClipLabel, LabelsError, read_labels


def prediction(result: dict) -> tuple[str, int, float]:
    """analyze's answer for a clip: the exercise with the most reps (or hold time), its reps and hold time."""
    totals = result.get("totals") or {}
    best, best_key = "other", (0.0, 0.0)
    for name, t in totals.items():
        # A plank second weighs like a rep, so a long hold beats a stray rep and vice versa.
        key = (t.get("reps", 0) + t.get("hold_seconds", 0.0), t.get("reps", 0))
        if key > best_key:
            best, best_key = name, key
    hold = float(totals.get("plank", {}).get("hold_seconds", 0.0))
    return best, int(totals.get(best, {}).get("reps", 0)), hold


def clip_row(label: ClipLabel, summary: dict | None, error: str | None = None) -> dict:
    """One scored clip: the label beside what the pipeline made of it (summary in `analyze --json` shape)."""
    if summary is None:
        pred, reps, hold, reps_all = "error", 0, 0.0, 0
    else:
        pred, reps, hold = prediction(summary)
        reps_all = sum(int(t.get("reps", 0)) for t in (summary.get("totals") or {}).values())
    return {"file": label.file, "exercise_true": label.exercise, "exercise_pred": pred, "reps_true": label.reps,
            "reps_pred": reps, "hold_true": label.hold_seconds, "hold_pred": round(hold, 2), "reps_all": reps_all,
            "error": error}


def score(rows: list[dict]) -> dict:
    """Overall figures from per-clip rows {exercise_true, exercise_pred, reps_true, reps_pred, hold_true, hold_pred}."""
    ex = [r for r in rows if r["exercise_true"]]
    counted = [r for r in rows if r["reps_true"] is not None and r["exercise_true"] in EXERCISES
               and not is_hold(r["exercise_true"])]
    holds = [r for r in rows if r["hold_true"] is not None and r["exercise_true"] == "plank"]
    other = [r for r in rows if r["exercise_true"] == "other"]
    errors = [abs(r["reps_pred"] - r["reps_true"]) for r in counted]
    return {
        "clips": len(rows),
        "exercise_accuracy": _mean([r["exercise_pred"] == r["exercise_true"] for r in ex]),
        "reps_exact": _mean([e == 0 for e in errors]),
        "obo": _mean([e <= 1 for e in errors]),
        "mae": _mean([e / max(1, r["reps_true"]) for e, r in zip(errors, counted)]),
        "hold_abs_error_s": _mean([abs(r["hold_pred"] - r["hold_true"]) for r in holds]),
        "hold_within_1_5s": _mean([abs(r["hold_pred"] - r["hold_true"]) <= 1.5 for r in holds]),
        "reps_on_other": sum(r.get("reps_all", r["reps_pred"]) for r in other),
        "scored": {"exercise": len(ex), "reps": len(counted), "hold": len(holds), "other": len(other)},
    }


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(float(v) for v in values) / len(values), 4) if values else None


def evaluate(clip_dir: str, labels_csv: str, pose_workers: int = 2, progress: bool = True,
             only: list[str] | None = None, exercise_given: bool = False, fps: float = 0.0) -> dict:
    from launcher.analyze import analyze
    """Clip files in the labels are relative to clip_dir."""
    labels = read_labels(labels_csv)
    names = [n for n in labels if (only is None or n in only)]
    keep, missing = [], []
    for name in names:
        path = Path(clip_dir) / name
        (keep if path.is_file() else missing).append((name, str(path)))
    if not keep:
        raise LabelsError(f"none of the {len(names)} clips listed in {labels_csv} is in {clip_dir}")
    for _, path in missing:
        print(f"fitness-trainer: labelled clip missing, not scored: {path}", file=sys.stderr)
    if exercise_given:   # each clip analysed as its labelled exercise; a clip of no exercise has none to give
        keep = [(n, p) for n, p in keep if labels[n].exercise in EXERCISES]
    given = [labels[n].exercise if exercise_given else "" for n, _ in keep]
    results = analyze([p for _, p in keep], pose_workers=pose_workers, progress=progress, exercises=given,
                      max_fps=fps)
    rows = [clip_row(labels[name], None if res.error else res.as_json(), res.error)
            for (name, _), res in zip(keep, results)]
    return {"mode": "exercise given" if exercise_given else "recognised", "fps": fps or "clip", "clips": rows,
            "overall": score(rows)}


def main(args) -> int:
    report = evaluate(args.dir, args.labels, args.pose_workers, progress=not args.no_progress, only=args.only,
                      exercise_given=args.exercise_given, fps=args.fps or 0.0)
    if not args.json:
        for r in report["clips"]:
            mark = "ok " if r["exercise_pred"] == r["exercise_true"] and (
                r["reps_true"] is None or r["reps_pred"] == r["reps_true"]) else "BAD"
            print(f"{mark} {r['file']:<50} {r['exercise_true'] or '?':>12} -> {r['exercise_pred']:<12} "
                  f"reps {r['reps_true']!s:>4} -> {r['reps_pred']:<4} hold {r['hold_true']!s:>5} -> {r['hold_pred']}")
        print(json.dumps({"mode": report["mode"], "fps": report["fps"], **report["overall"]}, indent=2))
    else:
        print(json.dumps(report))
    return 0
