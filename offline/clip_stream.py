"""Labelled clips as timed landmark streams from the landmark cache, and the same stream at a lower frame rate."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from offline import dataset
from offline.labels import ClipLabel
from services.capture.frames import rate_slot


@dataclass
class Clip:
    label: ClipLabel
    aspect: float
    width: int
    height: int
    fps: float
    t: np.ndarray              # [N] seconds from the first frame
    landmarks: np.ndarray      # float32 [N, 33, 4], NaN rows without a person
    dark_share: np.ndarray     # [N]
    bright_share: np.ndarray   # [N]

    @property
    def file(self) -> str:
        return self.label.file

    @property
    def exercise(self) -> str:
        return self.label.exercise


def load(label: ClipLabel, data_dir: Path = dataset.DEFAULT_DATA_DIR, max_fps: float = 0.0) -> Clip:
    """One labelled clip from the landmark cache (BlazePose runs once if it is not cached yet: slow). With
    `max_fps`, as a camera of that rate delivers it, BlazePose tracking at that rate (as the live services do)."""
    from offline.landmark_cache import extract
    poses = extract(Path(data_dir) / "clips" / label.file, max_fps=max_fps)
    return Clip(label, poses.aspect, poses.width, poses.height, poses.fps, poses.times,
                poses.landmarks, poses.dark_share, poses.bright_share)


def resample(clip: Clip, fps: float | None) -> Clip:
    """The frames a camera delivering `fps` frames a second would have sent (one per 1/fps, by timestamp)."""
    if not fps or fps >= clip.fps:
        return clip
    bins = rate_slot(clip.t, fps)
    keep = np.r_[True, bins[1:] != bins[:-1]]
    return replace(clip, t=clip.t[keep], landmarks=clip.landmarks[keep], dark_share=clip.dark_share[keep],
                   bright_share=clip.bright_share[keep], fps=float(fps))
