"""Training-set augmentation with fixed seeds: mirroring, small camera changes, and the seed's feature noise."""
from __future__ import annotations


import numpy as np

from common import features as F


# The seed's noise, kept because it is what the product spec asks for, with its two recipes:
# a positive copy perturbs about half of the features a little; a "none" copy pushes a few features far
# (+0.5 in the features' own units), i.e. a pose that is *almost* an exercise but wrong somewhere.
POSITIVE_SHARE, POSITIVE_SIGMA = 0.5, 0.025
NONE_SHARE, NONE_MU, NONE_SIGMA = 0.05, 0.5, 0.05

# Camera variation: a few degrees of roll, a little zoom, and a horizontal stretch that mimics a body
# turned slightly away from the camera (foreshortening) or a slightly wrong aspect ratio.
MAX_ROLL_DEG = 7.0
MAX_ZOOM = 0.10
MAX_STRETCH = 0.12


def mirrored(landmarks: np.ndarray) -> np.ndarray:
    """Mirror image, with NaN rows (no person) left as they are."""
    return F.mirror(landmarks)


def camera_jitter(landmarks: np.ndarray, aspect: float, rng: np.random.Generator) -> np.ndarray:
    """[N, 33, 4] -> same poses seen by a slightly different camera (one random draw per frame).

    Works in isotropic coordinates (x scaled by the aspect) so a rotation is a true rotation, then maps back;
    visibility is kept.
    """
    lm = np.array(landmarks, dtype=np.float64)
    n = len(lm)
    xy = F.isotropic_xy(lm, aspect)
    centre = np.nanmean(xy, axis=1, keepdims=True)
    roll = np.radians(rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG, n))
    zoom = 1.0 + rng.uniform(-MAX_ZOOM, MAX_ZOOM, n)
    stretch = 1.0 + rng.uniform(-MAX_STRETCH, MAX_STRETCH, n)
    cos, sin = np.cos(roll), np.sin(roll)
    rel = xy - centre
    rel[..., 0] *= stretch[:, None]
    rot = np.stack([cos[:, None] * rel[..., 0] - sin[:, None] * rel[..., 1],
                    sin[:, None] * rel[..., 0] + cos[:, None] * rel[..., 1]], axis=-1)
    out_xy = centre + rot * zoom[:, None, None]
    lm[..., 0] = out_xy[..., 0] / aspect
    lm[..., 1] = out_xy[..., 1]
    return lm.astype(np.float32)


def positive_noise(feats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copy of [N, 32] features with ~50 % of each row's features moved by N(0, 0.025)."""
    mask = rng.random(feats.shape) < POSITIVE_SHARE
    return (feats + mask * rng.normal(0.0, POSITIVE_SIGMA, feats.shape)).astype(np.float32)


def none_noise(feats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copy of [N, 32] features with ~5 % of features (at least one per row) pushed by N(0.5, 0.05).

    Only the 28 geometric features are pushed: the four visibilities just say how the body is turned, and a
    changed visibility would be a real view of a real exercise, not a wrong pose.
    """
    geometric = F.NUM_FEATURES - 4
    mask = np.zeros(feats.shape, bool)
    mask[:, :geometric] = rng.random((len(feats), geometric)) < NONE_SHARE
    # The seed's share leaves many rows unchanged, which would be exact positives labelled "none".
    empty = np.flatnonzero(~mask.any(axis=1))
    mask[empty, rng.integers(0, geometric, len(empty))] = True
    out = feats + mask * rng.normal(NONE_MU, NONE_SIGMA, feats.shape)
    return out.astype(np.float32)


_ARM_CHAINS = ((F.L_SHOULDER, F.L_ELBOW, F.L_WRIST), (F.R_SHOULDER, F.R_ELBOW, F.R_WRIST))


def _view_and_facing(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shoulder width over torso length (wide: facing the camera, narrow: side view) and facing sign in x."""
    pts = F.body_points(xy)
    torso = np.linalg.norm(pts["neck"] - pts["hip"], axis=-1) + 1e-6
    width = np.abs(xy[:, F.L_SHOULDER, 0] - xy[:, F.R_SHOULDER, 0]) / torso
    facing = np.sign(xy[:, F.NOSE, 0] - pts["neck"][:, 0])
    return width, facing


def borrow_arms(target: np.ndarray, target_aspect: float, donors: np.ndarray, donor_aspect: np.ndarray,
                rng: np.random.Generator, nearest: int = 25) -> np.ndarray:
    """Give arm-less landmark rows (no elbows or wrists) the arms of real frames of the same exercise.

    The form-labelled squat and lunge rows have legs, hips, shoulders and nose only. Each row borrows the
    shoulder->elbow->wrist vectors (in torso lengths) of a random donor among the `nearest` of similar view
    (shoulder width / torso), turned to face the same way; the donor's elbow and wrist visibility comes along.
    """
    out = np.array(target, dtype=np.float32)
    txy = F.isotropic_xy(out, target_aspect)
    dxy = np.array(donors[..., :2], dtype=np.float64)
    dxy[..., 0] *= np.asarray(donor_aspect, dtype=np.float64)[:, None]
    t_width, t_facing = _view_and_facing(txy)
    d_width, d_facing = _view_and_facing(dxy)
    t_torso = np.linalg.norm(F.body_points(txy)["neck"] - F.body_points(txy)["hip"], axis=-1)
    d_torso = np.linalg.norm(F.body_points(dxy)["neck"] - F.body_points(dxy)["hip"], axis=-1) + 1e-6
    for i in range(len(out)):
        close = np.argsort(np.abs(d_width - t_width[i]))[:nearest]
        d = int(rng.choice(close))
        flip = -1.0 if t_facing[i] * d_facing[d] < 0 else 1.0
        scale = t_torso[i] / d_torso[d]
        for shoulder, elbow, wrist in _ARM_CHAINS:
            # A flipped donor's left arm is seen where the target's right arm would be: swap sides too.
            s_d, e_d, w_d = (shoulder, elbow, wrist) if flip > 0 else \
                (F.MIRROR_INDEX[shoulder], F.MIRROR_INDEX[elbow], F.MIRROR_INDEX[wrist])
            upper = (dxy[d, e_d] - dxy[d, s_d]) * scale
            lower = (dxy[d, w_d] - dxy[d, e_d]) * scale
            upper[0] *= flip
            lower[0] *= flip
            e_xy = txy[i, shoulder] + upper
            w_xy = e_xy + lower
            out[i, elbow, :2] = (e_xy[0] / target_aspect, e_xy[1])
            out[i, wrist, :2] = (w_xy[0] / target_aspect, w_xy[1])
            out[i, elbow, 2:] = (0.0, donors[d, e_d, 3])
            out[i, wrist, 2:] = (0.0, donors[d, w_d, 3])
    return out
