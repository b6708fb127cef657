"""Per-frame start/end phase labels and 'in exercise' masks of real clips, from one movement signal each."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common import features as F


# The procedure, per counted exercise: a movement signal that is low at "start" (rest position) and high at
# "end" (the exertion position, as in the seed's screenshots). It is smoothed, then normalised per clip
# between its 5th and 95th percentile; frames below LOW are "start", above HIGH "end", and the frames in
# between (mid-movement) stay unlabelled, so level 2 learns only clear positions.
LOW, HIGH = 0.35, 0.65
# A frame is "active" when the signal moves within +-ACTIVE_WINDOW_S around it by at least half the
# exercise's minimal amplitude: a talking head or an idle stance has a body but no such movement.
ACTIVE_WINDOW_S = 2.0
# Smallest clip amplitude (p95 - p5, in the signal's own unit) that is a real repetition of the exercise;
# below it the clip gives no positives at all (e.g. only a title card and a close-up).
MIN_AMPLITUDE = {
    "squat": 0.3,          # torso lengths of hip drop
    "lunge": 0.3,          # torso lengths of hip drop
    "push_up": 30.0,       # degrees of elbow flexion
    "crunch": 12.0,        # degrees of hip flexion (shoulder-hip-knee); a crunch is a small movement
    "jumping_jack": 1.0,   # torso lengths (wrist height plus ankle spread)
}
# Joints that must be seen (visibility) for the signal of a frame to be trusted.
MIN_VISIBILITY = 0.5
# Posture gates (torso incline from horizontal, degrees): squats, lunges and jumping jacks are done upright,
# crunches lying, planks level. Push-ups have no gate: wall push-ups are done nearly upright.
UPRIGHT_MIN_INCLINE = 40.0
LYING_MAX_INCLINE = 50.0
PLANK_MAX_INCLINE = 35.0
PLANK_MIN_BODY_LINE = 135.0   # shoulder-hip-ankle angle: a plank is a straight line, kneeling is not
SMOOTH_FRAMES = 5


@dataclass
class PhaseLabels:
    """Result for one clip: which frames are the exercise, and their phase ('' = unlabelled)."""

    active: np.ndarray     # bool [N]: pose present, posture right, signal moving
    phase: np.ndarray      # object [N]: "start" / "end" / ""
    signal: np.ndarray     # float [N]: raw movement signal (NaN where unusable)
    amplitude: float       # p95 - p5 of the smoothed signal over usable frames


def _side_weighted(values_l: np.ndarray, values_r: np.ndarray, vis_l: np.ndarray, vis_r: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Visibility-weighted mean of a left and right measure, and the best side's visibility."""
    wl, wr = np.clip(vis_l, 1e-3, 1), np.clip(vis_r, 1e-3, 1)
    return (values_l * wl + values_r * wr) / (wl + wr), np.maximum(vis_l, vis_r)


def _min_visibility(lm: np.ndarray, joints: tuple[int, ...]) -> np.ndarray:
    return lm[:, list(joints), 3].min(axis=1)


