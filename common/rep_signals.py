"""The body measures that carry reps, from one frame's landmarks, and the exercises' rep signals built on them.

Plain float arithmetic on one frame: the coach reads every measure of every frame for every exercise's counter,
and on one row numpy costs ten times more than this. x is scaled by the frame's aspect ratio first, so angles
and lengths are true. A measure is None when the joints it needs are not seen (BlazePose visibility < 0.5).
"""
from __future__ import annotations

import math
from typing import Callable

from common.exercises import CATALOGUE, RepSignal

MIN_VISIBILITY = 0.5
# The torso the hip height is measured by must lie in the picture (give or take this share of it): BlazePose
# guesses shoulders above a frame that cuts at the chest with high visibility, and they make a torso of nothing.
FRAME_MARGIN = 0.05
NOSE = 0
SIDES = ({"shoulder": 11, "elbow": 13, "wrist": 15, "hip": 23, "knee": 25, "ankle": 27},
         {"shoulder": 12, "elbow": 14, "wrist": 16, "hip": 24, "knee": 26, "ankle": 28})
# A torso (shoulders to hips) shorter than this share of the longer thigh is a cut or folded picture (shoulders
# at the frame's edge, the head cut off), not a body to measure the hip height by.
MIN_TORSO_PER_THIGH = 0.6


class Frame:
    """One frame's points in true proportions (x times the aspect ratio) and their visibilities."""

    __slots__ = ("x", "y", "v", "aspect")

    def __init__(self, landmarks, aspect: float):
        self.aspect = aspect
        rows = landmarks.tolist() if hasattr(landmarks, "tolist") else landmarks
        self.x = [r[0] * aspect for r in rows]
        self.y = [r[1] for r in rows]
        self.v = [r[3] for r in rows]

    def seen(self, *points: int) -> bool:
        return all(self.v[i] >= MIN_VISIBILITY for i in points)

    def inside(self, *points: int) -> bool:
        return all(-FRAME_MARGIN <= self.y[i] <= 1 + FRAME_MARGIN
                   and -FRAME_MARGIN * self.aspect <= self.x[i] <= (1 + FRAME_MARGIN) * self.aspect for i in points)

    def angle(self, a: int | None, b: int, c: int) -> float:
        """Angle a-b-c at b in degrees; a None means straight down the picture from b (angle from the vertical)."""
        ax, ay = (self.x[b], self.y[b] + 1.0) if a is None else (self.x[a], self.y[a])
        v1x, v1y = ax - self.x[b], ay - self.y[b]
        v2x, v2y = self.x[c] - self.x[b], self.y[c] - self.y[b]
        norm = math.hypot(v1x, v1y) * math.hypot(v2x, v2y)
        if norm <= 1e-12:
            return math.nan
        return math.degrees(math.acos(max(-1.0, min(1.0, (v1x * v2x + v1y * v2y) / norm))))

    def dist(self, a: int, b: int) -> float:
        return math.hypot(self.x[a] - self.x[b], self.y[a] - self.y[b])

    def near_side(self, *parts: str) -> dict[str, int]:
        """The side turned to the camera: the one whose weakest joint of `parts` is seen best."""
        left, right = SIDES
        return left if min(self.v[left[p]] for p in parts) >= min(self.v[right[p]] for p in parts) else right


def _finite(value: float) -> float | None:
    return None if value != value else value


# --------------------------------------------------------------------------- measures

def knee_angle(f: Frame) -> float | None:
    """The more bent knee of those seen (either leg may lead a lunge; from the front one knee hides its bend)."""
    angles = [f.angle(s["hip"], s["knee"], s["ankle"]) for s in SIDES if f.seen(s["hip"], s["knee"], s["ankle"])]
    angles = [a for a in angles if a == a]
    return min(angles) if angles else None


def hip_height(f: Frame) -> float | None:
    """How high the hips are above the lower ankle (the foot on the floor), in % of the torso (shoulders to hips):
    the same in every view. The lower ankle, not both: a knee lifted high (high knees, marching) raises one foot,
    and the hips above the other stay where they were."""
    hips = [i for i in (23, 24) if f.seen(i)]
    ankles = [i for i in (27, 28) if f.seen(i)]
    if not (hips and ankles and (f.seen(11) or f.seen(12))) or not f.inside(11, 12, 23, 24):
        return None
    torso = math.hypot((f.x[11] + f.x[12] - f.x[23] - f.x[24]) / 2, (f.y[11] + f.y[12] - f.y[23] - f.y[24]) / 2)
    thigh = max(f.dist(23, 25), f.dist(24, 26))
    if torso <= 1e-9 or torso < MIN_TORSO_PER_THIGH * thigh:
        return None
    hip_y = sum(f.y[i] for i in hips) / len(hips)
    ankle_y = max(f.y[i] for i in ankles)   # y grows downwards
    return (ankle_y - hip_y) / torso * 100.0


