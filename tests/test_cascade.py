"""The committed models through the cascade and the session classifier, on synthetic but realistic poses."""
import json
import shutil

import numpy as np
import pytest

from common.config import PROJECT_ROOT
from common.exercises import NONE
from common.features import features
from services.classifier.cascade import LEVEL1_FILE, LEVEL2_FILE, METADATA_FILE, Cascade, ModelMissing
from services.classifier.recognizer import METADATA_FILE as WINDOW_METADATA_FILE
from services.classifier.session import SessionClassifier
from tests.test_phase_labels import ASPECT, front_pose, side_pose, squat_at, squat_sequence
from offline.phase_labels import count_cycles

MODELS = PROJECT_ROOT / "models"

POSES = {
    "squat bottom": (squat_at(1.0), "squat", "end"),
    "lunge bottom": (side_pose(thighs=(90, -20), shins=(0, -80), arms=(20, 20), forearms=(60, 60)), "lunge", "end"),
    "forearm plank": (side_pose(roll=-85, arms=(85, 85), forearms=(175, 175)), "plank", ""),
    "push-up top": (side_pose(roll=-75, arms=(75, 75), forearms=(75, 75)), "push_up", "start"),
    "push-up bottom": (side_pose(roll=-88, arms=(-12, -12), forearms=(98, 98)), "push_up", "end"),
    "jumping jack in": (front_pose(arms=8, legs=3), "jumping_jack", "start"),
    "jumping jack out": (front_pose(arms=150, legs=15), "jumping_jack", "end"),
}


@pytest.fixture(scope="module")
def cascade():
    return Cascade.load(MODELS)


@pytest.mark.parametrize("name", [n for n, (_, exercise, _) in POSES.items() if exercise != "plank"])
def test_level2_names_the_phase_of_clear_poses(cascade, name):
    landmarks, exercise, phase = POSES[name]
    got, conf = cascade.phase(features(landmarks, ASPECT), [exercise])
    assert got[0] == phase and conf[0] >= 0.5


def test_level2_knn_is_exactly_a_brute_force_knn(cascade):
    from sklearn.neighbors import KNeighborsClassifier
    knn = cascade.knn
    rng = np.random.default_rng(0)
    exercises = rng.choice(knn.exercises, 200)
    # Query rows near the stored ones, so neighbourhoods are real ones and not all ties far away.
    stored = knn.matrix[rng.integers(0, len(knn.matrix), 200), :32] * knn.scale + knn.mean
    feats = stored + rng.normal(0, 0.02, stored.shape).astype(np.float32)
    ours, conf = knn.predict(feats, exercises)
    ref = KNeighborsClassifier(n_neighbors=knn.k, algorithm="brute").fit(knn.matrix, knn.labels)
    theirs = ref.predict(knn.encode(feats, exercises))
    assert (ours == theirs).mean() > 0.99   # float32 vs float64 distances may order a near tie differently
    assert ((conf >= 0.5) & (conf <= 1.0)).all()


def test_phase_only_for_counted_exercises(cascade):
    feats = np.array([features(squat_at(1.0), ASPECT)] * 3)
    phase, conf = cascade.phase(feats, ["squat", "plank", NONE])
    assert list(phase) == ["end", "", ""] and conf[1] == 0 and conf[2] == 0


def test_metadata_describes_the_models(cascade):
    meta = cascade.metadata
    booster, window_meta = cascade.window_model
    assert meta["level1"]["classes"] == window_meta["classes"] and NONE in window_meta["classes"]
    assert booster.num_features() == len(window_meta["features"])
    assert meta["level2"]["classes"] == ["start", "end"]
    assert "plank" not in meta["level2"]["exercises"]
    total = sum(p.stat().st_size for p in MODELS.iterdir() if p.is_file())
    assert total < 5 * 1024 * 1024


MODEL_FILES = [LEVEL1_FILE, WINDOW_METADATA_FILE, LEVEL2_FILE, METADATA_FILE]


@pytest.mark.parametrize("missing", MODEL_FILES)
def test_a_missing_model_file_is_named_with_the_fix(tmp_path, missing):
    for name in MODEL_FILES:
        if name != missing:
            shutil.copy(MODELS / name, tmp_path / name)
    with pytest.raises(ModelMissing) as err:
        Cascade.load(tmp_path)
    assert missing in str(err.value) and "fitness-trainer train" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)   # what the classifier runner reports and exits on


