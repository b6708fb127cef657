"""Each form rule fires on a faulty synthetic pose and stays quiet on a good one; per-rep aggregation and score."""
from __future__ import annotations

import math

import numpy as np
import pytest

from common.features import NOSE
from services.coach.body import SIDES, Body
from common.exercises import CATALOGUE
from services.coach.form_rules import MEASURES, RULES_BY_EXERCISE, judge
from services.coach.form_tracker import FormTracker
from tests.test_coach_poses import (PLANK_GOOD, PLANK_HIPS_HIGH, PLANK_HIPS_LOW, PUSH_UP_BOTTOM, PUSH_UP_TOP,
                                    SQUAT_DOWN, SQUAT_UP, front_pose, side_pose)

RULES = [r for rules in RULES_BY_EXERCISE.values() for r in rules]
RULE = {r.name: r for r in RULES}


def verdict(name: str, lm: np.ndarray) -> bool | None:
    return judge(RULE[name], Body.from_landmarks(lm, aspect=1.0))


def lunge_pose(front_ankle_x: float = 0.65, torso_lean: float = 0.0, back_knee=(0.42, 0.80)) -> np.ndarray:
    """Side view facing +x: hip at (0.45, 0.6), front thigh level, back knee low; left leg in front."""
    lm = np.zeros((33, 4), np.float32)
    hip = np.array([0.45, 0.60])
    lean = math.radians(torso_lean)
    shoulder = hip + 0.25 * np.array([math.sin(lean), -math.cos(lean)])
    pts = {
        "left": {"hip": hip, "knee": np.array([0.65, 0.60]), "ankle": np.array([front_ankle_x, 0.80])},
        "right": {"hip": hip + 0.005, "knee": np.array(back_knee), "ankle": np.array([0.27, 0.78])},
    }
    for side, p in pts.items():
        p["shoulder"] = shoulder
        p["ear"] = shoulder + np.array([0.01, -0.07])
        p["heel"] = p["ankle"] + np.array([-0.03, 0.02])
        p["toe"] = p["ankle"] + np.array([0.08, 0.02])
        p["elbow"] = shoulder + np.array([0.0, 0.12])
        p["wrist"] = shoulder + np.array([0.0, 0.24])
        for part, xy in p.items():
            lm[SIDES[side][part], :2] = xy
            lm[SIDES[side][part], 3] = 0.95
    lm[NOSE, :2] = shoulder + np.array([0.05, -0.08])
    lm[NOSE, 3] = 0.99
    return lm


def crunch_pose(neck_lift_deg: float) -> np.ndarray:
    """Lying on the back, head to the right; the shoulder->ear line rises `neck_lift_deg` above the floor."""
    lm = np.zeros((33, 4), np.float32)
    lift = math.radians(neck_lift_deg)
    for side, shift in (("left", 0.0), ("right", 0.01)):
        s = SIDES[side]
        pts = {"hip": (0.50, 0.80), "shoulder": (0.75, 0.79), "knee": (0.40, 0.62), "ankle": (0.28, 0.80),
               "heel": (0.26, 0.81), "toe": (0.22, 0.80), "elbow": (0.80, 0.72), "wrist": (0.82, 0.70)}
        for part, xy in pts.items():
            lm[s[part], :2] = np.array(xy) + shift
            lm[s[part], 3] = 0.95 if side == "left" else 0.3
        ear = np.array(pts["shoulder"]) + 0.07 * np.array([math.cos(lift), -math.sin(lift)])
        lm[s["ear"], :2] = ear + shift
        lm[s["ear"], 3] = 0.95 if side == "left" else 0.3
    lm[NOSE, :2] = lm[SIDES["left"]["ear"], :2] + np.array([0.03, -0.02])
    lm[NOSE, 3] = 0.99
    return lm


# --------------------------------------------------------------------------- one rule at a time

CASES = [
    ("arms_straight", front_pose(elbow=170), front_pose(elbow=100)),
    ("feet_together_at_start", front_pose(feet_spread=1.0), front_pose(feet_spread=2.2)),
    ("arms_overhead", front_pose(arm_raise=170, feet_spread=2.0), front_pose(arm_raise=80, feet_spread=2.0)),
    ("feet_wide_at_top", front_pose(arm_raise=170, feet_spread=2.0), front_pose(arm_raise=170, feet_spread=1.1)),
    ("shoulders_down_at_start", crunch_pose(25), crunch_pose(60)),
    ("shoulders_raised_at_top", crunch_pose(60), crunch_pose(25)),
    ("torso_upright", lunge_pose(torso_lean=5), lunge_pose(torso_lean=40)),
    ("knees_near_90", lunge_pose(), lunge_pose(back_knee=(0.30, 0.66))),
    ("front_knee_behind_toes", lunge_pose(front_ankle_x=0.65), lunge_pose(front_ankle_x=0.55)),
    ("hips_not_too_high", side_pose(**PLANK_GOOD), side_pose(**PLANK_HIPS_HIGH)),
    ("hips_not_sagging", side_pose(**PLANK_GOOD), side_pose(**PLANK_HIPS_LOW)),
    ("head_up", side_pose(**SQUAT_DOWN, head_down=10), side_pose(**SQUAT_DOWN, head_down=70)),
    ("squat_knees_behind_toes", side_pose(**SQUAT_DOWN), side_pose(shin=70, thigh=-45, torso=20)),
    ("body_straight", side_pose(**PUSH_UP_TOP), side_pose(**PLANK_HIPS_LOW)),
    ("elbows_to_90", side_pose(**PUSH_UP_BOTTOM), side_pose(**PUSH_UP_TOP)),
]


