"""Rep counting from voted phases: cycles, debouncing, getting into position, gaps, exercise switches, range."""
from __future__ import annotations

from services.coach.rep_counter import RepCounter, RepTiming

FPS = 30.0


def feed(counter: RepCounter, phases: list[str], t0: float = 0.0, angles: list[float | None] | None = None,
         fps: float = FPS) -> tuple[list, float]:
    """Feed one phase per frame; returns (reps, time after the last frame)."""
    reps = []
    for i, phase in enumerate(phases):
        rep = counter.observe(t0 + i / fps, phase, None if angles is None else angles[i])
        if rep is not None:
            reps.append(rep)
    return reps, t0 + len(phases) / fps


def cycles(n: int, start: int = 20, end: int = 20) -> list[str]:
    return (["start"] * start + ["end"] * end) * n + ["start"] * start


def test_counts_one_rep_per_full_cycle():
    counter = RepCounter("squat")
    reps, _ = feed(counter, cycles(5))
    assert [r.number for r in reps] == [1, 2, 3, 4, 5]
    assert counter.count == 5
    # A rep lasts from leaving the start phase to being back in it: 20 frames of "end" at 30 fps.
    assert abs(reps[0].duration_s - 20 / FPS) < 0.01


def test_a_half_cycle_is_not_a_rep():
    counter = RepCounter("squat")
    reps, _ = feed(counter, ["start"] * 20 + ["end"] * 20)
    assert reps == [] and counter.count == 0
    assert counter.in_rep


def test_getting_into_position_is_not_counted():
    # Lying down before the first push-up looks like "end" then "start": no rep until a settled start.
    counter = RepCounter("push_up")
    reps, _ = feed(counter, ["end"] * 30 + ["start"] * 30)
    assert reps == []
    reps, _ = feed(counter, ["end"] * 20 + ["start"] * 20, t0=2.0)
    assert len(reps) == 1


def test_jitter_around_the_boundary_is_not_counted():
    counter = RepCounter("squat")
    jitter = ["start"] * 20 + ["end", "start", "end", "start", "start", "end", "start"] * 4 + ["start"] * 20
    reps, _ = feed(counter, jitter)
    assert reps == []


def test_phase_must_persist_before_it_counts():
    counter = RepCounter("squat", RepTiming(min_phase_s=0.2, min_phase_frames=3))
    # 4 frames of "end" at 30 fps = 0.13 s: too short to count as reaching the bottom.
    reps, _ = feed(counter, ["start"] * 20 + ["end"] * 4 + ["start"] * 20)
    assert reps == []
    reps, _ = feed(counter, ["end"] * 12 + ["start"] * 20, t0=2.0)
    assert len(reps) == 1


def test_too_fast_and_too_slow_cycles_are_rejected():
    counter = RepCounter("squat", RepTiming(min_rep_s=0.5, max_rep_s=3.0))
    reps, t = feed(counter, ["start"] * 20 + ["end"] * 6 + ["start"] * 20)   # 0.2 s
    assert reps == [] and counter.rejected == {"too_short": 1}
    reps, _ = feed(counter, ["end"] * 120 + ["start"] * 20, t0=t)           # 4 s at the bottom
    assert reps == [] and counter.rejected == {"too_short": 1, "too_long": 1}


def test_missing_frames_within_a_rep_still_count():
    counter = RepCounter("squat")
    phases = ["start"] * 20 + ["end"] * 8 + [""] * 10 + ["end"] * 5 + ["start"] * 20   # "" = skipped / no body
    reps, _ = feed(counter, phases)
    assert len(reps) == 1


def test_a_long_gap_forgets_the_cycle_and_needs_a_new_start():
    counter = RepCounter("squat", RepTiming(max_gap_s=1.0))
    reps, t = feed(counter, ["start"] * 20 + ["end"] * 20)
    # The trainee is gone for 3 s, then comes back already at the bottom and stands up: not a rep.
    reps, t = feed(counter, ["end"] * 20 + ["start"] * 20, t0=t + 3.0)
    assert reps == []
    reps, _ = feed(counter, ["end"] * 20 + ["start"] * 20, t0=t)
    assert len(reps) == 1


def test_a_pause_between_reps_is_fine():
    counter = RepCounter("squat")
    reps, t = feed(counter, cycles(2))
    reps2, _ = feed(counter, ["start"] * 300 + ["end"] * 20 + ["start"] * 20, t0=t)   # 10 s standing
    assert len(reps) == 2 and len(reps2) == 1 and reps2[0].number == 3


def test_counters_per_exercise_do_not_leak():
    squat, lunge = RepCounter("squat"), RepCounter("lunge")
    reps, t = feed(squat, cycles(3))
    # Half a squat, then the trainee switches to lunges for a while, then squats again.
    feed(squat, ["end"] * 20, t0=t)
    lunge_reps, t2 = feed(lunge, cycles(2), t0=t + 20 / FPS)
    squat_reps, _ = feed(squat, ["start"] * 20, t0=t2)
    assert len(reps) == 3 and len(lunge_reps) == 2
    assert squat_reps == [] and squat.count == 3 and lunge.count == 2


