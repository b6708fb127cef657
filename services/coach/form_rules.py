"""Body measures that form rules compare, and the judging of a rule; the rules are data in the catalogue."""
from __future__ import annotations

from typing import Callable

import numpy as np

from common.exercises import CATALOGUE, Condition, FormRule
from services.coach.body import Body
from services.coach.setup_checks import SETUP_LIMITS

# Side-on measures (knee over toes, head tilt) are meaningless when the camera faces the trainee.
SIDE_VIEW_FOOT_MIN_SHINS = 0.25    # the foot must show this much length (heel to toe) in the picture
SIDE_VIEW_MAX_SHOULDERS = 0.5      # shoulder width / torso length: ~0.2 side-on, ~0.7 facing the camera
# Sideways measures (the feet's spread) need the body's width: side-on (the setup check's line) it is lost, the
# ankles overlap. Turned part way, the gap and the shoulders shrink alike and their ratio holds.
FRONT_VIEW_MIN_SHOULDERS = SETUP_LIMITS["side_max_ratio"]


# --------------------------------------------------------------------------- geometry helpers

def _knee_past_toe(body: Body, side: str) -> float | None:
    """How far the knee is ahead of the toes, in shin lengths (positive = past the toes); side view only."""
    if not body.side_seen(side, ("knee", "ankle", "heel", "toe")):
        return None
    shin = float(np.linalg.norm(body.p(side, "knee") - body.p(side, "ankle")))
    foot = abs(body.p(side, "toe")[0] - body.p(side, "heel")[0])
    if shin < 1e-6 or foot < SIDE_VIEW_FOOT_MIN_SHINS * shin:
        return None
    return float((body.p(side, "knee")[0] - body.p(side, "toe")[0]) * body.facing(side) / shin)


def _front_leg(body: Body) -> str:
    """The leg whose ankle is further forward (direction the feet point)."""
    direction = sum(body.p(s, "toe")[0] - body.p(s, "heel")[0] for s in ("left", "right"))
    sign = 1.0 if direction >= 0 else -1.0
    return "left" if body.p("left", "ankle")[0] * sign >= body.p("right", "ankle")[0] * sign else "right"


def _side_on(body: Body) -> bool:
    if not (body.seen(11) and body.seen(12)):
        return True   # one shoulder hidden behind the other
    torso = body.torso_length()
    return torso > 1e-6 and body.shoulder_width() / torso < SIDE_VIEW_MAX_SHOULDERS


def _incline_up(body: Body, side: str, a: str, b: str) -> float:
    """Angle of a->b above the horizontal, degrees (negative when b is lower than a)."""
    d = body.p(side, b) - body.p(side, a)
    return float(np.degrees(np.arctan2(-d[1], abs(d[0]) + 1e-9)))


def _both_legs_seen(body: Body) -> bool:
    return body.side_seen("left", ("hip", "knee", "ankle")) and body.side_seen("right", ("hip", "knee", "ankle"))


# --------------------------------------------------------------------------- measures (None: cannot judge)

def elbow_angle_min(body: Body) -> float | None:
    """The more bent elbow of the arms seen (degrees)."""
    angles = [body.angle(s, "shoulder", "elbow", "wrist") for s in ("left", "right")
              if body.side_seen(s, ("shoulder", "elbow", "wrist"))]
    return min(angles) if angles else None


def feet_spread(body: Body) -> float | None:
    """Ankle gap in shoulder widths (front view; None side-on)."""
    if not (body.side_seen("left", ("shoulder", "ankle")) and body.side_seen("right", ("shoulder", "ankle"))):
        return None
    width = body.shoulder_width()
    if width < 1e-6 or width < FRONT_VIEW_MIN_SHOULDERS * body.torso_length():
        return None
    return float(np.linalg.norm(body.p("left", "ankle") - body.p("right", "ankle")) / width)


def wrists_above_nose(body: Body) -> float | None:
    """How far the lower wrist is above the nose, in torso lengths (negative: below)."""
    if not (body.seen(0) and body.side_seen("left", ("wrist",)) and body.side_seen("right", ("wrist",))):
        return None
    torso = body.torso_length()
    if torso < 1e-6:
        return None
    lower_wrist = max(body.p("left", "wrist")[1], body.p("right", "wrist")[1])
    return float((body.nose[1] - lower_wrist) / torso)


def neck_lift_deg(body: Body) -> float | None:
    """Shoulder->ear line above the floor (degrees); shows only from the side."""
    side = body.near_side(("shoulder", "ear", "hip"))
    if not body.side_seen(side, ("shoulder", "ear", "hip")) or not _side_on(body):
        return None
    return _incline_up(body, side, "shoulder", "ear")


def torso_incline_deg(body: Body) -> float | None:
    side = body.near_side(("shoulder", "hip"))
    if not body.side_seen(side, ("shoulder", "hip")):
        return None
    return body.torso_incline(side)