@pytest.mark.parametrize("name, good, bad", CASES)
def test_rule_passes_good_form_and_fails_bad_form(name, good, bad):
    assert verdict(name, good) is True
    assert verdict(name, bad) is False


def test_every_rule_is_tested_and_every_threshold_is_in_the_table():
    tested = {name for name, _, _ in CASES}
    assert tested == {r.name for r in RULES}
    assert len(RULE) == len(RULES)                          # rule names are unique
    for rule in RULES:
        assert rule.conditions and all(c.measure in MEASURES for c in rule.conditions), rule.name
        assert all(c.low is not None or c.high is not None for c in rule.conditions), rule.name
        assert rule.cue and rule.cue[0].isupper()
    assert set(RULES_BY_EXERCISE) == set(CATALOGUE)


def test_rules_say_nothing_when_the_joints_are_not_seen():
    lm = side_pose(**PUSH_UP_BOTTOM)
    lm[:, 3] = 0.1   # nothing confidently seen
    for name in ("body_straight", "elbows_to_90", "hips_not_sagging", "head_up"):
        assert verdict(name, lm) is None


def test_knee_over_toe_is_not_judged_from_the_front():
    # Seen from the front the foot points at the camera: no heel-to-toe length, no verdict.
    assert verdict("squat_knees_behind_toes", front_pose()) is None


def test_the_feet_of_jumping_jacks_are_not_judged_side_on():
    # Side-on the ankles overlap whatever the jump: no verdict. Turned part way, the gap shrinks with the shoulders.
    def seen_from(lm, squeeze):
        lm = lm.copy()
        lm[:, 0] = 0.5 + (lm[:, 0] - 0.5) * squeeze
        return lm
    for pose in (front_pose(feet_spread=2.2), front_pose(arm_raise=170, feet_spread=1.1)):
        assert verdict("feet_together_at_start", seen_from(pose, 0.25)) is None
        assert verdict("feet_wide_at_top", seen_from(pose, 0.25)) is None
    assert verdict("feet_together_at_start", seen_from(front_pose(feet_spread=2.2), 0.6)) is False
    assert verdict("feet_wide_at_top", seen_from(front_pose(arm_raise=170, feet_spread=2.0), 0.6)) is True


# --------------------------------------------------------------------------- one rep at a time

def _bodies(lm: np.ndarray, n: int) -> list[Body]:
    return [Body.from_landmarks(lm, aspect=1.0)] * n


def test_posture_cue_fires_once_per_rep_and_lowers_the_score():
    tracker = FormTracker("push_up")
    sagging = side_pose(**{**PUSH_UP_BOTTOM, "shin": 95.0, "thigh": 95.0, "torso": 65.0})
    fired = []
    for b in _bodies(side_pose(**PUSH_UP_TOP), 10):
        fired += tracker.observe(b, "start")
    for b in _bodies(sagging, 15):
        fired += tracker.observe(b, "end")
    for b in _bodies(side_pose(**PUSH_UP_TOP), 10):
        fired += tracker.observe(b, "start")
    assert [r.name for r in fired] == ["body_straight"]
    form = tracker.close()
    assert form.cues == ["Keep your body in a straight line"] and "body_straight" in form.failed_rules
    assert form.score is not None and form.score < 80


def test_reach_rule_fails_when_its_phase_ends_without_reaching():
    tracker = FormTracker("push_up")
    shallow_bottom = side_pose(**{**PUSH_UP_BOTTOM, "upper_arm": 200.0, "forearm": 160.0})   # elbows ~140 deg
    fired = []
    for phase, lm in (("start", PUSH_UP_TOP), ("end", None), ("start", PUSH_UP_TOP)):
        frames = _bodies(shallow_bottom, 12) if lm is None else _bodies(side_pose(**lm), 12)
        for b in frames:
            fired += tracker.observe(b, phase)
    assert [r.name for r in fired] == ["elbows_to_90"]
    form = tracker.close()
    assert form.failed_rules == ["elbows_to_90"] and form.score == pytest.approx(50.0)


def test_clean_rep_scores_100_and_says_nothing():
    tracker = FormTracker("push_up")
    fired = []
    for phase, lm in (("start", PUSH_UP_TOP), ("end", PUSH_UP_BOTTOM), ("start", PUSH_UP_TOP)):
        for b in _bodies(side_pose(**lm), 12):
            fired += tracker.observe(b, phase)
    form = tracker.close()
    assert fired == [] and form.cues == [] and form.score == 100.0


def test_not_live_collects_but_does_not_fire():
    tracker = FormTracker("squat")
    for b in _bodies(side_pose(**SQUAT_UP, head_down=70), 20):
        assert tracker.observe(b, "start", live=False) == []
    assert tracker.close().failed_rules == ["head_up"]


def test_reach_rule_judged_when_the_rep_closes_is_a_late_cue():
    tracker = FormTracker("push_up")
    shallow_bottom = side_pose(**{**PUSH_UP_BOTTOM, "upper_arm": 200.0, "forearm": 160.0})
    for b in _bodies(side_pose(**PUSH_UP_TOP), 12):
        tracker.observe(b, "start")
    for b in _bodies(shallow_bottom, 12):
        tracker.observe(b, "end")
    form = tracker.close()   # counted before the phase changed back
    assert form.late_cues == ["Go lower, elbows to 90 degrees"] and form.cues == form.late_cues
