"""What a window of recent motion looks like: which joints swing and how much, the body's orientation, the rhythm.

Every frame adds one cheap descriptor (joint angles and positions in true proportions) to a buffer of the last
WINDOW_S seconds; the recogniser turns the buffer into window features a few times a second. Causal: a window
ends at the newest frame.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from common.rep_signals import USED, measure_all
from common.features import (L_ANKLE as L_AN, L_ELBOW as L_EL, L_HIP, L_KNEE as L_KN, L_SHOULDER as L_SH,
                             L_WRIST as L_WR, NOSE, R_ANKLE as R_AN, R_ELBOW as R_EL, R_HIP, R_KNEE as R_KN,
                             R_SHOULDER as R_SH, R_WRIST as R_WR)

MIN_VIS = 0.5         # BlazePose visibility below this: the joint is guessed, not seen

WINDOW_S = 2.5        # long enough for one slow rep, short enough to follow a change of exercise
MIN_SPAN_S = 0.8      # less pose history than this: no opinion
GRID_HZ = 10.0        # rhythm is measured on a fixed time grid so 10, 18 and 30 frames/s agree

# per-frame descriptor columns
# The rep signals' body measures (common/rep_signals.py) are columns too: how much each swings says which
# exercise's reps are under way, in every view.
MEASURED = list(USED)
# The window model's inputs: each measure's swing, level and rhythm - not those that serve only to rule an
# exercise out (common/exercises.py window_posture). As a model input too, wrist_height moved a head-on crunch clip
# 2-4 reps either way with the model's seed (out of fold); as a gate alone it changes no other clip.
GATE_ONLY = ("wrist_height",)
REP_MEASURES = [m for m in MEASURED if m not in GATE_ONLY]
FRAME_COLS = ["torso_tilt", "legs_tilt", "knee_l", "knee_r", "hip_l", "hip_r", "elbow_l", "elbow_r", "arm_l",
              "arm_r", "crunch", "hip_x", "hip_y", "sh_y", "nose_y", "wrist_rel", "ankle_spread",
              "wrist_spread", "ankle_y", "torso", "sh_width", "bbox_aspect", "vis_lower", "vis_upper",
              *(f"m_{m}" for m in MEASURED)]
C = {n: i for i, n in enumerate(FRAME_COLS)}
ANGLES = ["torso_tilt", "legs_tilt", "knee_l", "knee_r", "hip_l", "hip_r", "elbow_l", "elbow_r", "arm_l", "arm_r",
          "crunch"]
POSITIONS = ["hip_x", "hip_y", "sh_y", "nose_y", "wrist_rel", "ankle_spread", "wrist_spread", "ankle_y"]


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle a-b-c at b in degrees over the last axis pair (NaN where a segment has no length)."""
    v1, v2 = a - b, c - b
    n = np.linalg.norm(v1, axis=-1) * np.linalg.norm(v2, axis=-1)
    cos = np.sum(v1 * v2, axis=-1) / np.maximum(n, 1e-9)
    return np.where(n > 1e-9, np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), np.nan)