def trunk_rise_deg(body: Body) -> float | None:
    """Hips-to-shoulders line above the horizontal (0 lying, 90 upright); None seen head-on, where the torso is
    foreshortened (shoulders wider than the torso is long) and looks upright whatever it does."""
    if not body.any_side_seen(("shoulder", "hip")):
        return None
    torso = body.torso_length()
    if torso < 1e-6 or body.shoulder_width() > torso:
        return None
    return body.torso_incline()


def upper_arm_drop(body: Body) -> float | None:
    """How much the upper arm of the side turned to the camera points down from the shoulder: 1 straight down
    (the arms hold the body up: a plank, high or on the forearms, side-on or head-on), 0 level (lying with the arms
    along the body), negative raised."""
    side = body.near_side(("shoulder", "elbow"))
    if not body.side_seen(side, ("shoulder", "elbow")):
        return None
    d = body.p(side, "elbow") - body.p(side, "shoulder")
    length = float(np.linalg.norm(d))
    return float(d[1] / length) if length > 1e-6 else None


def front_knee_deg(body: Body) -> float | None:
    return body.angle(_front_leg(body), "hip", "knee", "ankle") if _both_legs_seen(body) else None


def back_knee_deg(body: Body) -> float | None:
    if not _both_legs_seen(body):
        return None
    back = "right" if _front_leg(body) == "left" else "left"
    return body.angle(back, "hip", "knee", "ankle")


def front_knee_past_toe(body: Body) -> float | None:
    return _knee_past_toe(body, _front_leg(body))


def near_knee_past_toe(body: Body) -> float | None:
    return _knee_past_toe(body, body.near_side(("hip", "knee", "ankle")))


def hip_offset(body: Body) -> float | None:
    """Hip above (+) or below (-) the shoulder-ankle line, in shares of that line."""
    side = body.near_side(("shoulder", "hip", "ankle"))
    if not body.side_seen(side, ("shoulder", "hip", "ankle")):
        return None
    offset = body.line_offset(side, "shoulder", "hip", "ankle")
    return None if np.isnan(offset) else offset


def head_down_deg(body: Body) -> float | None:
    """Ear->nose below the horizontal (degrees); only from the side, with the face towards the camera."""
    side = body.near_side(("ear", "shoulder"))
    if not (body.seen(0) and body.side_seen(side, ("ear",))) or not _side_on(body) or body.facing_away():
        return None
    return -_incline_up(body, side, "ear", "nose")


def body_line_deg(body: Body) -> float | None:
    """Shoulder-hip-ankle angle (shoulder-hip-knee when the feet are out of the picture, as they often are)."""
    side = body.near_side(("shoulder", "hip", "ankle"))
    end = "ankle" if body.side_seen(side, ("ankle",)) else "knee"
    if not body.side_seen(side, ("shoulder", "hip", end)):
        return None
    return body.angle(side, "shoulder", "hip", end)


def hip_fold_deg(body: Body) -> float | None:
    """Shoulder-hip-knee angle on the side turned to the camera: ~180 lying long, ~90 on all fours or sitting."""
    side = body.near_side(("shoulder", "hip", "knee"))
    if not body.side_seen(side, ("shoulder", "hip", "knee")):
        return None
    return body.angle(side, "shoulder", "hip", "knee")


def near_elbow_deg(body: Body) -> float | None:
    side = body.near_side(("shoulder", "elbow", "wrist"))
    if not body.side_seen(side, ("shoulder", "elbow", "wrist")):
        return None
    return body.angle(side, "shoulder", "elbow", "wrist")


MEASURES: dict[str, Callable[[Body], float | None]] = {f.__name__: f for f in (
    elbow_angle_min, feet_spread, wrists_above_nose, neck_lift_deg, torso_incline_deg, trunk_rise_deg, upper_arm_drop,
    front_knee_deg,
    back_knee_deg, front_knee_past_toe, near_knee_past_toe, hip_offset, head_down_deg, body_line_deg,
    hip_fold_deg, near_elbow_deg)}

RULES_BY_EXERCISE: dict[str, tuple[FormRule, ...]] = {name: e.rules for name, e in CATALOGUE.items()}


def holds(condition: Condition, value: float) -> bool:
    return ((condition.low is None or value >= condition.low)
            and (condition.high is None or value <= condition.high))


def in_posture(body: Body | None, exercise: str) -> bool:
    """Whether the body may be in the exercise's hold posture: no declared condition fails (unmeasurable ones
    give no verdict; head-on, a plank's line cannot be seen)."""
    entry = CATALOGUE.get(exercise)
    if entry is None or not entry.hold_posture:
        return True
    if body is None:
        return False
    for condition in entry.hold_posture:
        value = MEASURES[condition.measure](body)
        if value is not None and not holds(condition, value):
            return False
    return True


def judge(rule: FormRule, body: Body) -> bool | None:
    """True good form, False a fault, None when a measure cannot be taken from this view."""
    verdict = True
    for condition in rule.conditions:
        value = MEASURES[condition.measure](body)
        if value is None:
            return None
        verdict = verdict and holds(condition, value)
    return verdict
