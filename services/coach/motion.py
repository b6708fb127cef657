"""The one joint angle per exercise that swings with every rep: range of motion and a check on the phase."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from services.coach.body import Body, angle_at

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signal:
    """Which angle (a-b-c, at b) moves with the exercise, and on which side(s) it is read."""

    joints: tuple[str, str, str]   # DOWN as the first: the direction straight down the picture from b
    sides: str              # "near": the side turned to the camera; "both": mean of both; "min": smaller one
    start_high: bool        # True when the angle is larger at the start phase than at the end phase


DOWN = "down"

SIGNALS = {
    "push_up": Signal(("shoulder", "elbow", "wrist"), "near", start_high=True),
    # Seen from the front one knee can look straight in the picture while both bend: the more bent one leads.
    "squat": Signal(("hip", "knee", "ankle"), "min", start_high=True),
    # Either leg may be the front one, and both knees bend in a lunge: the more bent knee leads.
    "lunge": Signal(("hip", "knee", "ankle"), "min", start_high=True),
    # The trunk barely bends at the hip in a crunch; the head travels towards the knees, so measure that.
    "crunch": Signal(("nose", "hip", "knee"), "near", start_high=True),
    # The arms swing from hanging down to overhead. Measured from the vertical rather than from the hips, which
    # a close camera (a laptop on a desk) leaves out of the picture; the trainee stands upright, so it is the
    # same angle whenever the hips are seen.
    "jumping_jack": Signal((DOWN, "shoulder", "elbow"), "both", start_high=False),
}


def rep_angle(exercise: str, body: Body | None) -> float | None:
    """The exercise's rep angle in degrees, or None when there is no such angle or its joints are not seen."""
    spec = SIGNALS.get(exercise)
    if spec is None or body is None:
        return None
    seen = tuple(j for j in spec.joints if j != DOWN)
    values = {side: _angle(body, side, spec.joints) for side in ("left", "right") if body.side_seen(side, seen)}
    if not values:
        return None
    if spec.sides == "near":
        near = body.near_side(seen)
        value = values.get(near)
        if value is None:
            return None
    elif spec.sides == "min":
        value = min(values.values())
    else:
        value = float(np.mean(list(values.values())))
    return None if np.isnan(value) else float(value)


def _angle(body: Body, side: str, joints: tuple[str, str, str]) -> float:
    a, b, c = joints
    if a == DOWN:
        at = body.p(side, b)
        return angle_at(at + np.array([0.0, 1.0]), at, body.p(side, c))
    return body.angle(side, a, b, c)
