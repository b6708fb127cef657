"""`fitness-trainer train`: rebuild every model in models/ from the real data, with an honest report."""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np

from common.config import PROJECT_ROOT
from common.features import FEATURE_NAMES
from offline import clip_stream, dataset, train_data, train_eval, train_models, train_report, train_window
from services.classifier.cascade import LEVEL1_FILE, LEVEL2_FILE, METADATA_FILE, PHASE_CLASSES, Cascade
from services.classifier.recognizer import METADATA_FILE as WINDOW_METADATA_FILE
from services.classifier.voting import VoteOptions

logger = logging.getLogger(__name__)

SEED = 20251125
# --quick: the same pipeline with tiny models and samples, for smoke tests (minutes -> seconds).
QUICK = {"compare_per_class": 60, "xgb_params": {**train_models.XGB_PARAMS, "n_estimators": 15},
         "knn_per_class": 100, "aug_copies": 0, "rounds": 10, "window_clips_per_class": 3,
         "window_xgb_params": {**train_window.SKLEARN_PARAMS, "n_estimators": 10}}


class _Progress:
    """One tqdm bar on stderr over every step of the run (or nothing when progress is off)."""

    def __init__(self, enabled: bool, total: int):
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, file=sys.stderr, unit="step", dynamic_ncols=True)

    def stage(self, text: str) -> None:
        logger.info("%s", text)
        if self.bar:
            self.bar.set_description(text)

    def __call__(self, n: int = 1) -> None:
        if self.bar:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar:
            self.bar.close()


def _codes(labels: np.ndarray, classes: list[str]) -> np.ndarray:
    return np.array([classes.index(x) for x in labels], dtype=np.int64)


def _versions() -> dict:
    import sklearn
    import xgboost
    out = {"python": platform.python_version(), "numpy": np.__version__, "xgboost": xgboost.__version__,
           "scikit-learn": sklearn.__version__}
    try:
        import mediapipe
        out["mediapipe"] = mediapipe.__version__
    except ImportError:  # models are trained from cached landmarks; mediapipe is only needed for new poses
        pass
    return out


def _level2_inputs(X: np.ndarray, exercises: np.ndarray) -> np.ndarray:
    """Level-2 comparison inputs: the 32 features and the exercise one-hot (the level-1 answer)."""
    return np.concatenate([X, train_models.onehot(list(exercises))], axis=1)


