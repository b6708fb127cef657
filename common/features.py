"""The 32 pose features of the classifier (seed definition) and joint angles, vectorised over frames."""
from __future__ import annotations

import numpy as np

# MediaPipe BlazePose landmark indices.
NOSE = 0
L_SHOULDER, R_SHOULDER = 11, 12
L_ELBOW, R_ELBOW = 13, 14
L_WRIST, R_WRIST = 15, 16
L_HIP, R_HIP = 23, 24
L_KNEE, R_KNEE = 25, 26
L_ANKLE, R_ANKLE = 27, 28
L_HEEL, R_HEEL = 29, 30
L_FOOT, R_FOOT = 31, 32
NUM_LANDMARKS = 33

# Left/right pairs, for mirroring (a left-facing trainee is a right-facing one flipped).
_MIRROR = list(range(NUM_LANDMARKS))
for _a, _b in [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 18), (19, 20),
               (21, 22), (23, 24), (25, 26), (27, 28), (29, 30), (31, 32)]:
    _MIRROR[_a], _MIRROR[_b] = _b, _a
MIRROR_INDEX = np.array(_MIRROR)

# Skeleton edges for drawing.
POSE_CONNECTIONS = [(11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24), (23, 25),
                    (25, 27), (24, 26), (26, 28), (27, 29), (29, 31), (27, 31), (28, 30), (30, 32), (28, 32),
                    (0, 11), (0, 12)]

FEATURE_NAMES = [
    "d_core_nose", "d_core_lelbow", "d_core_relbow", "d_core_lwrist", "d_core_rwrist", "d_core_lknee",
    "d_core_rknee", "d_core_lankle", "d_core_rankle", "d_lshoulder_lwrist", "d_rshoulder_rwrist",
    "d_lhip_lelbow", "d_rhip_relbow", "d_lshoulder_lknee", "d_rshoulder_rknee", "d_lhip_lankle",
    "d_rhip_rankle", "d_lknee_lfidx", "d_rknee_rfidx", "d_lwrist_rwrist", "d_lelbow_relbow",
    "d_lshoulder_rshoulder", "d_lhip_rhip", "d_lknee_rknee", "a_elbows_neck", "a_knees_hip", "a_spine",
    "a_core_ground", "v_left_up", "v_left_down", "v_right_up", "v_right_down",
]
NUM_FEATURES = len(FEATURE_NAMES)

# Point pairs of the 23 distance features after d_core_nose.. (CORE is a virtual point, index -1).
CORE = -1
_DISTANCES = [
    (CORE, NOSE), (CORE, L_ELBOW), (CORE, R_ELBOW), (CORE, L_WRIST), (CORE, R_WRIST), (CORE, L_KNEE),
    (CORE, R_KNEE), (CORE, L_ANKLE), (CORE, R_ANKLE), (L_SHOULDER, L_WRIST), (R_SHOULDER, R_WRIST),
    (L_HIP, L_ELBOW), (R_HIP, R_ELBOW), (L_SHOULDER, L_KNEE), (R_SHOULDER, R_KNEE), (L_HIP, L_ANKLE),
    (R_HIP, R_ANKLE), (L_KNEE, L_FOOT), (R_KNEE, R_FOOT), (L_WRIST, R_WRIST), (L_ELBOW, R_ELBOW),
    (L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP), (L_KNEE, R_KNEE),
]
_DIST_A = np.array([a for a, _ in _DISTANCES])
_DIST_B = np.array([b for _, b in _DISTANCES])
_VISIBILITY_GROUPS = [(L_SHOULDER, L_ELBOW, L_WRIST), (L_HIP, L_KNEE, L_ANKLE),
                      (R_SHOULDER, R_ELBOW, R_WRIST), (R_HIP, R_KNEE, R_ANKLE)]


def as_array(landmarks: bytes | np.ndarray) -> np.ndarray:
    """Landmarks from a message (float32 bytes) or array -> float32 [33, 4]."""
    if isinstance(landmarks, (bytes, bytearray, memoryview)):
        arr = np.frombuffer(landmarks, dtype=np.float32)
        if arr.size != NUM_LANDMARKS * 4:
            raise ValueError(f"landmarks of {arr.size} values, expected {NUM_LANDMARKS * 4}")
        return arr.reshape(NUM_LANDMARKS, 4)
    return np.asarray(landmarks, dtype=np.float32)


