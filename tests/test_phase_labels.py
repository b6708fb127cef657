"""Phase labelling of clips on synthetic movement: extremes labelled, middle and idle frames left out."""
import numpy as np
import pytest

from offline.phase_labels import (count_cycles, label_phases, local_range, movement_signal, nan_median_filter,
                                  torso_incline)

ASPECT = 16 / 9
# Body proportions in torso lengths, as measured on real front-view clips (hip to ankle ~1.45 torso).
THIGH, SHIN, UPPER_ARM, FOREARM, HEAD = 0.78, 0.72, 0.55, 0.5, 0.4


def _unit(deg):
    r = np.radians(deg)
    return np.array([np.sin(r), np.cos(r)])   # 0 = down, 90 = forward (+x), 180 = up (image y grows down)


def side_pose(torso=180.0, thighs=(0.0, 0.0), shins=(0.0, 0.0), arms=(0.0, 0.0), forearms=(0.0, 0.0), roll=0.0,
              x=0.5, floor=0.85, size=0.2, aspect=ASPECT, width=0.15):
    """BlazePose landmarks [33, 4] of a body seen from its left side, facing +x.

    Segment directions are absolute degrees (0 = pointing down, 90 = forward, 180 = up) before `roll` turns
    the whole body (-90: lying face down, head forward). `width`: how far apart the two sides look.
    """
    T = size
    p = {"neck": _unit(torso + roll) * T}
    p["nose"] = p["neck"] + _unit(torso + roll - 30) * HEAD * T
    for i, side in enumerate("lr"):
        off = np.array([(0.5 - i) * width * T, 0.0])
        p[side + "sh"] = p["neck"] + off
        p[side + "hip"] = off * 0.6
        p[side + "knee"] = p[side + "hip"] + _unit(thighs[i] + roll) * THIGH * T
        p[side + "ankle"] = p[side + "knee"] + _unit(shins[i] + roll) * SHIN * T
        p[side + "foot"] = p[side + "ankle"] + _unit(shins[i] + roll + 90) * 0.25 * T
        p[side + "heel"] = p[side + "ankle"] + _unit(shins[i] + roll - 100) * 0.07 * T
        p[side + "elbow"] = p[side + "sh"] + _unit(arms[i] + roll) * UPPER_ARM * T
        p[side + "wrist"] = p[side + "elbow"] + _unit(forearms[i] + roll) * FOREARM * T
    index = {11: "lsh", 12: "rsh", 13: "lelbow", 14: "relbow", 15: "lwrist", 16: "rwrist", 23: "lhip",
             24: "rhip", 25: "lknee", 26: "rknee", 27: "lankle", 28: "rankle", 29: "lheel", 30: "rheel",
             31: "lfoot", 32: "rfoot"}
    xy = np.array([p[index.get(i, "nose")] for i in range(33)])
    xy[1:11] += np.linspace(-0.03, 0.03, 10)[:, None] * T      # eyes, ears, mouth around the nose
    xy[17:23] = xy[[15, 16, 15, 16, 15, 16]] + 0.05 * T          # fingers just beyond the wrists
    return _place(xy, x, floor, aspect, far_side_visibility=0.7)


def front_pose(arms=10.0, legs=3.0, x=0.5, floor=0.9, size=0.2, aspect=ASPECT):
    """A body facing the camera; arms and legs raised sideways by the given degrees (0 = down)."""
    T = size
    xy = np.zeros((33, 2))
    neck = np.array([0.0, -T])
    xy[0] = neck + [0, -HEAD * T]
    xy[1:11] = xy[0] + np.linspace(-0.08, 0.08, 10)[:, None] * [T, 0]
    # The trainee's left is the viewer's right: left joints at +x.
    for sgn, (sh, el, wr, hip, kn, an, he, fo) in ((1, (11, 13, 15, 23, 25, 27, 29, 31)),
                                                   (-1, (12, 14, 16, 24, 26, 28, 30, 32))):
        arm = np.array([sgn * np.sin(np.radians(arms)), np.cos(np.radians(arms))])
        leg = np.array([sgn * np.sin(np.radians(legs)), np.cos(np.radians(legs))])
        xy[sh] = neck + [sgn * 0.35 * T, 0]
        xy[el] = xy[sh] + arm * UPPER_ARM * T
        xy[wr] = xy[el] + arm * FOREARM * T
        xy[hip] = [sgn * 0.2 * T, 0]
        xy[kn] = xy[hip] + leg * THIGH * T
        xy[an] = xy[kn] + leg * SHIN * T
        xy[he] = xy[an] + [0, 0.03 * T]
        xy[fo] = xy[an] + [sgn * 0.05 * T, 0.08 * T]
    xy[17:23] = xy[[15, 16, 15, 16, 15, 16]]
    return _place(xy, x, floor, aspect, far_side_visibility=0.95)


def _place(xy, x, floor, aspect, far_side_visibility):
    xy = xy.copy()
    xy[:, 0] += x * aspect
    xy[:, 1] += floor - xy[:, 1].max()
    lm = np.zeros((33, 4), np.float32)
    lm[:, 0], lm[:, 1] = xy[:, 0] / aspect, xy[:, 1]
    lm[:, 3] = 0.95
    lm[[12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32], 3] = far_side_visibility
    return lm


