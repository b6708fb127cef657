"""The body measures that carry reps, on synthetic poses, and the exercises' gates on synthetic movements."""
from __future__ import annotations

import math

import numpy as np
import pytest

from common.exercises import CATALOGUE
from common.rep_signals import measure_all, signal_value
from services.coach.exercise_tracker import ExerciseCounter
from tests.test_coach_poses import SQUAT_DOWN, SQUAT_UP, front_pose, side_pose


def squat(depth: float) -> np.ndarray:
    mix = {k: SQUAT_UP[k] + depth * (SQUAT_DOWN[k] - SQUAT_UP[k]) for k in SQUAT_UP}
    return side_pose(**mix)


def test_squat_measures_swing_from_standing_to_the_bottom():
    up, down = measure_all(squat(0.0), 1.0), measure_all(squat(1.0), 1.0)
    assert up["knee_angle"] > 170 and down["knee_angle"] < 110
    assert up["hip_height"] - down["hip_height"] > 40          # the hips drop by over 40 % of the torso
    signal = CATALOGUE["squat"].signals[0]
    assert signal_value(signal, up) - signal_value(signal, down) > 2 * signal.min_swing


def test_hip_height_is_measured_from_the_foot_on_the_floor():
    standing = front_pose()
    lifted = standing.copy()
    lifted[[27, 29, 31], 1] -= 0.25          # one foot raised high (a high knee, a march)
    assert measure_all(lifted, 1.0)["hip_height"] == pytest.approx(measure_all(standing, 1.0)["hip_height"])


def test_a_torso_cut_by_the_frame_gives_no_hip_height():
    cut = front_pose(center=(0.5, 0.05))    # shoulders above the picture's top edge
    assert cut[11, 1] < -0.05
    assert measure_all(cut, 1.0)["hip_height"] is None


def test_unseen_joints_give_no_measure_and_a_blend_needs_all_its_parts():
    lm = squat(0.5)
    lm[:, 3] = 0.1                           # nothing seen with confidence
    measures = measure_all(lm, 1.0)
    assert all(v is None for v in measures.values())
    assert signal_value(CATALOGUE["squat"].signals[0], {**measure_all(squat(0.5), 1.0), "hip_height": None}) is None
    assert measure_all(np.full((33, 4), np.nan), 1.0) == dict.fromkeys(measures)


def test_wrist_height_tells_hands_that_carry_the_body_from_hands_behind_the_head():
    roof = next(g.roof for g in CATALOGUE["push_up"].window_posture if g.measure == "wrist_height")
    push_up_top = side_pose(torso=80, thigh=80, shin=80, upper_arm=175, forearm=175)
    push_up_bottom = side_pose(torso=88, thigh=88, shin=88, upper_arm=120, forearm=200)
    wall = side_pose(torso=20, thigh=15, shin=10, upper_arm=100, forearm=95)   # hands on a wall at chest height
    sit_up = side_pose(torso=-20, thigh=80, shin=150, upper_arm=30, forearm=270)   # elbows up, hands behind the head
    assert measure_all(push_up_top, 1.0)["wrist_height"] < -50
    assert measure_all(push_up_bottom, 1.0)["wrist_height"] < -50
    assert measure_all(wall, 1.0)["wrist_height"] < 0
    assert measure_all(sit_up, 1.0)["wrist_height"] > roof
    hidden = sit_up.copy()
    hidden[[15, 16], 3] = 0.1                # no wrist seen: no measure
    assert measure_all(hidden, 1.0)["wrist_height"] is None


@pytest.mark.parametrize("raise_deg", [10.0, 90.0, 170.0])
def test_arm_elevation_is_the_angle_from_hanging_down(raise_deg):
    assert measure_all(front_pose(arm_raise=raise_deg), 1.0)["arm_elevation"] == pytest.approx(raise_deg, abs=1.0)


def test_knee_angle_takes_the_more_bent_knee_seen():
    lm = squat(0.8)
    both = measure_all(lm, 1.0)["knee_angle"]
    lm[26, 3] = 0.1                          # the far knee hidden: the near one alone
    assert measure_all(lm, 1.0)["knee_angle"] == pytest.approx(both, abs=1.0)


# --------------------------------------------------------------------------- gates

def swings(counter: ExerciseCounter, frames: list[dict], reps: int, fps: float = 30.0) -> int:
    n = 0
    t = 0.0
    for _ in range(reps):
        for m in frames:
            n += counter.update(t, m) is not None
            t += 1 / fps
    return n


def cycle(a: dict, b: dict, steps: int = 24) -> list[dict]:
    """From pose measures a to b and back, with a rest at a."""
    out = []
    for i in range(steps):
        w = (1 - math.cos(2 * math.pi * i / steps)) / 2
        out.append({k: None if a[k] is None or b[k] is None else a[k] + w * (b[k] - a[k]) for k in a})
    return out + [a] * 20


def test_knees_bending_without_the_hips_dropping_are_not_squats():
    up, down = measure_all(squat(0.0), 1.0), measure_all(squat(1.0), 1.0)
    assert swings(ExerciseCounter(CATALOGUE["squat"]), cycle(up, down), 4) == 4
    high_knees = {**down, "hip_height": up["hip_height"] - 10}   # knees bend, hips stay up
    counter = ExerciseCounter(CATALOGUE["squat"])
    # The blend still swings (the knee alone is a third of it) but the hips did not drop.
    counter.counters[0].signal = type(counter.counters[0].signal)(
        (("knee_angle", 1.0, 80.0),), True, 1.0, 0.4, 0.3, 12.0)
    assert swings(counter, cycle(up, high_knees), 4) == 0 and counter.gated == 4


def test_a_leap_is_not_a_jumping_jack_nor_a_squat_first():
    closed = measure_all(front_pose(arm_raise=10, feet_spread=1.0), 1.0)
    opened = measure_all(front_pose(arm_raise=170, feet_spread=2.0), 1.0)
    assert swings(ExerciseCounter(CATALOGUE["jumping_jack"]), cycle(closed, opened), 3) == 3
    leap = {**opened, "hip_height": closed["hip_height"] + 150}           # the whole body leaves the floor
    counter = ExerciseCounter(CATALOGUE["jumping_jack"])
    assert swings(counter, cycle(closed, leap), 3) == 0 and counter.gated == 3
    crouch = {**opened, "knee_angle": 95.0}                               # a star jump squats first
    assert swings(ExerciseCounter(CATALOGUE["jumping_jack"]), cycle(closed, crouch), 3) == 0