def test_shallow_swings_are_rejected_with_a_rep_angle():
    counter = RepCounter("squat")
    phases = ["start"] * 20 + ["end"] * 20 + ["start"] * 20
    shallow = [175.0] * 20 + [165.0] * 20 + [175.0] * 20
    reps, t = feed(counter, phases, angles=shallow)
    assert reps == [] and counter.rejected == {"shallow": 1}
    deep = [175.0] * 20 + [90.0] * 20 + [175.0] * 20
    reps, _ = feed(counter, phases, t0=t, angles=deep)
    assert len(reps) == 1 and abs(reps[0].range_of_motion - 85.0) < 1.0


def test_range_of_motion_grows_with_arm_raise_for_jumping_jacks():
    counter = RepCounter("jumping_jack")
    phases = ["start"] * 10 + ["end"] * 10 + ["start"] * 10
    angles = [15.0] * 10 + [160.0] * 10 + [15.0] * 10
    reps, _ = feed(counter, phases, angles=angles)
    assert len(reps) == 1 and abs(reps[0].range_of_motion - 145.0) < 1.0


def test_end_of_stream_completes_a_returning_rep_only():
    returning = RepCounter("squat")
    angles = [175.0] * 20 + [90.0] * 15 + [120.0, 140.0, 160.0, 170.0]
    feed(returning, ["start"] * 20 + ["end"] * 19, angles=angles)
    assert returning.finish(2.0) is not None and returning.count == 1
    at_bottom = RepCounter("squat")
    feed(at_bottom, ["start"] * 20 + ["end"] * 19, angles=[175.0] * 20 + [90.0] * 19)
    assert at_bottom.finish(2.0) is None and at_bottom.count == 0


def test_restored_count_continues():
    counter = RepCounter("push_up", count=12)
    reps, _ = feed(counter, cycles(1))
    assert reps[0].number == 13


def rising(start: float, top: float, n: int) -> list[float]:
    return [start + (top - start) * i / (n - 1) for i in range(n)]


def test_a_rep_under_way_when_the_stream_began_counts_after_a_full_return():
    # The camera started with the trainee at the bottom of a squat: up, then one ordinary squat.
    phases = ["end"] * 15 + ["start"] * 30 + ["end"] * 20 + ["start"] * 20
    angles = [70.0] * 10 + rising(70.0, 175.0, 20) + [175.0] * 15 + [90.0] * 20 + [175.0] * 20
    joined = RepCounter("squat")
    joined.join_under_way()
    reps, _ = feed(joined, phases, angles=angles)
    assert [r.number for r in reps] == [1, 2]
    # Counted as soon as the way up covers a full rep's range (70 degrees for squats), not at the very top.
    assert reps[0].started_at == 0.0 and 70.0 <= reps[0].range_of_motion < 105.0
    assert reps[0].ended_at < 35 / FPS
    # Not under way (someone getting into position in a live session): only the ordinary squat counts.
    ordinary = RepCounter("squat")
    reps, _ = feed(ordinary, phases, angles=angles)
    assert len(reps) == 1


def test_a_joined_rep_needs_the_range_of_a_full_rep():
    # Half-way up when the stream began: 130 -> 175 degrees is not a whole rep.
    counter = RepCounter("squat")
    counter.join_under_way()
    reps, _ = feed(counter, ["end"] * 10 + ["start"] * 30, angles=rising(130.0, 175.0, 20) + [175.0] * 20)
    assert reps == [] and counter.count == 0
    # Back down before the return was full: nothing from the opening, the next ordinary squat counts.
    counter = RepCounter("squat")
    counter.join_under_way()
    phases = ["end"] * 10 + ["start"] * 10 + ["end"] * 20 + ["start"] * 20
    angles = [70.0] * 10 + [110.0] * 10 + [80.0] * 20 + [175.0] * 20
    reps, _ = feed(counter, phases, angles=angles)
    assert counter.rejected.get("partial_start") == 1
    # 110 then settled as a start: 110 -> 80 -> 175 is an ordinary (shallow but valid) squat.
    assert counter.count == 1


def test_a_joined_rep_needs_a_rep_angle():
    counter = RepCounter("squat")
    counter.join_under_way()
    reps, _ = feed(counter, ["end"] * 15 + ["start"] * 30)
    assert reps == []


def test_joining_only_applies_to_the_first_position_seen():
    # The stream began at the top: an ordinary start, and a later bottom-to-top is never a joined rep.
    counter = RepCounter("squat")
    counter.join_under_way()
    phases = ["start"] * 20 + ["end"] * 20 + ["start"] * 20
    reps, _ = feed(counter, phases, angles=[175.0] * 20 + [80.0] * 20 + [175.0] * 20)
    assert len(reps) == 1 and reps[0].started_at > 0.5


def test_a_push_up_cut_on_the_way_up_counts_only_near_straight_arms():
    def cut_at(last_angle: float, exercise: str) -> int:
        counter = RepCounter(exercise)
        angles = [175.0] * 20 + [60.0] * 15 + [90.0, last_angle]
        feed(counter, ["start"] * 20 + ["end"] * 17, angles=angles)
        counter.finish(2.0)
        return counter.count
    # Swing 115 degrees: 60 % of the way back is 129, 75 % is 146.
    assert cut_at(135.0, "push_up") == 0
    assert cut_at(150.0, "push_up") == 1
    assert cut_at(135.0, "squat") == 1      # squats and crunches cut as late are labelled with the rep