def movement_signal(exercise: str, landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """[N, 33, 4] -> [N] signal, high at the 'end' position; NaN where the needed joints are not seen."""
    lm = np.asarray(landmarks, dtype=np.float64)
    ang = F.joint_angles(lm, aspect)
    sig: np.ndarray
    if exercise in ("squat", "lunge"):
        # Hip height above the ankles, in torso lengths, sinks in both. The knee angle would too, but seen
        # from the front the thigh points at the camera and the 2D knee angle hardly changes: with it 3 of
        # the 39 squat/lunge clips got no label at all (1 with hip drop), and the start/end cycles missed the
        # labelled reps by 7 in total (6). On the form-labelled rows both separate up from down (AUC >= 0.99).
        xy = F.isotropic_xy(lm, aspect)
        pts = F.body_points(xy)
        torso = np.linalg.norm(pts["neck"] - pts["hip"], axis=-1) + 1e-6
        ankles = (xy[:, F.L_ANKLE, 1] + xy[:, F.R_ANKLE, 1]) / 2
        sig = (pts["hip"][:, 1] - ankles) / torso   # image y grows downwards: the lower the hips, the higher
        vis = np.minimum(lm[:, [F.L_HIP, F.R_HIP], 3].max(axis=1), lm[:, [F.L_ANKLE, F.R_ANKLE], 3].max(axis=1))
    elif exercise == "push_up":
        vis_l = _min_visibility(lm, (F.L_SHOULDER, F.L_ELBOW, F.L_WRIST))
        vis_r = _min_visibility(lm, (F.R_SHOULDER, F.R_ELBOW, F.R_WRIST))
        sig, vis = _side_weighted(180 - ang["l_elbow"], 180 - ang["r_elbow"], vis_l, vis_r)
    elif exercise == "crunch":
        vis_l = _min_visibility(lm, (F.L_SHOULDER, F.L_HIP, F.L_KNEE))
        vis_r = _min_visibility(lm, (F.R_SHOULDER, F.R_HIP, F.R_KNEE))
        sig, vis = _side_weighted(180 - ang["l_hip"], 180 - ang["r_hip"], vis_l, vis_r)
    elif exercise == "jumping_jack":
        xy = F.isotropic_xy(lm, aspect)
        pts = F.body_points(xy)
        torso = np.linalg.norm(pts["neck"] - pts["hip"], axis=-1) + 1e-6
        # Image y grows downwards: wrists above the neck give a positive lift.
        lift = (pts["neck"][:, 1] - (xy[:, F.L_WRIST, 1] + xy[:, F.R_WRIST, 1]) / 2) / torso
        spread = np.abs(xy[:, F.L_ANKLE, 0] - xy[:, F.R_ANKLE, 0]) / torso
        sig = lift + spread
        vis = np.minimum(_min_visibility(lm, (F.L_WRIST, F.R_WRIST)), _min_visibility(lm, (F.L_ANKLE, F.R_ANKLE)))
    else:
        raise ValueError(f"no movement signal for {exercise!r}")
    sig = np.where(vis >= MIN_VISIBILITY, sig, np.nan)
    return sig


def torso_incline(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """Degrees of the neck-hip line from horizontal: 90 standing, 0 lying or in a plank."""
    pts = F.body_points(F.isotropic_xy(np.asarray(landmarks, dtype=np.float64), aspect))
    v = pts["neck"] - pts["hip"]
    return np.degrees(np.arctan2(np.abs(v[:, 1]), np.abs(v[:, 0]) + 1e-9))


def _angle_at(vertex: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle a-vertex-b in degrees over leading dimensions."""
    u, v = a - vertex, b - vertex
    return np.degrees(np.arctan2(np.abs(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]), (u * v).sum(-1)))


def body_line(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """Shoulder-hip-ankle angle in degrees (180 = straight body), visibility-weighted over both sides."""
    lm = np.asarray(landmarks, dtype=np.float64)
    xy = F.isotropic_xy(lm, aspect)
    left = _angle_at(xy[:, F.L_HIP], xy[:, F.L_SHOULDER], xy[:, F.L_ANKLE])
    right = _angle_at(xy[:, F.R_HIP], xy[:, F.R_SHOULDER], xy[:, F.R_ANKLE])
    return _side_weighted(left, right, lm[:, F.L_HIP, 3], lm[:, F.R_HIP, 3])[0]


def nan_median_filter(x: np.ndarray, size: int) -> np.ndarray:
    """Centered running median that ignores NaN (a frame stays NaN only if its whole window is)."""
    if size <= 1 or len(x) == 0:
        return x.copy()
    half = size // 2
    padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, size)
    out = np.full(len(x), np.nan)
    ok = ~np.all(np.isnan(windows), axis=1)
    out[ok] = np.nanmedian(windows[ok], axis=1)
    out[np.isnan(x)] = np.nan   # smoothing must not invent a signal where the joints were not seen
    return out


def local_range(x: np.ndarray, half: int) -> np.ndarray:
    """max - min of the non-NaN signal within +-half frames of each frame (NaN where none)."""
    n = len(x)
    out = np.full(n, np.nan)
    for i in range(n):
        w = x[max(0, i - half):i + half + 1]
        w = w[~np.isnan(w)]
        if len(w):
            out[i] = w.max() - w.min()
    return out


def posture_ok(exercise: str, landmarks: np.ndarray, aspect: float) -> np.ndarray:
    incline = torso_incline(landmarks, aspect)
    if exercise in ("squat", "lunge", "jumping_jack"):
        return incline >= UPRIGHT_MIN_INCLINE
    if exercise == "crunch":
        return incline <= LYING_MAX_INCLINE
    if exercise == "plank":
        return (incline <= PLANK_MAX_INCLINE) & (body_line(landmarks, aspect) >= PLANK_MIN_BODY_LINE)
    return np.ones(len(landmarks), bool)


def label_phases(exercise: str, landmarks: np.ndarray, aspect: float, fps: float) -> PhaseLabels:
    """Active frames and start/end labels of one clip of a known exercise (plank: active = plank posture)."""
    lm = np.asarray(landmarks, dtype=np.float32)
    n = len(lm)
    present = ~np.isnan(lm[:, 0, 0]) if n else np.zeros(0, bool)
    phase = np.full(n, "", dtype=object)
    safe = np.where(present[:, None, None], lm, 0.5)  # placeholder coordinates, masked out below
    posture = posture_ok(exercise, safe, aspect) & present
    if exercise == "plank":
        return PhaseLabels(posture, phase, np.full(n, np.nan), float("nan"))
    raw = np.where(present, movement_signal(exercise, safe, aspect), np.nan)
    raw = np.where(posture, raw, np.nan)
    smooth = nan_median_filter(raw, SMOOTH_FRAMES)
    usable = ~np.isnan(smooth)
    if usable.sum() < 3:
        return PhaseLabels(np.zeros(n, bool), phase, raw, 0.0)
    lo, hi = np.percentile(smooth[usable], [5, 95])
    amplitude = float(hi - lo)
    minimum = MIN_AMPLITUDE[exercise]
    if amplitude < minimum:
        return PhaseLabels(np.zeros(n, bool), phase, raw, amplitude)
    half = max(1, int(round(ACTIVE_WINDOW_S * fps)))
    active = usable & (local_range(smooth, half) >= minimum / 2)
    norm = (smooth - lo) / amplitude
    phase[active & (norm <= LOW)] = "start"
    phase[active & (norm >= HIGH)] = "end"
    return PhaseLabels(active, phase, raw, amplitude)


def count_cycles(phases: list[str] | np.ndarray) -> int:
    """Completed start -> end -> start cycles in a phase sequence ('' ignored): how a coach counts reps."""
    count, state = 0, ""
    for p in phases:
        if not p or p == state:
            continue
        if state == "end" and p == "start":
            count += 1
        state = p
    return count
