"""One frame's body as the coach measures it: true-proportion points, visibility, sides and joint angles."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.features import (L_ANKLE, L_ELBOW, L_FOOT, L_HEEL, L_HIP, L_KNEE, L_SHOULDER, L_WRIST, NOSE,
                             NUM_LANDMARKS, R_ANKLE, R_ELBOW, R_FOOT, R_HEEL, R_HIP, R_KNEE, R_SHOULDER,
                             R_WRIST, as_array)

L_EAR, R_EAR = 7, 8


# A landmark counts as seen when BlazePose is this sure of it and it lies inside the picture. The margin lets
# through hands or feet just over the edge: BlazePose places those well (and with high visibility).
MIN_VISIBILITY = 0.5
FRAME_MARGIN = 0.10

# Named points of each side; the nose belongs to both so that angles like knee-hip-nose can be asked per side.
SIDES = {
    "left": {"nose": NOSE, "ear": L_EAR, "shoulder": L_SHOULDER, "elbow": L_ELBOW, "wrist": L_WRIST,
             "hip": L_HIP, "knee": L_KNEE, "ankle": L_ANKLE, "heel": L_HEEL, "toe": L_FOOT},
    "right": {"nose": NOSE, "ear": R_EAR, "shoulder": R_SHOULDER, "elbow": R_ELBOW, "wrist": R_WRIST,
              "hip": R_HIP, "knee": R_KNEE, "ankle": R_ANKLE, "heel": R_HEEL, "toe": R_FOOT},
}


def angle_at(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Angle a-b-c at b in degrees (0..180)."""
    v1, v2 = a - b, c - b
    norm = float(np.linalg.norm(v1) * np.linalg.norm(v2))
    if norm < 1e-9:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(np.dot(v1, v2) / norm, -1.0, 1.0))))


@dataclass
class Body:
    """Landmarks of one frame: `xy` has x scaled by the aspect ratio so distances and angles are true (y down)."""

    xy: np.ndarray        # [33, 2]
    raw: np.ndarray       # [33, 4] normalised x, y, z, visibility
    aspect: float

    @classmethod
    def from_landmarks(cls, landmarks: bytes | np.ndarray, width: int = 0, height: int = 0,
                       aspect: float | None = None) -> "Body | None":
        """A Body, or None when there is no person (empty or NaN landmarks)."""
        if landmarks is None or (isinstance(landmarks, (bytes, bytearray)) and len(landmarks) == 0):
            return None
        raw = as_array(landmarks)
        if raw.shape != (NUM_LANDMARKS, 4) or np.isnan(raw[:, :2]).any():
            return None
        if aspect is None:
            aspect = width / height if width > 0 and height > 0 else 1.0
        xy = np.array(raw[:, :2], dtype=np.float64)
        xy[:, 0] *= aspect
        return cls(xy=xy, raw=np.asarray(raw, dtype=np.float64), aspect=float(aspect))

    # ------------------------------------------------------------------ visibility
    def seen(self, index: int, margin: float = FRAME_MARGIN) -> bool:
        x, y, v = self.raw[index, 0], self.raw[index, 1], self.raw[index, 3]
        inside = -margin <= x <= 1 + margin and -margin <= y <= 1 + margin
        return bool(v >= MIN_VISIBILITY and inside)

    def side_seen(self, side: str, parts: tuple[str, ...], margin: float = FRAME_MARGIN) -> bool:
        return all(self.seen(SIDES[side][p], margin) for p in parts)

    def any_side_seen(self, parts: tuple[str, ...], margin: float = FRAME_MARGIN) -> bool:
        return self.side_seen("left", parts, margin) or self.side_seen("right", parts, margin)

    def near_side(self, parts: tuple[str, ...] = ("shoulder", "hip", "knee", "ankle")) -> str:
        """The side turned to the camera (the better seen one); its joints are the reliable ones in side view."""
        score = {side: float(sum(self.raw[SIDES[side][p], 3] for p in parts)) for side in SIDES}
        return "left" if score["left"] >= score["right"] else "right"

    # ------------------------------------------------------------------ points and measures
    def p(self, side: str, part: str) -> np.ndarray:
        return self.xy[SIDES[side][part]]

    def mid(self, part: str) -> np.ndarray:
        return (self.p("left", part) + self.p("right", part)) / 2

    @property
    def nose(self) -> np.ndarray:
        return self.xy[NOSE]

    def angle(self, side: str, a: str, b: str, c: str) -> float:
        return angle_at(self.p(side, a), self.p(side, b), self.p(side, c))

    def torso_length(self) -> float:
        return float(np.linalg.norm(self.mid("shoulder") - self.mid("hip")))

    def shoulder_width(self) -> float:
        return float(np.linalg.norm(self.p("left", "shoulder") - self.p("right", "shoulder")))

    def torso_incline(self, side: str | None = None) -> float:
        """Angle of hip->shoulder above the horizontal in degrees: 90 upright, 0 lying flat."""
        hip = self.p(side, "hip") if side else self.mid("hip")
        shoulder = self.p(side, "shoulder") if side else self.mid("shoulder")
        d = shoulder - hip
        return float(np.degrees(np.arctan2(abs(d[1]), abs(d[0]) + 1e-9)))

    def facing_away(self) -> bool:
        """Seen from behind: BlazePose still places a face, but its nose lies behind the ears (depth z)."""
        return bool(self.raw[NOSE, 2] - (self.raw[L_EAR, 2] + self.raw[R_EAR, 2]) / 2 > 0.02)

    def facing(self, side: str) -> float:
        """+1 when the trainee faces +x (toes point right in the picture), -1 when facing -x."""
        d = self.p(side, "toe")[0] - self.p(side, "heel")[0]
        if abs(d) < 1e-6:
            d = self.nose[0] - self.p(side, "hip")[0]
        return 1.0 if d >= 0 else -1.0

    def line_offset(self, side: str, a: str, mid: str, c: str) -> float:
        """Signed distance of `mid` from the line a-c, per unit a-c length; positive = above the line (y up)."""
        pa, pm, pc = self.p(side, a), self.p(side, mid), self.p(side, c)
        d = pc - pa
        length = float(np.linalg.norm(d))
        if length < 1e-9:
            return float("nan")
        cross = d[0] * (pm[1] - pa[1]) - d[1] * (pm[0] - pa[0])
        # y points down in the picture; flip so that "above" is positive whichever way the line runs.
        sign = 1.0 if d[0] >= 0 else -1.0
        return float(-cross / length / length * sign)
