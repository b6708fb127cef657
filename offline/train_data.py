"""Feature rows for both levels from labelled frame sets, with augmentation for the training side."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.exercises import NONE, is_hold
from common.features import NUM_FEATURES, features
from offline import augment
from offline.dataset import FrameSet


# Neighbouring video frames are near copies: a long clip would outweigh twenty short ones, so each source
# gives at most this many frames (evenly spaced) before augmentation. The 100 push-up sequences are one
# source's recordings of one movement: 40 frames each keep them from drowning the clips.
MAX_FRAMES = {"clip": 300, "sequence": 40, "rows": 1200, "seed_image": 1}
# A seed screenshot is one frame: it gets this many camera variations of itself and of its mirror image.
IMAGE_COPIES = 6
POSITIVE_NOISE_SHARE = 0.25   # share of positive rows that also get a seed-noise copy
# Seed-noise "none" rows, as a share of positive rows. They teach "off every exercise = none": on the held-out
# 'other' clips that matters (without them all 3 were taken for exercises), but every extra share also turns
# real but unusual exercise frames into "none" (out-of-fold clip accuracy 56/66 at 0, 54/66 at 0.05,
# 53/66 at 0.1): 0.05 is the compromise.
NONE_NOISE_SHARE = 0.05


@dataclass
class Rows:
    """Feature rows with their labels and source (the group of grouped cross-validation)."""

    X: np.ndarray          # float32 [N, 32]
    exercise: np.ndarray   # object [N]
    phase: np.ndarray      # object [N] ("" = not a level-2 row)
    group: np.ndarray      # object [N]
    origin: np.ndarray     # object [N]: real / mirror / camera / noise / none_noise

    def __len__(self) -> int:
        return len(self.X)

    def take(self, mask_or_index) -> "Rows":
        return Rows(self.X[mask_or_index], self.exercise[mask_or_index], self.phase[mask_or_index],
                    self.group[mask_or_index], self.origin[mask_or_index])

    @staticmethod
    def concat(parts: list["Rows"]) -> "Rows":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Rows(np.zeros((0, NUM_FEATURES), np.float32), *(np.zeros(0, object) for _ in range(4)))
        return Rows(np.concatenate([p.X for p in parts]), *(np.concatenate([getattr(p, f) for p in parts])
                                                             for f in ("exercise", "phase", "group", "origin")))


def _rows(feats, exercise, phase, group, origin) -> Rows:
    n = len(feats)
    return Rows(np.asarray(feats, np.float32), np.asarray(exercise, object), np.asarray(phase, object),
                np.full(n, group, dtype=object), np.full(n, origin, dtype=object))


def _finite(rows: Rows) -> Rows:
    return rows.take(np.isfinite(rows.X).all(axis=1))


def evaluation_rows(fs: FrameSet) -> tuple[Rows, np.ndarray]:
    """All frames with a pose, unaugmented -> (rows, their frame indices)."""
    idx = np.flatnonzero(fs.has_pose)
    rows = _rows(features(fs.landmarks[idx], fs.aspect), fs.exercise[idx], fs.phase[idx], fs.source, "real")
    keep = np.isfinite(rows.X).all(axis=1)
    return rows.take(keep), idx[keep]


def arm_donors(sets: list[FrameSet], exercise: str) -> tuple[np.ndarray, np.ndarray]:
    """Labelled real clip frames of an exercise, whose arms the arm-less rows borrow."""
    marks, aspects = [], []
    for fs in sets:
        if fs.kind == "clip":
            idx = np.flatnonzero(fs.exercise == exercise)
            marks.append(fs.landmarks[idx])
            aspects.append(np.full(len(idx), fs.aspect))
    return np.concatenate(marks), np.concatenate(aspects)


def training_rows(fs: FrameSet, rng: np.random.Generator, donors=None) -> Rows:
    """Labelled frames of one source with mirrored and camera-varied copies (noise copies come later)."""
    idx = np.flatnonzero((fs.exercise != "") & fs.has_pose)
    if len(idx) == 0:
        return Rows.concat([])
    cap = MAX_FRAMES.get(fs.kind, MAX_FRAMES["clip"])
    if len(idx) > cap:
        idx = idx[np.linspace(0, len(idx) - 1, cap).round().astype(int)]
    lm, ex, ph = fs.landmarks[idx], fs.exercise[idx], fs.phase[idx]
    if fs.info.get("needs_arms"):
        lm = augment.borrow_arms(lm, fs.aspect, *donors[fs.source_exercise], rng)
    mirror = augment.mirrored(lm)
    variants = [(lm, "real"), (mirror, "mirror")]
    copies = IMAGE_COPIES if fs.kind == "seed_image" else 1
    for _ in range(copies):
        variants += [(augment.camera_jitter(lm, fs.aspect, rng), "camera"),
                     (augment.camera_jitter(mirror, fs.aspect, rng), "camera")]
    parts = [_rows(features(v, fs.aspect), ex, ph, fs.source, origin) for v, origin in variants]
    return _finite(Rows.concat(parts))


def add_noise(rows: Rows, rng: np.random.Generator) -> Rows:
    """The seed's noise: positive copies of a share of rows, and 'none' rows pushed off real poses."""
    positive = np.flatnonzero(rows.exercise != NONE)
    pick = positive[rng.random(len(positive)) < POSITIVE_NOISE_SHARE]
    noisy = Rows(augment.positive_noise(rows.X[pick], rng), rows.exercise[pick], rows.phase[pick],
                 rows.group[pick], np.full(len(pick), "noise", dtype=object))
    base = rng.choice(positive, size=int(NONE_NOISE_SHARE * len(positive)), replace=False)
    negative = Rows(augment.none_noise(rows.X[base], rng), np.full(len(base), NONE, dtype=object),
                    np.full(len(base), "", dtype=object), rows.group[base],
                    np.full(len(base), "none_noise", dtype=object))
    return Rows.concat([rows, noisy, negative])


def build_training_rows(sets: list[FrameSet], seed: int, progress=None) -> Rows:
    rng = np.random.default_rng(seed)
    donors = {e: arm_donors(sets, e) for e in {fs.source_exercise for fs in sets if fs.info.get("needs_arms")}}
    parts = []
    for fs in sets:
        parts.append(training_rows(fs, rng, donors))
        if progress:
            progress(1)
    return add_noise(Rows.concat(parts), rng)


def level2_mask(rows: Rows) -> np.ndarray:
    """Rows that teach level 2: a start/end label on a counted exercise."""
    counted = np.array([e != NONE and not is_hold(e) for e in rows.exercise], bool)
    return counted & np.isin(rows.phase, ["start", "end"])
