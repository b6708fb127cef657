"""The committed models through the cascade and the session classifier, on synthetic but realistic poses."""
import shutil

import numpy as np
import pytest

from common.config import PROJECT_ROOT
from common.exercises import NONE
from common.features import features
from services.classifier.cascade import LEVEL1_FILE, LEVEL2_FILE, METADATA_FILE, Cascade, ModelMissing
from services.classifier.session import SessionClassifier
from tests.test_phase_labels import ASPECT, front_pose, side_pose, squat_at
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


@pytest.mark.parametrize("name", list(POSES))
def test_committed_models_recognise_clear_poses(cascade, name):
    landmarks, exercise, phase = POSES[name]
    out = cascade.predict(features(landmarks, ASPECT))
    assert out.exercise[0] == exercise, dict(zip(cascade.classes, np.round(out.probs[0], 2)))
    assert out.exercise_prob[0] > 0.5
    assert out.phase[0] == phase
    if phase:
        assert out.phase_conf[0] >= 0.5
    else:
        assert out.phase_conf[0] == 0.0   # planks are held: no phase


def test_a_batch_gives_the_same_answers_as_single_frames(cascade):
    feats = np.array([features(lm, ASPECT) for lm, _, _ in POSES.values()])
    batch = cascade.predict(feats)
    for i, row in enumerate(feats):
        one = cascade.predict(row)
        assert one.exercise[0] == batch.exercise[i] and one.phase[0] == batch.phase[i]
        assert one.exercise_prob[0] == pytest.approx(batch.exercise_prob[i], abs=1e-5)
    assert batch.probs.shape == (len(feats), len(cascade.classes))
    assert np.allclose(batch.probs.sum(axis=1), 1.0, atol=1e-4)


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
    assert meta["level1"]["classes"] == cascade.classes and NONE in cascade.classes
    assert meta["level2"]["classes"] == ["start", "end"]
    assert "plank" not in meta["level2"]["exercises"]
    total = sum(p.stat().st_size for p in MODELS.iterdir() if p.is_file())
    assert total < 5 * 1024 * 1024


@pytest.mark.parametrize("missing", [LEVEL1_FILE, LEVEL2_FILE, METADATA_FILE])
def test_a_missing_model_file_is_named_with_the_fix(tmp_path, missing):
    for name in (LEVEL1_FILE, LEVEL2_FILE, METADATA_FILE):
        if name != missing:
            shutil.copy(MODELS / name, tmp_path / name)
    with pytest.raises(ModelMissing) as err:
        Cascade.load(tmp_path)
    assert missing in str(err.value) and "fitness-trainer train" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)   # what the classifier runner reports and exits on


def test_session_counts_synthetic_squats_through_gaps(cascade):
    session = SessionClassifier(cascade, window=9)
    depth = np.concatenate([(1 - np.cos(np.linspace(0, 2 * np.pi, 30, endpoint=False))) / 2] * 4 + [np.zeros(10)])
    outputs = []
    for i, d in enumerate(depth):
        gap = 40 <= i < 43                      # the pose model loses the trainee for three frames
        outputs.append(session.classify(None if gap else squat_at(d), ASPECT))
    exercises = [o.exercise for o in outputs]
    assert exercises[:5] == [NONE] * 5          # the vote needs a few frames
    assert set(exercises[8:]) == {"squat"}      # ... then holds, gap included
    assert [o.raw_exercise for o in outputs[40:43]] == [NONE] * 3
    assert count_cycles([o.phase for o in outputs]) == 4
    assert all(0.0 <= o.exercise_conf <= 1.0 and 0.0 <= o.phase_conf <= 1.0 for o in outputs)


def test_session_without_a_body_says_none(cascade):
    session = SessionClassifier(cascade)
    blank = np.full((33, 4), np.nan, np.float32)
    for landmarks in (None, blank, blank.tobytes()):
        out = session.classify(landmarks, ASPECT)
        assert (out.exercise, out.phase, out.raw_exercise) == (NONE, "", NONE)


def test_plank_session_has_no_phase(cascade):
    session = SessionClassifier(cascade)
    plank = POSES["forearm plank"][0]
    out = [session.classify(plank, ASPECT) for _ in range(12)][-1]
    assert out.exercise == "plank" and out.phase == "" and out.exercise_conf == 1.0