def isotropic_xy(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """[..., 33, 4] normalised landmarks -> [..., 33, 2] with x scaled by width/height, so angles are true."""
    xy = np.array(landmarks[..., :2], dtype=np.float64)
    xy[..., 0] *= aspect
    return xy


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at b in degrees, 0..180, over leading dimensions."""
    v1, v2 = a - b, c - b
    # atan2 of cross and dot stays exact near 0 and 180 degrees, where arccos loses precision.
    cross = v1[..., 0] * v2[..., 1] - v1[..., 1] * v2[..., 0]
    return np.degrees(np.arctan2(np.abs(cross), (v1 * v2).sum(-1)))


def body_points(xy: np.ndarray) -> dict[str, np.ndarray]:
    neck = (xy[..., L_SHOULDER, :] + xy[..., R_SHOULDER, :]) / 2
    hip = (xy[..., L_HIP, :] + xy[..., R_HIP, :]) / 2
    knee = (xy[..., L_KNEE, :] + xy[..., R_KNEE, :]) / 2
    return {"neck": neck, "hip": hip, "knee": knee, "core": (neck + hip) / 2}


def features(landmarks: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """[N, 33, 4] (or [33, 4]) landmarks -> [N, 32] (or [32]) features.

    Distances are divided by the torso length (neck to hip centre) so they do not depend on how far the
    trainee stands; angles are in degrees / 360; the last four are mean visibilities of the left/right
    upper and lower limbs, which tell the classifier how the body is turned to the camera.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    single = lm.ndim == 2
    if single:
        lm = lm[None]
    xy = isotropic_xy(lm, aspect)
    pts = body_points(xy)
    torso = np.linalg.norm(pts["neck"] - pts["hip"], axis=-1)[:, None] + 1e-6
    ext = np.concatenate([xy, pts["core"][:, None, :]], axis=1)  # index 33 (= -1) is the core
    dist = np.linalg.norm(ext[:, _DIST_A, :] - ext[:, _DIST_B, :], axis=-1) / torso
    torso_vec = pts["neck"] - pts["hip"]
    incline = np.degrees(np.arctan2(np.abs(torso_vec[:, 1]), np.abs(torso_vec[:, 0]) + 1e-9))  # 90 upright
    angles = np.stack([
        _angle(xy[:, L_ELBOW], pts["neck"], xy[:, R_ELBOW]),
        _angle(xy[:, L_KNEE], pts["hip"], xy[:, R_KNEE]),
        _angle(pts["neck"], pts["hip"], pts["knee"]),
        incline,
    ], axis=1) / 360.0
    vis = np.stack([lm[:, list(g), 3].mean(axis=1) for g in _VISIBILITY_GROUPS], axis=1)
    out = np.concatenate([dist, angles, vis], axis=1).astype(np.float32)
    return out[0] if single else out


def mirror(landmarks: np.ndarray) -> np.ndarray:
    """Left-right mirror image of [..., 33, 4] normalised landmarks."""
    out = np.array(landmarks[..., MIRROR_INDEX, :], dtype=np.float32)
    out[..., 0] = 1.0 - out[..., 0]
    return out


JOINT_ANGLES = {
    "l_elbow": (L_SHOULDER, L_ELBOW, L_WRIST), "r_elbow": (R_SHOULDER, R_ELBOW, R_WRIST),
    "l_knee": (L_HIP, L_KNEE, L_ANKLE), "r_knee": (R_HIP, R_KNEE, R_ANKLE),
    "l_hip": (L_SHOULDER, L_HIP, L_KNEE), "r_hip": (R_SHOULDER, R_HIP, R_KNEE),
    "l_shoulder": (L_HIP, L_SHOULDER, L_ELBOW), "r_shoulder": (R_HIP, R_SHOULDER, R_ELBOW),
}


def joint_angles(landmarks: np.ndarray, aspect: float = 1.0) -> dict[str, np.ndarray]:
    """Angles in degrees (0..180) of elbows, knees, hips and shoulders, for [33, 4] or [N, 33, 4]."""
    xy = isotropic_xy(np.asarray(landmarks), aspect)
    return {name: _angle(xy[..., a, :], xy[..., b, :], xy[..., c, :]) for name, (a, b, c) in JOINT_ANGLES.items()}
