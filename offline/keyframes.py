"""Derive the reference figure's start/end poses of each exercise from real clips' cached landmarks.

`python -m offline.keyframes` reads BlazePose landmarks of one real clip per exercise (through
offline.landmark_cache, so from .cache/landmarks when warm) and writes services/ui/static/keyframes.json:
for each exercise the median pose of the frames at either end of its movement, aligned on the hips and the
floor, scaled into one box. Only these 2 x 33 points per exercise are kept, never a frame of the clip.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from common.config import Settings
from common.features import L_ANKLE, L_FOOT, L_HEEL, L_HIP, NUM_LANDMARKS, R_ANKLE, R_FOOT, R_HEEL, R_HIP, joint_angles

logger = logging.getLogger(__name__)

DATA = Path(Settings.from_env().data_dir) / "clips"
OUTPUT = Path(__file__).resolve().parent / "static" / "keyframes.json"
# Share of frames at each end of the movement whose median becomes the keyframe.
BAND = 0.08
MIN_VISIBILITY = 0.5
_FLOOR = [L_ANKLE, R_ANKLE, L_HEEL, R_HEEL, L_FOOT, R_FOOT]


def _mean(*arrays):
    return np.mean(np.stack(arrays), axis=0)


def _torso_incline(lm: np.ndarray, aspect: float) -> np.ndarray:
    """Degrees the shoulders-to-hips line rises above horizontal (a crunch lifts the shoulders)."""
    xy = lm[..., :2].astype(np.float64) * [aspect, 1.0]
    shoulders, hips = (xy[:, 11] + xy[:, 12]) / 2, (xy[:, 23] + xy[:, 24]) / 2
    d = shoulders - hips
    return np.degrees(np.arctan2(-d[:, 1], np.abs(d[:, 0]) + 1e-9))


# exercise -> (clip, seconds of it that show the exercise, signal(landmarks, aspect) or None for a hold,
#              start is the high end of the signal?, seconds per rep of the animation)
RECIPES = {
    "squat": ("WorkoutTracker/squat_17.mp4", None,
              lambda lm, a: _mean(*(joint_angles(lm, a)[k] for k in ("l_knee", "r_knee"))), True, 2.6),
    "push_up": ("PushUp-Counter/pushup4.mp4", None,
                lambda lm, a: _mean(*(joint_angles(lm, a)[k] for k in ("l_elbow", "r_elbow"))), True, 2.2),
    "lunge": ("aiTrainer/lunges.mp4", None,
              lambda lm, a: np.minimum(joint_angles(lm, a)["l_knee"], joint_angles(lm, a)["r_knee"]), True, 2.8),
    "jumping_jack": ("computervision/jumpingjack_correct_002.mp4", None,
                     lambda lm, a: _mean(*(joint_angles(lm, a)[k] for k in ("l_shoulder", "r_shoulder"))), False,
                     1.1),
    # The trainer talks (sitting up) until 27 s: only the crunches themselves.
    "crunch": ("lightweight-human-pose-e/crunches_isometric.mp4", (27.5, 86.0), _torso_incline, False, 2.4),
    "plank": ("videos/plank.mp4", None, None, True, 4.0),
}


def _aligned(lm: np.ndarray, aspect: float) -> np.ndarray:
    """[N, 33, 4] -> [N, 33, 2] in true proportions, hips centred on x = 0 and the lowest foot point on y = 0."""
    xy = lm[..., :2].astype(np.float64) * [aspect, 1.0]
    hip_x = (xy[:, L_HIP, 0] + xy[:, R_HIP, 0]) / 2
    floor = np.nanmax(xy[:, _FLOOR, 1], axis=1)
    return xy - np.stack([hip_x, floor], axis=-1)[:, None, :]


def keyframes_of(landmarks: np.ndarray, aspect: float, signal, start_high: bool) -> tuple[np.ndarray, np.ndarray]:
    """Median aligned poses at the start and end of the movement (plank: the same pose twice)."""
    usable = ~np.isnan(landmarks[:, 0, 0])
    usable[usable] = landmarks[usable, 11:29, 3].mean(axis=1) >= MIN_VISIBILITY
    lm = landmarks[usable]
    if len(lm) < 10:
        raise ValueError(f"only {len(lm)} usable frames")
    xy = _aligned(lm, aspect)
    if signal is None:
        pose = np.median(xy, axis=0)
        return pose, pose.copy()
    values = signal(lm, aspect)
    low, high = np.quantile(values, [BAND, 1 - BAND])
    top, bottom = np.median(xy[values >= high], axis=0), np.median(xy[values <= low], axis=0)
    return (top, bottom) if start_high else (bottom, top)


def normalise(start: np.ndarray, end: np.ndarray) -> tuple[list, list, float]:
    """Both poses into one 0..1 box (y down, feet at the bottom), keeping proportions; returns (start, end, aspect)."""
    both = np.concatenate([start, end])
    lo, hi = both.min(axis=0), both.max(axis=0)
    size = hi - lo
    scale = float(max(size.max(), 1e-6))
    aspect = float(size[0] / size[1]) if size[1] > 0 else 1.0

    def fit(p: np.ndarray) -> list:
        out = (p - lo) / [size[0] if size[0] > 0 else scale, size[1] if size[1] > 0 else scale]
        return np.round(out, 3).tolist()

    return fit(start), fit(end), round(aspect, 3)


def build(data_dir: Path = DATA) -> dict:
    from offline.landmark_cache import extract  # heavy (MediaPipe) import only when building
    out = {"version": 1, "note": "Start/end poses derived by offline/keyframes.py from real clips' landmarks",
           "exercises": {}}
    for exercise, (clip, window, signal, start_high, period) in RECIPES.items():
        poses = extract(data_dir / clip)
        landmarks = poses.landmarks
        if window is not None:
            landmarks = landmarks[int(window[0] * poses.fps):int(window[1] * poses.fps)]
        start, end = keyframes_of(landmarks, poses.aspect, signal, start_high)
        s, e, aspect = normalise(start, end)
        assert len(s) == NUM_LANDMARKS
        out["exercises"][exercise] = {"start": s, "end": e, "aspect": aspect, "period_s": period,
                                      "hold": signal is None, "source": clip}
        logger.info("%s: from %s (%d frames)", exercise, clip, len(poses.landmarks))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.keyframes", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of clips with labels.csv")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="JSON file to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if not args.data.is_dir():
        raise SystemExit(f"no clips at {args.data}: the real data lives in ../shared/data next to the repository")
    data = build(args.data)
    args.output.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