def squat_at(depth):
    """0 = standing, 1 = the bottom of a deep squat (side view, arms held forward)."""
    return side_pose(torso=180 - 40 * depth, thighs=(95 * depth,) * 2, shins=(-25 * depth,) * 2,
                     arms=(90, 90), forearms=(90, 90))


def squat_sequence(reps=3, frames_per_rep=30, idle_before=0, idle_after=0):
    depth = [0.0] * idle_before
    for _ in range(reps):
        depth += list((1 - np.cos(np.linspace(0, 2 * np.pi, frames_per_rep, endpoint=False))) / 2)
    depth += [0.0] * idle_after
    return np.array([squat_at(d) for d in depth]), np.array(depth)


def test_squat_extremes_are_labelled_and_the_middle_is_not():
    lm, depth = squat_sequence(reps=3)
    labels = label_phases("squat", lm, ASPECT, fps=30)
    assert labels.active.all()
    assert set(labels.phase[depth < 0.1]) == {"start"}
    assert set(labels.phase[depth > 0.9]) == {"end"}
    middle = labels.phase == ""   # the dead band: mid-movement frames teach level 2 nothing
    assert middle.mean() > 0.1
    assert depth[labels.phase == "start"].max() < depth[middle].min()
    assert depth[middle].max() < depth[labels.phase == "end"].min()
    assert count_cycles(labels.phase) == 3


def test_standing_still_is_not_active():
    # Two seconds still on each side of the reps: the movement window is +-2 s, so only frames farther than
    # that from any movement are idle.
    lm, depth = squat_sequence(reps=2, idle_before=150, idle_after=150)
    labels = label_phases("squat", lm, ASPECT, fps=30)
    assert not labels.active[:80].any()
    assert not labels.active[-80:].any()
    assert labels.active[150:210].all()


def test_a_clip_without_a_real_repetition_gives_nothing():
    lm = np.array([squat_at(d) for d in 0.05 * np.sin(np.linspace(0, 12, 120)) ** 2])   # knees barely bend
    labels = label_phases("squat", lm, ASPECT, fps=30)
    assert not labels.active.any()
    assert (labels.phase == "").all()


def test_frames_without_a_body_or_in_the_wrong_posture_are_left_out():
    lm, depth = squat_sequence(reps=2)
    lm = lm.copy()
    lm[10:15] = np.nan                      # no person found
    lying = side_pose(roll=-90)             # somebody lying down is not doing a squat
    lm[40:45] = lying
    labels = label_phases("squat", lm, ASPECT, fps=30)
    assert not labels.active[10:15].any() and not labels.active[40:45].any()
    assert (labels.phase[10:15] == "").all() and (labels.phase[40:45] == "").all()
    assert torso_incline(lying[None], ASPECT)[0] < 10


def test_push_up_phase_follows_the_elbows():
    top = dict(roll=-75, arms=(75, 75), forearms=(75, 75))
    bottom = dict(roll=-88, arms=(-12, -12), forearms=(98, 98))
    poses = [side_pose(**(top if (i // 15) % 2 == 0 else bottom)) for i in range(90)]
    labels = label_phases("push_up", np.array(poses), ASPECT, fps=30)
    assert set(labels.phase[0:15]) == {"start"} and set(labels.phase[15:30]) == {"end"}
    assert count_cycles(labels.phase) == 2


def test_jumping_jack_signal_rises_with_arms_and_legs():
    low = movement_signal("jumping_jack", front_pose(arms=10, legs=3)[None], ASPECT)[0]
    high = movement_signal("jumping_jack", front_pose(arms=160, legs=18)[None], ASPECT)[0]
    assert high - low > 1.5


def test_plank_has_no_phase_but_needs_a_straight_level_body():
    plank = side_pose(roll=-85, arms=(85, 85), forearms=(175, 175))
    kneeling = side_pose(thighs=(0, 0), shins=(-90, -90))
    on_all_fours = side_pose(roll=-90, thighs=(90, 90), shins=(0, 0), arms=(90, 90), forearms=(90, 90))
    labels = label_phases("plank", np.array([plank, kneeling, on_all_fours]), ASPECT, fps=30)
    assert list(labels.active) == [True, False, False]
    assert list(labels.phase) == ["", "", ""]


def test_unseen_joints_give_no_signal():
    lm = squat_at(0.5)[None].copy()
    lm[0, [23, 24], 3] = 0.1
    assert np.isnan(movement_signal("squat", lm, ASPECT)[0])


def test_helpers():
    x = np.array([1.0, np.nan, 3.0, 100.0, 5.0, np.nan, np.nan, np.nan])
    smooth = nan_median_filter(x, 3)
    assert smooth[3] == 5.0 and smooth[2] == pytest.approx(51.5) and np.isnan(smooth[1])   # the spike is gone
    assert local_range(np.array([0.0, 1.0, 5.0, np.nan]), 1).tolist() == [1.0, 5.0, 4.0, 0.0]
    assert count_cycles(["", "start", "end", "", "end", "start", "start", "end", "start"]) == 2
    assert count_cycles(["end", "start"]) == 1   # a rep finishing at the start of a clip still counts
