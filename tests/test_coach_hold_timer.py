"""Plank timing: runs while the pose holds, bridges short dropouts, milestones every 10 s."""
from __future__ import annotations

import pytest

from services.coach.hold_timer import HoldTimer, HoldTiming

FPS = 30.0


def run(timer: HoldTimer, pattern: list[bool], t0: float = 0.0) -> tuple[list, float]:
    events = []
    for i, holding in enumerate(pattern):
        events += timer.update(t0 + i / FPS, holding)
    return events, t0 + len(pattern) / FPS


def test_time_accumulates_only_while_holding():
    timer = HoldTimer("plank")
    events, t = run(timer, [False] * 30 + [True] * 150 + [False] * 60)
    assert [e.kind for e in events] == ["start", "end"]
    assert events[-1].hold.seconds == pytest.approx(5.0, abs=0.05)
    assert timer.total_s() == pytest.approx(5.0, abs=0.05)
    assert not timer.holding


def test_short_dropouts_are_bridged_long_ones_end_the_hold():
    timer = HoldTimer("plank", HoldTiming(dropout_s=1.0))
    # 3 s, 0.5 s lost (a few frames without a body), 3 s: one hold of 6.5 s.
    events, t = run(timer, [True] * 90 + [False] * 15 + [True] * 90 + [False] * 40)
    assert [e.kind for e in events] == ["start", "end"]
    assert events[-1].hold.seconds == pytest.approx(6.5, abs=0.05)
    # 2 s lost splits the hold in two.
    timer2 = HoldTimer("plank", HoldTiming(dropout_s=1.0))
    events, _ = run(timer2, [True] * 90 + [False] * 60 + [True] * 90 + [False] * 40)
    holds = [e.hold.seconds for e in events if e.kind == "end"]
    assert holds == [pytest.approx(3.0, abs=0.05), pytest.approx(3.0, abs=0.05)]
    assert timer2.total_s() == pytest.approx(6.0, abs=0.1)


def test_milestones_every_ten_seconds():
    timer = HoldTimer("plank")
    events, t = run(timer, [True] * int(25 * FPS))
    milestones = [e.seconds for e in events if e.kind == "milestone"]
    assert milestones == [10.0, 20.0]
    assert timer.holding and timer.current_s() == pytest.approx(25.0, abs=0.05)
    final = timer.finish(t)
    assert final[0].hold.seconds == pytest.approx(25.0, abs=0.05)


def test_a_pass_through_the_pose_is_not_a_hold():
    timer = HoldTimer("plank", HoldTiming(min_hold_s=1.0))
    events, _ = run(timer, [True] * 15 + [False] * 60)
    assert events[-1].kind == "end" and events[-1].hold is None
    assert timer.total_s() == 0.0


def test_restored_total_is_kept():
    timer = HoldTimer("plank", total_s=42.0)
    run(timer, [True] * 60 + [False] * 60)
    assert timer.total_s() == pytest.approx(44.0, abs=0.05)


def test_a_hold_found_again_is_backdated_only_to_where_the_last_one_ended():
    # The vote loses a plank for 1.5 s and finds it again; the posture was held all along, and the new hold is
    # backdated over the gap, not over the 4 s already counted (a 6.3 s clip once summed to 8 s).
    timer = HoldTimer("plank", HoldTiming(dropout_s=1.0))
    events, t = run(timer, [True] * 120 + [False] * 45)
    assert events[-1].hold.seconds == pytest.approx(4.0, abs=0.05)
    events, t = run(timer, [True] * 30, t0=t)
    timer.backdate(t - 3.0)                  # 3 s of posture in the frames kept: back to 3.5 s of stream time ...
    events += timer.finish(t)
    assert events[-1].hold.seconds == pytest.approx(6.5 - 4.0, abs=0.05)   # ... but the first hold ran to 4.0 s
    assert timer.total_s() == pytest.approx(t, abs=0.05)                   # the whole 6.5 s stream, once