def elbow_angle(f: Frame) -> float | None:
    """The elbow of the arm turned to the camera (the far one is hidden behind the body in a side view)."""
    s = f.near_side("shoulder", "elbow", "wrist")
    if not f.seen(s["shoulder"], s["elbow"], s["wrist"]):
        return None
    return _finite(f.angle(s["shoulder"], s["elbow"], s["wrist"]))


def arm_elevation(f: Frame) -> float | None:
    """Upper arms' angle from hanging straight down (0) to overhead (180), mean of the arms seen. Needs no hips:
    a close camera (a laptop on a desk) cuts them."""
    angles = [f.angle(None, s["shoulder"], s["elbow"]) for s in SIDES if f.seen(s["shoulder"], s["elbow"])]
    angles = [a for a in angles if a == a]
    return sum(angles) / len(angles) if angles else None


def head_curl(f: Frame) -> float | None:
    """Nose-hip-knee angle on the side turned to the camera: the head travels towards the knees in a crunch.
    The knee may be guessed (a bench or a mat hides it); nose and hip must be seen."""
    s = f.near_side("hip")
    if not f.seen(NOSE, s["hip"]):
        return None
    return _finite(f.angle(NOSE, s["hip"], s["knee"]))


def trunk_bend(f: Frame) -> float | None:
    """Shoulder-hip-knee angle on the side turned to the camera: a sit-up bends here."""
    s = f.near_side("shoulder", "hip")
    if not f.seen(s["shoulder"], s["hip"]):
        return None
    return _finite(f.angle(s["shoulder"], s["hip"], s["knee"]))


def torso_incline(f: Frame) -> float | None:
    """Hips-to-shoulders line above the horizontal: 90 upright, 0 lying (degrees; true in any side or front view
    but a head-on one, where the torso is foreshortened)."""
    left, right = SIDES
    if not ((f.seen(left["shoulder"]) or f.seen(right["shoulder"])) and (f.seen(left["hip"]) or f.seen(right["hip"]))):
        return None
    dx = (f.x[11] + f.x[12] - f.x[23] - f.x[24]) / 2
    dy = (f.y[23] + f.y[24] - f.y[11] - f.y[12]) / 2
    return math.degrees(math.atan2(abs(dy), abs(dx) + 1e-9))


def wrist_height(f: Frame) -> float | None:
    """How high the higher wrist seen is above the shoulders, in % of the torso (shoulders to hips; below them:
    negative). Hands that carry the body (a push-up on the floor, a step or a wall) are never above the shoulders;
    hands behind the head (sit-ups, crunches) are."""
    left, right = SIDES
    wrists = [i for i in (left["wrist"], right["wrist"]) if f.seen(i)]
    if not (wrists and (f.seen(left["shoulder"]) or f.seen(right["shoulder"]))
            and (f.seen(left["hip"]) or f.seen(right["hip"]))):
        return None
    torso = math.hypot((f.x[11] + f.x[12] - f.x[23] - f.x[24]) / 2, (f.y[11] + f.y[12] - f.y[23] - f.y[24]) / 2)
    if torso <= 1e-9:
        return None
    return ((f.y[11] + f.y[12]) / 2 - min(f.y[i] for i in wrists)) / torso * 100.0   # y grows downwards


def trunk_rise(f: Frame) -> float | None:
    """torso_incline where it can be trusted: None seen head-on, where the torso is foreshortened (the shoulders
    wider apart than the torso is long) and looks upright whatever it does."""
    incline = torso_incline(f)
    if incline is None or not f.inside(11, 12, 23, 24):
        return None
    torso = math.hypot((f.x[11] + f.x[12] - f.x[23] - f.x[24]) / 2, (f.y[11] + f.y[12] - f.y[23] - f.y[24]) / 2)
    return None if torso <= 1e-9 or f.dist(11, 12) > torso else incline


MEASURES: dict[str, Callable[[Frame], float | None]] = {m.__name__: m for m in (
    knee_angle, hip_height, elbow_angle, arm_elevation, head_curl, trunk_bend, torso_incline, trunk_rise,
    wrist_height)}
# The measures some exercise's signal or rep gate uses, each computed once a frame.
USED = sorted({name for e in CATALOGUE.values() for sig in e.signals for name, _, _ in sig.measures}
              | {gate.measure for e in CATALOGUE.values() for gate in (*e.rep_gates, *e.window_posture)})


def measure_all(landmarks, aspect: float) -> dict[str, float | None]:
    """Every measure the rep signals use, for one frame ([33, 4] normalised landmarks), None where unseen."""
    if landmarks is None or landmarks[0][0] != landmarks[0][0]:
        return dict.fromkeys(USED)
    frame = Frame(landmarks, aspect)
    return {name: MEASURES[name](frame) for name in USED}


def signal_value(signal: RepSignal, measures: dict[str, float | None]) -> float | None:
    """The signal from this frame's measures; None unless every measure it blends is seen (a blend of some of
    its parts would jump when a part comes or goes, and a jump looks like a rep)."""
    total = 0.0
    for name, weight, scale in signal.measures:
        value = measures.get(name)
        if value is None:
            return None
        total += weight * value / scale
    return total
