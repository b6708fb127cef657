"""The votes: the window recogniser's hysteresis on scripted model answers, and the phase vote on synthetic
answer sequences (steady, jittery, gappy)."""
from common.exercises import NONE
import numpy as np

from services.classifier.recognizer import EVAL_S, LEAVE_S, WindowRecognizer
from services.classifier.voting import PhaseVoter, VoteOptions
from offline.phase_labels import count_cycles


def run_phase(answers, options=VoteOptions()):
    voter = PhaseVoter(options)
    return [voter.add(phase, conf).phase for phase, conf in answers]


class ScriptedModel:
    """Stands in for the window XGBoost: answers each evaluation with the next probabilities of a script."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def inplace_predict(self, features):
        p = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return np.array([p])


CLASSES = [NONE, "squat", "lunge"]


def probs(**p) -> list[float]:
    return [p.get(c, 0.0) for c in CLASSES]


def recognise(answers, seconds: float, fps: float = 30.0, gap=None):
    """Feed a standing body for `seconds`; the model answers `answers` in turn. -> (t, exercise) per frame."""
    from tests.test_coach_poses import side_pose
    model = ScriptedModel(answers)
    rec = WindowRecognizer(model, {"classes": CLASSES, "window_s": 2.5})
    body = side_pose()
    out = []
    for i in range(int(seconds * fps)):
        t = i / fps
        seen = gap is None or not (gap[0] <= t < gap[1])
        out.append((t, rec.update(t, body if seen else None, 1.0)[0]))
    return out, model


def first(out, exercise):
    return next((t for t, e in out if e == exercise), None)


def test_no_opinion_until_a_window_of_motion_then_two_sure_answers_name_the_exercise():
    out, model = recognise([probs(squat=0.9)] * 30, 4.0)
    t = first(out, "squat")
    assert 0.8 + EVAL_S <= t <= 0.8 + 3 * EVAL_S       # the window needs 0.8 s of pose, then two answers
    assert all(e == NONE for tt, e in out if tt < t)


def test_the_first_answer_comes_on_the_first_frame_with_a_window_not_a_turn_later():
    # A recording of one rep may end a few frames after 0.8 s of pose: the model is asked then, not EVAL_S later.
    from tests.test_coach_poses import side_pose
    rec = WindowRecognizer(ScriptedModel([probs(squat=0.9)]), {"classes": CLASSES, "window_s": 2.5})
    body = side_pose()
    first_raw = None
    for i in range(40):
        t = i / 30
        rec.update(t, body, 1.0)
        if first_raw is None and rec.raw is not None:
            first_raw = t
    assert first_raw is not None and 0.8 - 1e-9 <= first_raw <= 0.8 + 1.5 / 30
    assert rec.raw_label == "squat"


def test_a_first_short_window_cannot_name_an_exercise_alone():
    # 0.8 s of a push-up held at the top looks like a plank: the full windows after it decide.
    out, _ = recognise([probs(lunge=1.0)] + [probs(squat=0.97)] * 20, 4.0)
    assert "lunge" not in {e for _, e in out}
    assert first(out, "squat") is not None


def test_one_odd_window_does_not_switch_and_a_short_dip_keeps_the_exercise():
    answers = [probs(squat=0.9)] * 6 + [probs(lunge=0.9)] + [probs(squat=0.9)] * 4 + [probs(none=0.9)] * 2 \
        + [probs(squat=0.9)] * 20
    out, _ = recognise(answers, 8.0)
    named = {e for t, e in out if t > 2.0}
    assert named == {"squat"}


def test_a_long_stretch_of_none_ends_it_and_a_new_exercise_takes_over():
    answers = [probs(squat=0.9)] * 8 + [probs(none=0.95)] * 10 + [probs(lunge=0.9)] * 20
    out, _ = recognise(answers, 12.0)
    assert first(out, "squat") is not None and first(out, NONE) == 0.0
    leave = next(t for t, e in out if t > first(out, "squat") and e == NONE)
    assert leave >= first(out, "squat") + LEAVE_S
    assert first(out, "lunge") > leave


def test_nobody_in_the_picture_is_none_after_a_while():
    out, _ = recognise([probs(squat=0.9)] * 40, 9.0, gap=(3.0, 9.0))
    assert [e for t, e in out if 2.5 < t < 3.0] == ["squat"] * len([t for t, e in out if 2.5 < t < 3.0])
    assert out[-1][1] == NONE


def test_clean_phases_give_one_change_per_position():
    answers = [("start", 0.9)] * 10 + [("end", 0.9)] * 10 + [("start", 0.9)] * 10
    phases = run_phase(answers)
    assert phases[:4] == [""] * 4           # nothing until the window has filled
    assert count_cycles(phases) == 1
    changes = sum(1 for a, b in zip(phases, phases[1:]) if a and b and a != b)
    assert changes == 2


def test_jitter_at_the_boundary_never_flips_the_phase():
    answers = [("start", 0.9)] * 8 + [("end", 0.6), ("start", 0.6)] * 15
    phases = run_phase(answers)
    assert set(phases[4:]) == {"start"}


def test_a_single_wrong_frame_inside_a_position_is_ignored():
    answers = ([("start", 0.9)] * 8 + [("end", 1.0)] + [("start", 0.9)] * 8) * 3
    assert set(run_phase(answers)[4:]) == {"start"}


def test_missing_phase_answers_keep_the_phase():
    voter = PhaseVoter()
    for _ in range(6):
        voter.add("end", 1.0)
    vote = voter.add("", 0.0)
    assert vote.phase == "end"


def test_reps_counted_from_votes_on_a_noisy_sequence():
    # Three reps of 30 frames, with low-confidence answers around each change and a frame of jitter.
    answers = []
    for _ in range(3):
        answers += [("start", 0.9)] * 10 + [("end", 0.55), ("start", 0.55)] * 2 + [("end", 0.9)] * 10
        answers += [("start", 0.55), ("end", 0.55)] * 2 + [("start", 0.9)]
    answers += [("start", 0.9)] * 8
    assert count_cycles(run_phase(answers)) == 3


def test_votes_are_deterministic():
    answers = [("start", 0.8), ("end", 0.7), ("end", 0.9)] * 20
    assert run_phase(answers) == run_phase(answers)
