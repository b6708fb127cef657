"""Form corrections: one small named check per rule, every threshold in the THRESHOLDS table below."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from common.exercises import END, START
from services.coach.body import Body

logger = logging.getLogger(__name__)

ANY = "any"          # a rule judged in every phase (and through a hold)
POSTURE = "posture"  # must hold on most judged frames of its phase
REACH = "reach"      # must be reached on at least a couple of frames of its phase (depth, arms up ...)

# Every number a rule compares against. Angles in degrees; "shoulders" = multiples of the shoulder width;
# "shins" = multiples of the shin length (knee to ankle); offsets are shares of the shoulder-to-ankle length.
# "<rule>_fail_share" overrides, for one posture rule, the share of a rep's frames that must fail
# (form_tracker.Aggregation.posture_fail_share otherwise).
THRESHOLDS: dict[str, dict[str, dict[str, float]]] = {
    "jumping_jack": {
        START: {"elbow_min_deg": 120.0,            # arms straight (120-180 deg) on the way down
                "feet_max_shoulders": 1.5},        # feet back to about shoulder width
        END: {"wrist_above_nose": 0.0,             # wrists higher than the nose (torso lengths)
              "feet_min_shoulders": 1.5, "feet_max_shoulders": 3.0},
    },
    "crunch": {
        START: {"neck_max_deg": 40.0},             # shoulder->ear back near the floor (lying: 20-30 deg)
        END: {"neck_min_deg": 45.0},               # head and shoulders curled up (55-70 deg)
    },
    "lunge": {
        ANY: {"torso_min_deg": 65.0},              # upright torso: at most 25 deg of forward lean
        END: {"front_knee_min_deg": 65.0, "front_knee_max_deg": 110.0, "back_knee_max_deg": 120.0,
              "knee_past_toe_max_shins": -0.05},   # the front knee stays (just) behind the toes
    },
    "plank": {
        ANY: {"hip_high_max": 0.20,                # hip above the shoulder-ankle line (correct planks: ~0.09)
              "hip_low_min": 0.0},                 # hip sagging below it
    },
    "squat": {
        ANY: {"head_down_max_deg": 45.0},          # ear->nose pointing at most this far below horizontal
        # Knees a little past the toes is normal in a deep squat (correct clips: up to 0.4 shins).
        END: {"knee_past_toe_max_shins": 0.45},
    },
    "push_up": {
        ANY: {"body_line_min_deg": 165.0,          # shoulder-hip-ankle angle (labelled correct ones: >= 168)
              "body_straight_fail_share": 0.2},    # sagging shows on part of a rep only: a fifth is enough
        END: {"elbow_max_deg": 100.0},             # elbows bent to about 90 deg at the bottom
    },
}

# Side-on measures (knee over toes, head tilt) are meaningless when the camera faces the trainee.
SIDE_VIEW_FOOT_MIN_SHINS = 0.25    # the foot must show this much length (heel to toe) in the picture
SIDE_VIEW_MAX_SHOULDERS = 0.5      # shoulder width / torso length: ~0.2 side-on, ~0.7 facing the camera


@dataclass(frozen=True)
class Rule:
    name: str
    exercise: str
    phase: str          # START, END or ANY
    kind: str           # POSTURE or REACH
    cue: str            # what the coach says when the rule fails
    check: Callable[[Body, dict[str, float]], bool | None]   # True good, False fault, None cannot judge


def limits(exercise: str, phase: str) -> dict[str, float]:
    return THRESHOLDS[exercise][phase]


def fail_share(rule: Rule, default: float) -> float:
    return limits(rule.exercise, rule.phase).get(f"{rule.name}_fail_share", default)


# --------------------------------------------------------------------------- helpers

def _feet_spread(body: Body) -> float | None:
    """Ankle gap in shoulder widths (front view)."""
    if not (body.side_seen("left", ("shoulder", "ankle")) and body.side_seen("right", ("shoulder", "ankle"))):
        return None
    width = body.shoulder_width()
    if width < 1e-6:
        return None
    return float(np.linalg.norm(body.p("left", "ankle") - body.p("right", "ankle")) / width)


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


# --------------------------------------------------------------------------- jumping jacks (front view)

def arms_straight(body: Body, t: dict) -> bool | None:
    sides = [s for s in ("left", "right") if body.side_seen(s, ("shoulder", "elbow", "wrist"))]
    if not sides:
        return None
    return all(body.angle(s, "shoulder", "elbow", "wrist") >= t["elbow_min_deg"] for s in sides)


def feet_together_at_start(body: Body, t: dict) -> bool | None:
    spread = _feet_spread(body)
    return None if spread is None else spread <= t["feet_max_shoulders"]


def arms_overhead(body: Body, t: dict) -> bool | None:
    if not (body.seen(0) and body.side_seen("left", ("wrist",)) and body.side_seen("right", ("wrist",))):
        return None
    margin = t["wrist_above_nose"] * body.torso_length()
    return bool(body.p("left", "wrist")[1] < body.nose[1] - margin and
                body.p("right", "wrist")[1] < body.nose[1] - margin)


def feet_wide_at_top(body: Body, t: dict) -> bool | None:
    spread = _feet_spread(body)
    return None if spread is None else t["feet_min_shoulders"] <= spread <= t["feet_max_shoulders"]


# --------------------------------------------------------------------------- crunches (side view)

def _neck_lift(body: Body) -> float | None:
    side = body.near_side(("shoulder", "ear", "hip"))
    if not body.side_seen(side, ("shoulder", "ear", "hip")) or not _side_on(body):
        return None   # how far the head and shoulders curl up shows only from the side
    return _incline_up(body, side, "shoulder", "ear")


def shoulders_down_at_start(body: Body, t: dict) -> bool | None:
    lift = _neck_lift(body)
    return None if lift is None else lift <= t["neck_max_deg"]


def shoulders_raised_at_top(body: Body, t: dict) -> bool | None:
    lift = _neck_lift(body)
    return None if lift is None else lift >= t["neck_min_deg"]


# --------------------------------------------------------------------------- lunges (side view)

def torso_upright(body: Body, t: dict) -> bool | None:
    side = body.near_side(("shoulder", "hip"))
    if not body.side_seen(side, ("shoulder", "hip")):
        return None
    return body.torso_incline(side) >= t["torso_min_deg"]


def knees_near_90(body: Body, t: dict) -> bool | None:
    if not body.side_seen("left", ("hip", "knee", "ankle")) or not body.side_seen("right", ("hip", "knee", "ankle")):
        return None
    front = _front_leg(body)
    back = "right" if front == "left" else "left"
    front_angle = body.angle(front, "hip", "knee", "ankle")
    back_angle = body.angle(back, "hip", "knee", "ankle")
    return bool(t["front_knee_min_deg"] <= front_angle <= t["front_knee_max_deg"]
                and back_angle <= t["back_knee_max_deg"])


def front_knee_behind_toes(body: Body, t: dict) -> bool | None:
    past = _knee_past_toe(body, _front_leg(body))
    return None if past is None else past <= t["knee_past_toe_max_shins"]


# --------------------------------------------------------------------------- plank (side view)

def _hip_offset(body: Body) -> float | None:
    side = body.near_side(("shoulder", "hip", "ankle"))
    if not body.side_seen(side, ("shoulder", "hip", "ankle")):
        return None
    offset = body.line_offset(side, "shoulder", "hip", "ankle")
    return None if np.isnan(offset) else offset


def hips_not_too_high(body: Body, t: dict) -> bool | None:
    offset = _hip_offset(body)
    return None if offset is None else offset <= t["hip_high_max"]


def hips_not_sagging(body: Body, t: dict) -> bool | None:
    offset = _hip_offset(body)
    return None if offset is None else offset >= t["hip_low_min"]


# --------------------------------------------------------------------------- squats (side view)

def head_up(body: Body, t: dict) -> bool | None:
    side = body.near_side(("ear", "shoulder"))
    if not (body.seen(0) and body.side_seen(side, ("ear",))) or not _side_on(body) or body.facing_away():
        return None   # the head's tilt shows only from the side, with the face towards the camera
    return -_incline_up(body, side, "ear", "nose") <= t["head_down_max_deg"]


def squat_knees_behind_toes(body: Body, t: dict) -> bool | None:
    past = _knee_past_toe(body, body.near_side(("hip", "knee", "ankle")))
    return None if past is None else past <= t["knee_past_toe_max_shins"]


# --------------------------------------------------------------------------- push-ups (side view)

def body_straight(body: Body, t: dict) -> bool | None:
    side = body.near_side(("shoulder", "hip", "ankle"))
    end = "ankle" if body.side_seen(side, ("ankle",)) else "knee"  # feet often leave the picture
    if not body.side_seen(side, ("shoulder", "hip", end)):
        return None
    return body.angle(side, "shoulder", "hip", end) >= t["body_line_min_deg"]


def elbows_to_90(body: Body, t: dict) -> bool | None:
    side = body.near_side(("shoulder", "elbow", "wrist"))
    if not body.side_seen(side, ("shoulder", "elbow", "wrist")):
        return None
    return body.angle(side, "shoulder", "elbow", "wrist") <= t["elbow_max_deg"]


RULES: list[Rule] = [
    Rule("arms_straight", "jumping_jack", START, POSTURE, "Keep your arms straight", arms_straight),
    Rule("feet_together_at_start", "jumping_jack", START, REACH, "Bring your feet back together",
         feet_together_at_start),
    Rule("arms_overhead", "jumping_jack", END, REACH, "Raise your arms above your head", arms_overhead),
    Rule("feet_wide_at_top", "jumping_jack", END, REACH, "Jump your feet wider", feet_wide_at_top),
    Rule("shoulders_down_at_start", "crunch", START, REACH, "Lower your shoulders back to the floor",
         shoulders_down_at_start),
    Rule("shoulders_raised_at_top", "crunch", END, REACH, "Lift your head and shoulders higher",
         shoulders_raised_at_top),
    Rule("torso_upright", "lunge", ANY, POSTURE, "Keep your torso upright", torso_upright),
    Rule("knees_near_90", "lunge", END, REACH, "Bend both knees to about 90 degrees", knees_near_90),
    Rule("front_knee_behind_toes", "lunge", END, POSTURE, "Keep your front knee behind your toes",
         front_knee_behind_toes),
    Rule("hips_not_too_high", "plank", ANY, POSTURE, "Lower your hips into a straight line", hips_not_too_high),
    Rule("hips_not_sagging", "plank", ANY, POSTURE, "Lift your hips, don't let them sag", hips_not_sagging),
    Rule("head_up", "squat", ANY, POSTURE, "Keep your head up", head_up),
    Rule("squat_knees_behind_toes", "squat", END, POSTURE, "Keep your knees behind your toes",
         squat_knees_behind_toes),
    Rule("body_straight", "push_up", ANY, POSTURE, "Keep your body in a straight line", body_straight),
    Rule("elbows_to_90", "push_up", END, REACH, "Go lower, elbows to 90 degrees", elbows_to_90),
]
RULES_BY_EXERCISE: dict[str, list[Rule]] = {}
for _rule in RULES:
    RULES_BY_EXERCISE.setdefault(_rule.exercise, []).append(_rule)


def judge(rule: Rule, body: Body) -> bool | None:
    """Apply one rule to one frame with its thresholds."""
    return rule.check(body, limits(rule.exercise, rule.phase))
