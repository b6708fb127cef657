"""Training pipeline: the split keeps sources apart, and a quick run builds loadable models and a report."""
import json

import numpy as np
import pytest

from common.config import PROJECT_ROOT
from common.exercises import NONE
from services.classifier.cascade import Cascade
from tests.test_phase_labels import ASPECT, squat_at
from tests.test_replays import Draw
from offline import dataset, train_data
from offline.dataset import make_split
from offline.labels import OTHER, ClipLabel

DATA = dataset.DEFAULT_DATA_DIR


def _clips(counts: dict[str, int]) -> list[ClipLabel]:
    return [ClipLabel(f"{ex}/{i:02d}.mp4", ex, 1, None, "y", 2.0, "")
            for ex, n in counts.items() for i in range(n)]


def test_split_is_stratified_fixed_and_holds_out_every_other_clip():
    clips = _clips({"squat": 36, "push_up": 32, "jumping_jack": 9, "plank": 9, "crunch": 3, "lunge": 3, OTHER: 3})
    split = make_split(clips)
    held = split["held_out"]
    per = {ex: sum(1 for f in held if f.startswith(ex + "/")) for ex in
           ("squat", "push_up", "jumping_jack", "plank", "crunch", "lunge", OTHER)}
    assert per == {"squat": 11, "push_up": 10, "jumping_jack": 3, "plank": 3, "crunch": 1, "lunge": 1, OTHER: 3}
    assert not set(held) & set(split["train"])
    assert len(held) + len(split["train"]) == len(clips)
    assert make_split(clips) == split                      # reproducible
    assert make_split(clips, seed=1)["held_out"] != held   # ... and really drawn from the seed


def test_split_only_grows_clips_keep_their_side_and_new_ones_are_drawn_per_exercise():
    first = _clips({"squat": 10, "lunge": 3, OTHER: 3})
    split = make_split(first)
    added = [ClipLabel(f"new/{ex}{i}.mp4", ex, 1, None, "y", 2.0, "") for ex in ("squat", "lunge", OTHER)
             for i in range(4)]
    grown = make_split(first + added, previous=split)
    assert set(split["held_out"]) <= set(grown["held_out"])
    assert set(split["train"]) <= set(grown["train"])
    new_held = set(grown["held_out"]) - set(split["held_out"])
    # round(0.3 x 4) = 1 of each, "other" included: later non-exercise clips also teach "none"
    assert sorted(f.split("/")[1][:-5] for f in new_held) == ["lunge", "other", "squat"]
    assert make_split(first + added, previous=split) == grown


def test_every_augmented_row_keeps_its_source():
    frames = np.array([squat_at(d) for d in np.linspace(0, 1, 20)])
    fs = dataset.FrameSet("clip:a.mp4", "clip", "squat", frames, ASPECT, 30.0,
                          np.array(["squat"] * 20, object), np.array(["start"] * 10 + ["end"] * 10, object))
    other = dataset.FrameSet("seed:b.png", "seed_image", "squat", frames[:1], ASPECT, 1.0,
                             np.array(["squat"], object), np.array(["start"], object))
    rows = train_data.build_training_rows([fs, other], seed=3)
    assert set(rows.group) == {"clip:a.mp4", "seed:b.png"}
    # Real, mirrored and camera-varied copies of the clip; none-noise rows are pushed off real poses.
    assert {"real", "mirror", "camera", "noise", "none_noise"} <= set(rows.origin)
    assert set(rows.exercise[rows.origin == "none_noise"]) == {NONE}
    again = train_data.build_training_rows([fs, other], seed=3)
    assert np.array_equal(rows.X, again.X)                # fixed seeds: the same rows every run


@pytest.fixture(scope="module")
def data_dir():
    if not (DATA / "clips" / "labels.csv").is_file():
        pytest.skip(f"real data not found at {DATA} (the shared data folder beside the checkout)")
    from offline.landmark_cache import DEFAULT_CACHE
    if len(list(DEFAULT_CACHE.glob("*.npz"))) < len(dataset.read_labels(DATA)):
        pytest.skip("landmark cache incomplete: run `python -m offline.landmark_cache <clips>` first")
    return DATA


def test_real_sources_never_cross_the_split(data_dir):
    sets, clips = dataset.load_all(data_dir)
    split = make_split(clips, previous=dataset.read_split(PROJECT_ROOT / "models"))
    held = {f"clip:{f}" for f in split["held_out"]}
    assert split == {**dataset.read_split(PROJECT_ROOT / "models"), "procedure": split["procedure"]}   # as shipped
    # The two push-up sequences that are clips of labels.csv carry the clip's source id.
    linked = [s for s in sets if s.kind == "sequence" and s.source.startswith("clip:")]
    assert len(linked) == len(dataset.SEQUENCE_SAME_AS)
    train_sets = [s for s in sets if s.source not in held]
    rows = train_data.build_training_rows(train_sets, seed=1)
    assert not set(rows.group) & held


