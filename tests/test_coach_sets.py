"""Sets: a pause or another exercise closes one; what the coach says about counts, sets and holds."""
from __future__ import annotations

from services.coach.sets import SetRecord, SetTracker, hold_announcement, rep_announcement, set_announcement


def test_pause_closes_a_set_and_numbers_go_up_per_exercise():
    sets = SetTracker(pause_s=8.0)
    for t in (1.0, 3.0, 5.0):
        closed, opened = sets.activity(t, "squat", started_at=t - 1.0)
        assert closed is None
    assert sets.current.number == 1 and sets.current.started_at == 0.0
    assert sets.tick(12.0) is None           # 7 s after the last rep: still the same set
    record = sets.tick(13.5)
    assert record is not None and record.number == 1 and record.ended_at == 5.0
    closed, opened = sets.activity(20.0, "squat")
    assert opened and sets.current.number == 2


def test_another_exercise_closes_the_set():
    sets = SetTracker(pause_s=8.0)
    sets.activity(1.0, "squat")
    closed, opened = sets.activity(2.0, "lunge")
    assert closed.exercise == "squat" and opened and sets.current.exercise == "lunge"
    assert sets.current.number == 1


def test_restored_numbers_continue():
    sets = SetTracker(pause_s=8.0, numbers={"squat": 3})
    sets.activity(1.0, "squat")
    assert sets.current.number == 4


def test_announcements():
    assert rep_announcement(7).text == "7"
    assert set_announcement(SetRecord("squat", 2, 0.0, 30.0, reps=10)).text == "Set 2 done: 10 squats"
    assert set_announcement(SetRecord("push_up", 1, 0.0, 3.0, reps=1)).text == "Set 1 done: 1 push-up"
    assert set_announcement(SetRecord("plank", 1, 0.0, 35.0, hold_seconds=34.6)).text == \
        "Set 1 done: 35 seconds of plank"
    assert hold_announcement(20.0).text == "20 seconds"
    assert set_announcement(SetRecord("squat", 1, 0, 1, reps=3)).priority > rep_announcement(3).priority
