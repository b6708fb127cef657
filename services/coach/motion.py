"""The one joint angle per exercise that swings with every rep: range of motion and a check on the phase."""
from __future__ import annotations


import numpy as np

from common.exercises import CATALOGUE, DOWN
from services.coach.body import Body, angle_at


def rep_angle(exercise: str, body: Body | None) -> float | None:
    """The exercise's rep angle in degrees, or None when there is no such angle or its joints are not seen."""
    entry = CATALOGUE.get(exercise)
    spec = entry.signal if entry else None
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
