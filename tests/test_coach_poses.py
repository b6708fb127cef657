"""Synthetic BlazePose landmarks for the coach's tests (stick figures from segment directions), and their checks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from common.features import NOSE
from services.coach.body import SIDES, Body

SHIN, THIGH, TORSO, UPPER_ARM, FOREARM = 0.20, 0.20, 0.25, 0.13, 0.12


def _dir(deg: float) -> np.ndarray:
    """Unit vector at `deg` from straight up, positive towards the way the trainee faces (+x), y down."""
    rad = math.radians(deg)
    return np.array([math.sin(rad), -math.cos(rad)])


def side_pose(shin: float = 0.0, thigh: float = 0.0, torso: float = 0.0, upper_arm: float = 180.0,
              forearm: float = 180.0, head_down: float = 10.0, facing: int = 1, ankle=(0.5, 0.85),
              foot: float = 90.0, far_visibility: float = 0.4, scale: float = 1.0) -> np.ndarray:
    """A side-view body [33, 4] (aspect 1) built up from the ankle; angles in degrees from vertical.

    The near side (left) is seen well; the far side (right) is a copy shifted slightly, with low visibility.
    """
    pts: dict[str, np.ndarray] = {}
    pts["ankle"] = np.array(ankle, dtype=float)
    pts["knee"] = pts["ankle"] + scale * SHIN * _dir(shin)
    pts["hip"] = pts["knee"] + scale * THIGH * _dir(thigh)
    pts["shoulder"] = pts["hip"] + scale * TORSO * _dir(torso)
    pts["elbow"] = pts["shoulder"] + scale * UPPER_ARM * _dir(upper_arm)
    pts["wrist"] = pts["elbow"] + scale * FOREARM * _dir(forearm)
    pts["ear"] = pts["shoulder"] + scale * 0.07 * _dir(torso)
    pts["nose"] = pts["ear"] + scale * 0.05 * _dir(90.0 + head_down)
    pts["heel"] = pts["ankle"] + scale * 0.03 * _dir(foot + 180.0) + np.array([0.0, 0.02 * scale])
    pts["toe"] = pts["ankle"] + scale * 0.08 * _dir(foot) + np.array([0.0, 0.02 * scale])
    lm = np.zeros((33, 4), np.float32)
    lm[:, 3] = 0.0
    for part, xy in pts.items():
        if facing < 0:
            xy = np.array([2 * ankle[0] - xy[0], xy[1]])
        for side, vis, shift in (("left", 0.99, 0.0), ("right", far_visibility, 0.01)):
            idx = SIDES[side][part]
            lm[idx, :2] = xy + shift
            lm[idx, 3] = max(lm[idx, 3], vis) if part == "nose" else vis
    return lm


def front_pose(arm_raise: float = 10.0, feet_spread: float = 1.0, elbow: float = 175.0, center=(0.5, 0.5),
               scale: float = 1.0) -> np.ndarray:
    """A front-view body [33, 4]: arms raised `arm_raise` degrees from hanging, ankles `feet_spread`
    shoulder widths apart, elbows at `elbow` degrees."""
    half_shoulder = 0.08 * scale
    neck = np.array(center, dtype=float) - np.array([0.0, 0.12 * scale])
    hip_y = neck[1] + TORSO * scale
    lm = np.zeros((33, 4), np.float32)
    lm[:, 3] = 0.99
    lm[NOSE, :2] = neck + np.array([0.0, -0.09 * scale])
    for sign, side in ((-1, "right"), (1, "left")):   # the trainee's left is on the picture's right
        s = SIDES[side]
        shoulder = neck + np.array([sign * half_shoulder, 0.0])
        hip = np.array([neck[0] + sign * 0.06 * scale, hip_y])
        ankle = np.array([neck[0] + sign * feet_spread * half_shoulder, hip_y + (SHIN + THIGH) * scale])
        knee = (hip + ankle) / 2
        # Arm direction: 180 = hanging down, 0 = straight up, swinging out to the side.
        arm_dir = np.array([sign * math.sin(math.radians(arm_raise)), math.cos(math.radians(arm_raise))])
        elbow_pt = shoulder + UPPER_ARM * scale * arm_dir
        bend = math.radians(180.0 - elbow)
        rot = np.array([[math.cos(bend), -sign * math.sin(bend)], [sign * math.sin(bend), math.cos(bend)]])
        wrist = elbow_pt + FOREARM * scale * rot @ arm_dir
        for part, xy in (("shoulder", shoulder), ("hip", hip), ("knee", knee), ("ankle", ankle),
                         ("elbow", elbow_pt), ("wrist", wrist), ("ear", neck + np.array([sign * 0.03, -0.09])),
                         ("heel", ankle + np.array([0.0, 0.02])), ("toe", ankle + np.array([0.0, 0.03]))):
            lm[s[part], :2] = xy
    return lm


# Poses of each exercise at its start and end phase (side view unless stated).
SQUAT_UP = dict(shin=0.0, thigh=0.0, torso=0.0)
SQUAT_DOWN = dict(shin=25.0, thigh=-75.0, torso=35.0)
PUSH_UP_TOP = dict(shin=75.0, thigh=75.0, torso=75.0, upper_arm=165.0, forearm=165.0, foot=170.0,
                   ankle=(0.15, 0.75))
PUSH_UP_BOTTOM = dict(shin=82.0, thigh=82.0, torso=82.0, upper_arm=225.0, forearm=135.0, foot=170.0,
                      ankle=(0.15, 0.75))
PLANK_GOOD = dict(shin=82.0, thigh=82.0, torso=82.0, upper_arm=170.0, forearm=90.0, foot=170.0,
                  ankle=(0.15, 0.75))
PLANK_HIPS_HIGH = dict(shin=55.0, thigh=55.0, torso=115.0, upper_arm=170.0, forearm=90.0, foot=170.0,
                       ankle=(0.15, 0.75))
PLANK_HIPS_LOW = dict(shin=95.0, thigh=95.0, torso=60.0, upper_arm=170.0, forearm=90.0, foot=170.0,
                      ankle=(0.15, 0.75))

def body(lm: np.ndarray) -> Body:
    return Body.from_landmarks(lm, aspect=1.0)


# --------------------------------------------------------------------------- checks of the builders

def test_squat_poses_have_the_intended_knee_angles():
    up, down = body(side_pose(**SQUAT_UP)), body(side_pose(**SQUAT_DOWN))
    assert up.angle("left", "hip", "knee", "ankle") == pytest.approx(180.0, abs=1.0)
    assert 70 < down.angle("left", "hip", "knee", "ankle") < 90
    assert up.near_side() == "left"


def test_push_up_poses_bend_the_elbow_and_keep_the_body_straight():
    top, bottom = body(side_pose(**PUSH_UP_TOP)), body(side_pose(**PUSH_UP_BOTTOM))
    assert top.angle("left", "shoulder", "elbow", "wrist") > 170
    assert bottom.angle("left", "shoulder", "elbow", "wrist") < 100
    assert top.angle("left", "shoulder", "hip", "ankle") > 175


def test_front_pose_arms_and_feet():
    down, up = body(front_pose(arm_raise=10, feet_spread=1.0)), body(front_pose(arm_raise=170, feet_spread=2.2))
    assert down.p("left", "wrist")[1] > down.nose[1]
    assert up.p("left", "wrist")[1] < up.nose[1] and up.p("right", "wrist")[1] < up.nose[1]
    spread = np.linalg.norm(up.p("left", "ankle") - up.p("right", "ankle")) / up.shoulder_width()
    assert spread == pytest.approx(2.2, rel=0.01)


def test_jumping_jack_arm_angle_needs_no_hips():
    """A close camera (laptop on a desk) cuts the body at the waist: the arms' swing is still read and counted."""
    from common.rep_signals import measure_all
    from services.coach.setup_checks import body_visible
    for raise_deg in (10.0, 90.0, 170.0):
        lm = front_pose(arm_raise=raise_deg)
        full = measure_all(lm, 1.0)["arm_elevation"]
        lm[[23, 24, 25, 26, 27, 28, 29, 30, 31, 32], 1] = 1.3   # below the picture's edge
        lm[[23, 24, 25, 26, 27, 28, 29, 30, 31, 32], 3] = 0.1   # BlazePose does not see them
        cut = body(lm)
        assert measure_all(lm, 1.0)["arm_elevation"] == pytest.approx(full, abs=1e-6)
        assert measure_all(lm, 1.0)["knee_angle"] is None and measure_all(lm, 1.0)["hip_height"] is None
        assert full == pytest.approx(raise_deg, abs=1.0)
        assert body_visible(cut, "jumping_jack")
        assert not body_visible(cut, "squat")