def test_a_window_model_built_on_other_features_is_refused_with_the_fix(tmp_path):
    for name in MODEL_FILES:
        shutil.copy(MODELS / name, tmp_path / name)
    meta = json.loads((tmp_path / WINDOW_METADATA_FILE).read_text())
    meta["features"] = meta["features"][:-3]          # code that computes columns this model never saw
    (tmp_path / WINDOW_METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="fitness-trainer train"):
        Cascade.load(tmp_path)


def squat_frames(reps: int, fps: float = 30.0, rest: float = 1.0):
    """Standing, then `reps` squats of 1.6 s with `rest` s standing between them."""
    depth = np.concatenate([np.zeros(int(rest * fps))] + [
        np.r_[(1 - np.cos(np.linspace(0, 2 * np.pi, int(1.6 * fps), endpoint=False))) / 2, np.zeros(int(rest * fps))]
        for _ in range(reps)])
    return [(i / fps, squat_at(d)) for i, d in enumerate(depth)]


def test_session_recognises_synthetic_squats_through_gaps_and_phases_follow(cascade):
    session = SessionClassifier(cascade)
    outputs = []
    for i, (t, lm) in enumerate(squat_frames(5)):
        gap = 90 <= i < 93                      # the pose model loses the trainee for three frames
        outputs.append(session.classify(None if gap else lm, ASPECT, t))
    exercises = [o.exercise for o in outputs]
    assert exercises[:20] == [NONE] * 20        # the window of motion needs time
    named = exercises.index("squat")
    assert named < 4 * 30 and set(exercises[named:]) == {"squat"}   # ... then holds, gap included
    assert count_cycles([o.phase for o in outputs[named:]]) >= 3
    assert all(0.0 <= o.exercise_conf <= 1.0 and 0.0 <= o.phase_conf <= 1.0 for o in outputs)


def test_a_chosen_exercise_is_the_answer_from_the_first_frame(cascade):
    session = SessionClassifier(cascade)
    outputs = [session.classify(lm, ASPECT, t, chosen="squat") for t, lm in squat_frames(2)]
    assert {o.exercise for o in outputs} == {"squat"} and outputs[0].exercise_conf == 1.0
    assert count_cycles([o.phase for o in outputs]) == 2


def test_session_without_a_body_says_none(cascade):
    session = SessionClassifier(cascade)
    blank = np.full((33, 4), np.nan, np.float32)
    for i, landmarks in enumerate((None, blank, blank.tobytes())):
        out = session.classify(landmarks, ASPECT, i / 30)
        assert (out.exercise, out.phase, out.raw_exercise) == (NONE, "", NONE)


def test_a_still_plank_is_recognised_and_has_no_phase(cascade):
    session = SessionClassifier(cascade)
    plank = POSES["forearm plank"][0]
    rng = np.random.default_rng(1)
    out = [session.classify(plank + rng.normal(0, 0.002, plank.shape).astype(np.float32) * [1, 1, 0, 0], ASPECT,
                            i / 30) for i in range(120)][-1]
    assert out.exercise == "plank" and out.phase == ""


def test_a_window_rules_out_what_the_body_cannot_be_doing():
    # Sit-ups on the floor (hips level with the feet, the trunk rising and falling) cannot be squats, lunges or
    # jumping jacks, whatever the window model says; squats keep every exercise a standing body can do.
    from services.classifier.recognizer import WindowRecognizer
    situps = WindowRecognizer.load(MODELS)
    for i in range(75):
        lean = 225 + 35 * np.cos(2 * np.pi * i / 36)
        pose = side_pose(torso=lean, thighs=(135, 135), shins=(40, 40), arms=(150, 150), forearms=(60, 60))
        situps.buffer.push(i / 30, pose, ASPECT)
    uniform = np.full(len(situps.classes), 1 / len(situps.classes))
    p = dict(zip(situps.classes, situps.rule_out_postures(uniform)))
    assert p["squat"] == p["lunge"] == p["jumping_jack"] == 0.0
    assert p["crunch"] > 0 and sum(p.values()) == pytest.approx(1.0)
    squats = WindowRecognizer.load(MODELS)
    poses, _ = squat_sequence(reps=2, frames_per_rep=36)
    for i, pose in enumerate(poses):
        squats.buffer.push(i / 30, pose, ASPECT)
    p = dict(zip(squats.classes, squats.rule_out_postures(uniform)))
    assert p["squat"] > 0 and p["lunge"] > 0 and p["jumping_jack"] > 0
