"""Out-of-fold check on the training clips: models rebuilt without each fold, its clips through classifier and coach.

    python -m offline.train_cv [--folds 5] [--jobs 2] [--json out.json]

This is where training choices (augmentation, vote sizes, model settings) are judged without looking at the
held-out clips: every training clip is scored by models that never saw it, with the same classifier and coach
as the product (`offline.coach_eval`). Folds are drawn per exercise, so each fold holds every exercise.
Takes a few minutes on 2 cores (one model build per fold).
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
from common.features import FEATURE_NAMES
from services.classifier.cascade import LEVEL1_FILE, LEVEL2_FILE, METADATA_FILE, Cascade
from offline import dataset, train_data, train_models

logger = logging.getLogger(__name__)

SEED = 20251125


def folds_of(clips: list[str], exercise_of: dict[str, str], n_folds: int, seed: int) -> list[list[str]]:
    """Clips dealt round-robin into folds, exercise by exercise, in a seeded random order."""
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    k = 0
    for exercise in sorted(set(exercise_of[c] for c in clips)):
        group = sorted(c for c in clips if exercise_of[c] == exercise)
        for i in rng.permutation(len(group)):
            folds[k % n_folds].append(group[i])
            k += 1
    return folds


def build_models(sets, out_dir: Path, seed: int, n_jobs: int) -> Cascade:
    """Level 1 and level 2 exactly as `fitness-trainer train` fits them, from these sets only."""
    rows = train_data.build_training_rows(sets, seed)
    booster = train_models.fit_level1(rows.X, np.array([train_models.LEVEL1_CLASSES.index(e) for e in rows.exercise]),
                                      seed, n_jobs)
    booster.save_model(str(out_dir / LEVEL1_FILE))
    m2 = train_data.level2_mask(rows)
    train_models.fit_level2(rows.X[m2], rows.exercise[m2], rows.phase[m2], seed).save(out_dir / LEVEL2_FILE)
    return Cascade.load(out_dir)


def clip_rows(cascade: Cascade, names: list[str], labels: dict, held: bool = False) -> list[dict]:
    """Each clip through the session classifier and the coach, as `offline.coach_eval` scores it."""
    from offline.coach_eval import CLIPS_DIR, model_stream, run_clip
    from services.coach.processor import CoachProcessor
    from common.history import HistoryWriter
    from offline.evaluate import clip_row
    from offline.landmark_cache import extract
    settings = Settings()
    out = []
    with tempfile.TemporaryDirectory(prefix="train-cv-") as tmp:
        processor = CoachProcessor(HistoryWriter(Path(tmp) / "cv.sqlite3"), settings)
        for name in names:
            clip = extract(CLIPS_DIR / name)
            summary, _ = run_clip(processor, name, clip, model_stream(clip, cascade, settings.vote_window))
            out.append({**clip_row(labels[name], summary), "held_out": held})
    return out


def out_of_fold(data_dir: Path, models_dir: Path, n_folds: int = 5, seed: int = SEED, n_jobs: int = 2) -> dict:
    """Per-clip out-of-fold results of the training clips, with their overall score."""
    from offline.evaluate import score
    labels = {label.file: label for label in dataset.read_labels(data_dir)}
    split = dataset.read_split(models_dir)
    if split is None:
        raise FileNotFoundError(f"no {models_dir / dataset.SPLIT_FILE}: build the models first")
    train_clips = [c for c in split["train"] if c in labels]
    exercise_of = {c: labels[c].exercise for c in train_clips}
    sets, _ = dataset.load_all(data_dir, list(labels.values()))
    held = {f"clip:{f}" for f in split["held_out"]}
    rows = []
    with tempfile.TemporaryDirectory(prefix="train-cv-models-") as tmp:
        tmp_dir = Path(tmp)
        metadata = json.loads((models_dir / METADATA_FILE).read_text())
        metadata["feature_names"] = FEATURE_NAMES   # the features as they are now, not as the stored models had them
        (tmp_dir / METADATA_FILE).write_text(json.dumps(metadata))
        for k, fold in enumerate(folds_of(train_clips, exercise_of, n_folds, seed)):
            out = held | {f"clip:{f}" for f in fold}
            cascade = build_models([s for s in sets if s.source not in out], tmp_dir, seed, n_jobs)
            rows += clip_rows(cascade, fold, labels)
            logger.info("fold %d/%d: %s", k + 1, n_folds, score(rows))
    return {"overall": score(rows), "clips": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.train_cv", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=Settings.from_env().data_dir)
    parser.add_argument("--models-dir", default=Settings().models_dir, help="where split.json and metadata.json are")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", default="", help="also write the per-clip results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data_dir = Path(args.data_dir)
    if not (data_dir / "clips" / "labels.csv").is_file():
        print(f"no labelled clips at {data_dir}", file=sys.stderr)
        return 1
    result = out_of_fold(data_dir, Path(args.models_dir), args.folds, n_jobs=args.jobs)
    for r in result["clips"]:
        wrong = r["exercise_pred"] != r["exercise_true"] or (r["reps_true"] is not None and r["reps_pred"] != r["reps_true"])
        if wrong:
            print(f"  {r['file']:<52} {r['exercise_true']:>12} -> {r['exercise_pred']:<12} "
                  f"reps {r['reps_true']} -> {r['reps_pred']}")
    print(json.dumps(result["overall"], indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
