"""Window votes on synthetic answer sequences: steady, jittery, gappy and switching."""
from common.exercises import NONE
from services.classifier.voting import ExerciseVoter, PhaseVoter, VoteOptions
from offline.phase_labels import count_cycles


def run_exercise(labels, options=VoteOptions(), prob=0.9):
    voter = ExerciseVoter(options)
    return [voter.add(label, prob).exercise for label in labels]


def run_phase(answers, options=VoteOptions()):
    voter = PhaseVoter(options)
    return [voter.add(phase, conf).phase for phase, conf in answers]


def test_a_steady_answer_is_taken_once_it_holds_most_of_the_window():
    voted = run_exercise(["squat"] * 12)
    assert voted[:5] == [NONE] * 5          # 6 of 9 frames needed (switch_share 0.6)
    assert voted[5:] == ["squat"] * 7


def test_jitter_does_not_change_the_answer():
    # Every third frame says lunge: squat still holds the window, the answer never moves.
    labels = ["squat"] * 9 + ["squat", "squat", "lunge"] * 10
    voted = run_exercise(labels)
    assert voted[9:] == ["squat"] * 30


def test_an_even_split_keeps_the_current_answer():
    voted = run_exercise(["squat"] * 9 + ["lunge", "squat"] * 10)
    assert set(voted[9:]) == {"squat"}


def test_a_short_gap_without_a_body_keeps_the_answer_and_a_long_one_ends_it():
    voted = run_exercise(["push_up"] * 9 + [None] * 4 + ["push_up"] * 5)
    assert set(voted[8:]) == {"push_up"}
    voted = run_exercise(["push_up"] * 9 + [None] * 9)
    assert voted[-1] == NONE
    assert voted[9 + 4] == "push_up"        # still the answer while the gap is short


def test_switching_exercise_takes_a_few_frames_then_sticks():
    voted = run_exercise(["squat"] * 12 + ["lunge"] * 12)
    first_lunge = voted.index("lunge")
    assert 12 + 4 <= first_lunge <= 12 + 6
    assert set(voted[first_lunge:]) == {"lunge"}


def test_unsure_answers_count_as_none():
    voter = ExerciseVoter(VoteOptions(min_exercise_prob=0.5))
    out = [voter.add("plank", 0.3).exercise for _ in range(12)]
    assert set(out) == {NONE}


def test_conf_is_the_share_of_the_window():
    voter = ExerciseVoter()
    for _ in range(9):
        vote = voter.add("crunch", 0.9)
    assert vote.conf == 1.0
    vote = voter.add(None)
    assert vote.exercise == "crunch" and abs(vote.conf - 8 / 9) < 1e-9


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