def train(data_dir: str | Path, models_dir: str | Path, report_dir: str | Path | None = None,
          progress: bool = True, seed: int = SEED, n_jobs: int = 2, quick: bool = False) -> dict:
    """Rebuild level 1, level 2, metadata, split and the training report. Returns the report as a dict.

    quick: same data and steps with tiny models and samples (a smoke test, not models to ship).
    """
    started = time.perf_counter()
    data_dir, models_dir = Path(data_dir), Path(models_dir)
    report_dir = Path(report_dir) if report_dir else models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if quick else {"compare_per_class": train_models.COMPARE_PER_CLASS,
                                 "xgb_params": train_models.XGB_PARAMS, "knn_per_class": train_models.KNN_PER_CLASS,
                                 "aug_copies": train_window.AUG_COPIES, "rounds": train_window.ROUNDS}
    clips = dataset.read_labels(data_dir)
    split = dataset.make_split(clips, seed, previous=dataset.read_split(models_dir))
    held = {f"clip:{f}" for f in split["held_out"]}
    n_candidates = len(train_models.candidates(seed, n_jobs))
    bar = _Progress(progress, total=2 * len(clips) + 2 * n_candidates + len(split["held_out"]) + 5)
    try:
        bar.stage("loading landmarks")
        sets, _ = dataset.load_all(data_dir, clips, progress=bar)
        train_sets = [s for s in sets if s.source not in held]
        held_sets = [s for s in sets if s.source in held and s.kind == "clip"]
        dataset.write_split(split, models_dir / dataset.SPLIT_FILE)

        bar.stage("windows of motion (level 1)")
        per_class = sizes.get("window_clips_per_class")
        window_labels = [c for c in clips if c.source not in held]
        if per_class:   # --quick: a few clips of each exercise are enough to check the steps
            window_labels = [c for c in window_labels
                             if sum(1 for d in window_labels[:window_labels.index(c)] if d.exercise == c.exercise)
                             < per_class]
        train_clips = [clip_stream.load(c, data_dir) for c in window_labels]
        held_clips = [clip_stream.load(c, data_dir) for c in clips if c.source in held]
        windows = [train_window.clip_dataset(c, sizes["aug_copies"]) for c in train_clips]
        groups = np.concatenate([np.full(len(y), i) for i, (_, y) in enumerate(windows)])
        Xw = np.concatenate([X for X, _ in windows])
        yw = np.concatenate([y for _, y in windows])
        held_windows = [train_window.clip_windows(c) for c in held_clips]
        Xh = np.concatenate([X for X, _ in held_windows]) if held_windows else np.zeros((0, Xw.shape[1]))
        yh = np.array([train_window.CLASSES.index(v) for _, labels in held_windows for v in labels], int)
        bar(len(train_clips))

        bar.stage("comparing level-1 models (windows)")
        rng = np.random.default_rng(seed)
        pick1 = train_models.balanced_sample(yw, sizes["compare_per_class"], rng)
        level1_comparison = train_models.compare(
            np.nan_to_num(Xw[pick1]), yw[pick1], groups[pick1], np.nan_to_num(Xh), yh, seed, n_jobs, progress=bar,
            xgb_params=sizes.get("window_xgb_params", train_window.SKLEARN_PARAMS))

        bar.stage("augmenting frames (level 2)")
        rows = train_data.build_training_rows(train_sets, seed)
        held_parts = [train_data.evaluation_rows(s)[0] for s in held_sets]
        held_rows = train_data.Rows.concat(held_parts)
        held_rows = held_rows.take(held_rows.exercise != "")

        bar.stage("comparing level-2 models")
        m2 = train_data.level2_mask(rows)
        keys = np.array([f"{e}/{p}" for e, p in zip(rows.exercise[m2], rows.phase[m2])], object)
        pick2 = np.flatnonzero(m2)[train_models.balanced_sample(keys, sizes["compare_per_class"] // 2, rng)]
        h2 = train_data.level2_mask(held_rows)
        level2_comparison = train_models.compare(
            _level2_inputs(rows.X[pick2], rows.exercise[pick2]), _codes(rows.phase[pick2], list(PHASE_CLASSES)),
            rows.group[pick2], _level2_inputs(held_rows.X[h2], held_rows.exercise[h2]),
            _codes(held_rows.phase[h2], list(PHASE_CLASSES)), seed, n_jobs, progress=bar,
            xgb_params=sizes["xgb_params"])

        bar.stage("fitting final XGBoost (level 1, windows)")
        window_meta = train_window.save(train_window.fit(Xw, yw, n_jobs, rounds=sizes["rounds"]), models_dir,
                                        [c.file for c in train_clips], yw)
        bar()
        bar.stage("fitting final kNN (level 2)")
        knn = train_models.fit_level2(rows.X[m2], rows.exercise[m2], rows.phase[m2], seed,
                                      per_class=sizes["knn_per_class"])
        knn.save(models_dir / LEVEL2_FILE)
        bar()
        metadata = {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": "fitness-trainer train",
            "seed": seed,
            "feature_names": FEATURE_NAMES,
            "quick": quick,
            "level1": {"file": LEVEL1_FILE, "metadata": WINDOW_METADATA_FILE,
                       "model": "XGBoost on windows of motion (save_model JSON)", "classes": train_window.CLASSES,
                       "window_s": window_meta["window_s"], "features": len(window_meta["features"]),
                       "rounds": window_meta["rounds"], "class_weights": "balanced"},
            "level2": {"file": LEVEL2_FILE, "model": "kNN, brute force over a stored matrix (numpy .npz)",
                       "classes": list(PHASE_CLASSES), "exercises": train_models.COUNTED, "k": knn.k,
                       "onehot_weight": knn.onehot_weight, "rows": int(len(knn.labels))},
            "phase_voting_defaults": VoteOptions().__dict__,
            "split": {"file": dataset.SPLIT_FILE, "held_out_clips": len(split["held_out"]),
                      "train_clips": len(split["train"])},
            "training_data": {
                "windows_level1": int(len(yw)), "windows_per_class": window_meta["windows"],
                "rows_level2": int(m2.sum()),
                "rows_per_origin": {o: int((rows.origin == o).sum()) for o in sorted(set(rows.origin))},
                "sources": dataset.summary(train_sets),
            },
            "versions": _versions(),
        }
        (models_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        bar()

        bar.stage("evaluating held-out clips")
        cascade = Cascade.load(models_dir)
        held_eval = train_eval.evaluate(cascade, held_sets, held_clips, Xh, yh, progress=bar) if held_sets else {}
        phase_check = train_eval.phase_label_check(sets)
        bar()
        report = {
            "metadata": metadata,
            "comparison": {"level1": level1_comparison, "level2": level2_comparison,
                           "sample": {"level1_windows": int(len(pick1)), "level2_rows": int(len(pick2)),
                                      "folds": train_models.CV_FOLDS}},
            "held_out": held_eval,
            "phase_label_check": phase_check,
            "split": split,
            "seconds": round(time.perf_counter() - started, 1),
        }
        (report_dir / "training_report.json").write_text(json.dumps(report, indent=2, default=_json) + "\n")
        (report_dir / "training_report.md").write_text(train_report.markdown(report))
        return report
    finally:
        bar.close()


def _json(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fitness-trainer train", description=__doc__)
    parser.add_argument("--data-dir", default=str(dataset.DEFAULT_DATA_DIR),
                        help="Shared real data (clips/labels.csv, seed/, landmarks/) (default: %(default)s)")
    parser.add_argument("--models-dir", default=str(PROJECT_ROOT / "models"),
                        help="Where the models, metadata and split are written (default: %(default)s)")
    parser.add_argument("--report-dir", default=None, help="Where training_report.md/.json go (default: models dir)")
    parser.add_argument("--seed", type=int, default=SEED, help="Seed of every random choice (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="Threads for XGBoost (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar")
    parser.add_argument("--quick", action="store_true",
                        help="Tiny models and samples: checks the pipeline in seconds (not models to use)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = train(args.data_dir, args.models_dir, args.report_dir, progress=not args.no_progress,
                       seed=args.seed, n_jobs=args.jobs, quick=args.quick)
    except dataset.DataMissing as exc:
        print(f"fitness-trainer train: {exc}", file=sys.stderr)
        return 2
    clips = report["held_out"].get("clips", {})
    print(f"models written to {args.models_dir} in {report['seconds']} s; held-out clips: "
          f"{clips.get('recognised_majority_accuracy', float('nan')):.1%} recognised (majority of frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