def frame_descriptor(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """One frame -> FRAME_COLS (angles in degrees, positions in picture units with true proportions)."""
    return frame_descriptors(np.asarray(landmarks)[None], aspect)[0]


def frame_descriptors(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """[N, 33, 4] frames (all with a person) -> [N, FRAME_COLS]: one numpy pass for a batch of frames, as cheap
    for ten frames as for one."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, 33, 4)
    xy = lm[..., :2] * np.array([aspect, 1.0])
    vis = lm[..., 3]
    p = lambda i: xy[:, i]   # noqa: E731 - [N, 2] of one landmark
    sh, hp = (p(L_SH) + p(R_SH)) / 2, (p(L_HIP) + p(R_HIP)) / 2
    an = (p(L_AN) + p(R_AN)) / 2
    near_hip = np.where((vis[:, L_HIP] >= vis[:, R_HIP])[:, None], p(L_HIP), p(R_HIP))
    near_knee = np.where((vis[:, L_KN] >= vis[:, R_KN])[:, None], p(L_KN), p(R_KN))
    up, down = np.array([0.0, -1.0]), np.array([0.0, 1.0])
    a = np.stack([sh, an, p(L_HIP), p(L_HIP), p(L_SH), p(R_SH), p(L_SH), p(R_SH), p(L_SH) + down, p(R_SH) + down,
                  p(NOSE)], 1)
    b = np.stack([hp, hp, p(L_KN), p(R_KN), p(L_HIP), p(R_HIP), p(L_EL), p(R_EL), p(L_SH), p(R_SH), near_hip], 1)
    c = np.stack([hp + up, hp + down, p(L_AN), p(R_AN), p(L_KN), p(R_KN), p(L_WR), p(R_WR), p(L_EL), p(R_EL),
                  near_knee], 1)
    ang = _angle(a, b, c)                                   # [N, 11]
    # the body's extent over the joints seen (all of them when fewer than 4 are)
    seen = vis >= MIN_VIS
    seen = np.where(seen.sum(1, keepdims=True) >= 4, seen, True)
    lo = np.where(seen[..., None], xy, np.inf).min(1)
    hi = np.where(seen[..., None], xy, -np.inf).max(1)
    ext = hi - lo
    out = np.column_stack([
        ang, hp[:, 0], hp[:, 1], sh[:, 1], p(NOSE)[:, 1], sh[:, 1] - (p(L_WR)[:, 1] + p(R_WR)[:, 1]) / 2,
        np.abs(p(L_AN)[:, 0] - p(R_AN)[:, 0]), np.abs(p(L_WR)[:, 0] - p(R_WR)[:, 0]), an[:, 1],
        np.linalg.norm(sh - hp, axis=1), np.linalg.norm(p(L_SH) - p(R_SH), axis=1),
        ext[:, 0] / np.maximum(ext[:, 1], 1e-6),
        vis[:, [L_HIP, R_HIP, L_KN, R_KN, L_AN, R_AN]].mean(1), vis[:, [L_SH, R_SH, L_EL, R_EL, L_WR, R_WR]].mean(1)])
    measured = [measure_all(one, aspect) for one in lm]
    rep = np.array([[np.nan if ms[m] is None else ms[m] for m in MEASURED] for ms in measured],
                   dtype=np.float64).reshape(len(lm), len(MEASURED))
    return np.concatenate([out, rep], axis=1)


def _nan_percentiles(m: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """np.nanpercentile(m, qs, axis=0) (linear interpolation) in one sort: NaNs sort last, so each column's
    finite values are its first n. Ten times faster than numpy's own, which loops over columns in Python."""
    ordered = np.sort(m, axis=0)
    n = np.isfinite(m).sum(axis=0)
    cols = np.arange(m.shape[1])
    out = []
    for q in qs:
        pos = q / 100.0 * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        a, b = ordered[lo, cols], ordered[hi, cols]
        with np.errstate(invalid="ignore"):
            value = a + (b - a) * (pos - lo)
        out.append(np.where(n > 0, value, np.nan))
    return out


def _range(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 90) - np.percentile(x, 10)) if len(x) >= 3 else np.nan


def _med(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else np.nan


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 5 or np.std(x[ok]) < 1e-6 or np.std(y[ok]) < 1e-6:
        return 0.0
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _rhythm(t: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(strongest autocorrelation at a lag of 0.4-2 s, that lag in s) on a fixed grid; (0, 0) if flat."""
    ok = np.isfinite(x)
    if ok.sum() < 6:
        return 0.0, 0.0
    grid = np.arange(t[ok][0], t[ok][-1], 1 / GRID_HZ)
    if len(grid) < 10:
        return 0.0, 0.0
    g = np.interp(grid, t[ok], x[ok])
    g = g - g.mean()
    den = float(np.dot(g, g))
    if den < 1e-12:
        return 0.0, 0.0
    lags = np.arange(4, min(21, len(g) - 4))
    if not len(lags):
        return 0.0, 0.0
    r = np.correlate(g, g, "full")[len(g) - 1 + lags] / den * len(g) / (len(g) - lags)
    i = int(np.argmax(r))
    return (float(r[i]), float(lags[i] / GRID_HZ)) if r[i] > 0 else (0.0, 0.0)


FEATURE_NAMES: list[str] = (
    [f"{n}_med" for n in ANGLES] + [f"{n}_rng" for n in ANGLES] + [f"{n}_rng" for n in POSITIONS]
    + ["wrist_rel_med", "ankle_spread_med", "wrist_spread_med", "hip_x_speed", "hip_y_speed", "knee_sync",
       "elbow_sync", "arm_sync", "arm_ankle_sync", "knee_asym", "knee_min_rng", "arm_mean_rng", "elbow_seen_rng",
       "hip_y_rhythm", "hip_y_period", "knee_rhythm", "elbow_rhythm", "arm_rhythm", "crunch_rhythm",
       "width_over_torso", "bbox_aspect_med", "vis_lower", "vis_upper", "pose_share", "torso_rel"]
    + [f"m_{m}_rng" for m in REP_MEASURES] + [f"m_{m}_med" for m in REP_MEASURES]
    + [f"m_{m}_rhythm" for m in REP_MEASURES])


def window_features(t: np.ndarray, d: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Features of one window: t [N] seconds, d [N, FRAME_COLS] (NaN rows = no person), present [N] bool."""
    x = d[present]
    tt = t[present]
    col = lambda n: x[:, C[n]]
    knee_min = np.fmin(col("knee_l"), col("knee_r"))
    arm_mean = (col("arm_l") + col("arm_r")) / 2
    elbow_min = np.fmin(col("elbow_l"), col("elbow_r"))
    extra = np.stack([knee_min, arm_mean, elbow_min, np.abs(col("knee_l") - col("knee_r"))], -1)
    m = np.concatenate([x, extra], 1)
    # one percentile pass over every column (10th, median, 90th)
    q10, q50, q90 = _nan_percentiles(m, (10.0, 50.0, 90.0))
    enough = np.isfinite(m).sum(0) >= 3
    rng = np.where(enough, q90 - q10, np.nan)
    med = lambda n: q50[C[n]]
    ex = len(FRAME_COLS)
    torso = med("torso")
    scale = max(np.nan_to_num(q90[C["torso"]]), np.nan_to_num(med("sh_width")), 1e-3)
    f = [med(n) for n in ANGLES] + [rng[C[n]] for n in ANGLES]
    f += [rng[C[n]] / scale for n in POSITIONS]
    f += [med("wrist_rel") / scale, med("ankle_spread") / scale, med("wrist_spread") / scale]
    dt = np.maximum(np.diff(tt), 1e-3) if len(tt) > 1 else None
    for n in ("hip_x", "hip_y"):
        if dt is None:
            f.append(np.nan)
            continue
        v = np.abs(np.diff(col(n))) / dt
        v = v[np.isfinite(v)]
        f.append(float(np.median(v)) / scale if len(v) else np.nan)
    f += [_corr(col("knee_l"), col("knee_r")), _corr(col("elbow_l"), col("elbow_r")),
          _corr(col("arm_l"), col("arm_r")), _corr(arm_mean, col("ankle_spread")),
          q50[ex + 3], rng[ex], rng[ex + 1], rng[ex + 2]]
    f += list(_rhythm(tt, col("hip_y")))
    f += [_rhythm(tt, v)[0] for v in (knee_min, (col("elbow_l") + col("elbow_r")) / 2, arm_mean, col("crunch"))]
    f += [med("sh_width") / max(torso, 1e-3) if np.isfinite(torso) else np.nan, med("bbox_aspect"),
          med("vis_lower"), med("vis_upper"), float(present.sum()) / max(len(present), 1), torso / scale]
    f += [rng[C[f"m_{m}"]] for m in REP_MEASURES] + [med(f"m_{m}") for m in REP_MEASURES]
    f += [_rhythm(tt, col(f"m_{m}"))[0] for m in REP_MEASURES]
    return np.array(f, np.float32)


class WindowBuffer:
    """The last WINDOW_S seconds of frames, appended frame by frame (a copy of the landmarks, nothing more) and
    described in one batch when the window is read (the recogniser reads it about three times a second)."""

    def __init__(self, window_s: float = WINDOW_S):
        self.window_s = window_s
        self._t: deque[float] = deque()
        self._lm: deque[np.ndarray | None] = deque()       # None: no person in that frame
        self._d: deque[np.ndarray | None] = deque()        # its descriptor, once described
        self._aspect = 1.0
        self._pending = 0                                  # frames with a person not yet described

    def push(self, t: float, landmarks: np.ndarray | None, aspect: float) -> None:
        ok = landmarks is not None and not np.isnan(landmarks[0, 0])
        if ok and aspect != self._aspect:
            self._describe()                               # descriptors of one batch share an aspect ratio
            self._aspect = aspect
        self._t.append(t)
        self._lm.append(np.array(landmarks, np.float32) if ok else None)
        self._d.append(None)
        self._pending += ok
        while self._t and t - self._t[0] > self.window_s:
            self._t.popleft()
            lm, d = self._lm.popleft(), self._d.popleft()
            if lm is not None and d is None:
                self._pending -= 1

    def _describe(self) -> None:
        if not self._pending:
            return
        todo = [i for i, (lm, d) in enumerate(zip(self._lm, self._d)) if lm is not None and d is None]
        rows = frame_descriptors(np.stack([self._lm[i] for i in todo]), self._aspect)
        for i, row in zip(todo, rows):
            self._d[i] = row
        self._pending = 0

    def pose_span(self) -> float:
        ts = [t for t, lm in zip(self._t, self._lm) if lm is not None]
        return ts[-1] - ts[0] if len(ts) >= 2 else 0.0

    def start(self) -> float | None:
        ts = [t for t, lm in zip(self._t, self._lm) if lm is not None]
        return ts[0] if ts else None

    def measure(self, name: str) -> tuple[list[float], int]:
        """(the values of a rep-signal measure over the window where it was seen, frames with a person)."""
        self._describe()
        column = C[f"m_{name}"]
        rows = [d for d in self._d if d is not None]
        return [float(d[column]) for d in rows if d[column] == d[column]], len(rows)

    def features(self) -> np.ndarray | None:
        if self.pose_span() < MIN_SPAN_S:
            return None
        self._describe()
        t = np.array(self._t)
        present = np.array([d is not None for d in self._d])
        d = np.full((len(t), len(FRAME_COLS)), np.nan)
        if present.any():
            d[present] = np.stack([x for x in self._d if x is not None])
        return window_features(t, d, present)