def test_quick_training_builds_loadable_models_and_a_report(data_dir, tmp_path):
    from offline.train import train
    report = train(data_dir, tmp_path / "models", tmp_path / "report", progress=False, n_jobs=1, quick=True)
    models = tmp_path / "models"
    for name in ("window_xgboost.json", "window_metadata.json", "level2_knn.npz", "metadata.json", "split.json"):
        assert (models / name).is_file()
    assert (tmp_path / "report" / "training_report.md").read_text().count("| XGBoost |") == 2
    saved = json.loads((tmp_path / "report" / "training_report.json").read_text())
    assert set(saved["comparison"]["level1"]) == {"Logistic Regression", "kNN", "SVM (RBF)", "SGD (linear SVM)",
                                                  "Multinomial NB", "XGBoost"}
    for result in saved["comparison"]["level1"].values():
        assert 0.0 <= result["cv_macro_f1"] <= 1.0 and 0.0 <= result["held_out_macro_f1"] <= 1.0
    assert report["metadata"]["quick"] is True
    cascade = Cascade.load(models)
    phase, conf = cascade.phase(np.zeros((2, 32), np.float32) + 0.5, ["squat", "none"])
    assert phase[0] in ("start", "end") and phase[1] == "" and 0.5 <= conf[0] <= 1.0
    held = report["held_out"]["clips"]
    assert held["count"] == len(report["split"]["held_out"]) - len(held["without_pose"])
    assert report["held_out"]["windows"]["level1_windows"] > 100


def test_out_of_fold_folds_cover_every_clip_once_and_spread_each_exercise():
    from offline.coach_eval import folds
    clips = _clips({"squat": 25, "push_up": 22, "crunch": 2, "plank": 6})
    out = folds(clips, 5, seed=1)
    flat = [c for f in out for c in f]
    assert sorted(flat) == sorted(c.file for c in clips) and len(flat) == len(set(flat))
    assert max(map(len, out)) - min(map(len, out)) <= 1
    for ex, n in (("squat", 25), ("push_up", 22), ("plank", 6)):
        per_fold = [sum(1 for c in f if c.startswith(ex + "/")) for f in out]
        assert min(per_fold) >= n // 5   # every fold gets its share of each exercise
    assert folds(clips, 5, seed=1) == out


def test_level_1_names_held_out_sit_ups_whatever_the_bend_of_the_knees(data_dir):
    """The held-out sit-ups and crunches, as filmed and with the knees opened 30-90 deg further, are named on most of
    their windows of motion. Before the training crunches were replayed with straighter legs, the shipped model
    named 6 % of the windows of the sit-ups done with the knees at 100 deg (Subhadip313) and 36 % of those at
    110-130 deg (seemsfunny21), and 0 % of either with the knees opened 60 deg more."""
    import xgboost as xgb
    from offline import clip_stream, replays, train_window
    from services.classifier import motion_window as window
    from services.classifier.recognizer import load_model
    models = PROJECT_ROOT / "models"
    booster, _ = load_model(models)
    held_out = set(dataset.read_split(models)["held_out"])
    clips = [clip_stream.load(lab, data_dir) for lab in dataset.read_labels(data_dir)
             if lab.exercise == "crunch" and lab.file in held_out]
    assert len(clips) >= 3
    for clip in clips:
        for replay in (clip, *(replays.knees_opened(clip, Draw(more)) for more in (30.0, 60.0, 90.0))):
            X, labels = train_window.clip_windows(replay, source=clip)
            moving = np.array(labels) == "crunch"
            answers = booster.predict(xgb.DMatrix(X[moving], feature_names=window.FEATURE_NAMES)).argmax(1)
            named = np.mean(np.array(train_window.CLASSES)[answers] == "crunch")
            assert named >= 0.7, (clip.file, replay is clip, named)


def test_side_view_clips_teach_level_1_the_views_it_never_saw(data_dir):
    """Trained without any push-up, crunch, squat or lunge clip not filmed from the side (offline.view_out), level 1
    still names most of those clips: the turned replays of the side views teach their directions. Without them
    (e409ed3): 25 of 45 clips, 30 % of their moving windows, 6 of 13 push-up clips. Likewise a plank filmed
    head-on, and jumping jacks seen from the side, which the data lacks, from the front views turned."""
    from offline.view_out import run
    report = run(data_dir, PROJECT_ROOT / "models")
    assert report["left_out_clips"] >= 40
    assert report["clips_right"] >= 31 and report["windows_right"] >= 0.45
    assert report["per_exercise"]["push_up"] >= 11
    # A forearm plank filmed head-on: taught by the turned side-view planks (52 % of its windows without them).
    planks = [r for r in report["clips"] if r["exercise"] == "plank"]
    assert planks and sum(r["right"] for r in planks) >= 0.8 * sum(r["windows"] for r in planks)
    # The held-out jumping jacks, left out too and seen from the side or at an angle: named by the turned replays
    # of the front views (without them, 5 of 12 and 25 % of the windows: side-on jacks were read as squats).
    jacks = report["turned_jacks"]
    assert jacks["left_out_clips"] >= 9
    assert jacks["clips_right"] >= jacks["left_out_clips"] - 2 and jacks["windows_right"] >= 0.7
