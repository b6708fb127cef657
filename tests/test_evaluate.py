"""Evaluation figures: prediction rule and the repetition-counting metrics."""
import pytest

from offline.evaluate import prediction, score
from offline.labels import LabelsError, read_labels


def test_prediction_is_the_exercise_with_most_reps_or_hold():
    assert prediction({"totals": {"squat": {"reps": 3, "hold_seconds": 0}, "lunge": {"reps": 1}}}) == ("squat", 3, 0.0)
    assert prediction({"totals": {"plank": {"reps": 0, "hold_seconds": 9.5}, "push_up": {"reps": 1}}}) == \
        ("plank", 0, 9.5)
    assert prediction({"totals": {}}) == ("other", 0, 0.0)


def test_score_figures():
    rows = [
        {"exercise_true": "squat", "exercise_pred": "squat", "reps_true": 10, "reps_pred": 10, "hold_true": None,
         "hold_pred": 0},
        {"exercise_true": "squat", "exercise_pred": "squat", "reps_true": 4, "reps_pred": 5, "hold_true": None,
         "hold_pred": 0},
        {"exercise_true": "push_up", "exercise_pred": "squat", "reps_true": 2, "reps_pred": 0, "hold_true": None,
         "hold_pred": 0},
        {"exercise_true": "plank", "exercise_pred": "plank", "reps_true": None, "reps_pred": 0, "hold_true": 10.0,
         "hold_pred": 8.0},
        {"exercise_true": "other", "exercise_pred": "lunge", "reps_true": None, "reps_pred": 2, "hold_true": None,
         "hold_pred": 0, "reps_all": 3},
    ]
    s = score(rows)
    assert s["clips"] == 5
    assert s["exercise_accuracy"] == pytest.approx(3 / 5, abs=1e-3)
    assert s["reps_exact"] == pytest.approx(1 / 3, abs=1e-3)
    assert s["obo"] == pytest.approx(2 / 3, abs=1e-3)
    assert s["mae"] == pytest.approx((0 + 1 / 4 + 2 / 2) / 3, abs=1e-3)
    assert s["hold_abs_error_s"] == pytest.approx(2.0)
    assert s["reps_on_other"] == 3


def test_labels_csv_empty_means_unknown_and_last_duplicate_wins(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("file,exercise,reps,hold_seconds,notes\n"
                   "a.mp4,squat,3,,x\nb.mp4,plank,,9.9,\na.mp4,squat,4,,fixed\n")
    labels = read_labels(csv)
    assert (labels["a.mp4"].exercise, labels["a.mp4"].reps, labels["a.mp4"].hold_seconds) == ("squat", 4, None)
    assert labels["b.mp4"].hold_seconds == 9.9 and labels["b.mp4"].reps is None
    assert list(labels) == ["a.mp4", "b.mp4"]


@pytest.mark.parametrize("content, says", [
    (None, "not found"),
    (b"file,exercise,reps\n\xff\xfe.mp4,squat,3\n", "not UTF-8"),
    (b"file,exercise,reps\na.mp4,squat,abc\n", "a.csv:2: reps='abc' is not a number"),
    (b"file,exercise,reps\na.mp4,squat,2.5\n", "whole number"),
    (b"file,exercise,reps\na.mp4,yoga,3\n", "unknown exercise 'yoga'"),
    (b"", "no column file, exercise"),
    (b"hello world\n", "no column file, exercise"),
    (b"file,exercise,reps\n", "lists no clips"),
])
def test_a_labels_file_that_cannot_be_used_is_refused_saying_why(tmp_path, content, says):
    path = tmp_path / "a.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(LabelsError) as err:
        read_labels(path)
    assert says in str(err.value) and str(path) in str(err.value)
