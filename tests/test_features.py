"""The 32 features on synthetic poses whose geometry is known."""
import numpy as np
import pytest

from common import features as F


def standing(arms_up=False):
    lm = np.zeros((33, 4), np.float32)
    lm[:, 3] = 1.0
    pts = {F.NOSE: (0.5, 0.1), F.L_SHOULDER: (0.55, 0.2), F.R_SHOULDER: (0.45, 0.2), F.L_HIP: (0.55, 0.5),
           F.R_HIP: (0.45, 0.5), F.L_KNEE: (0.55, 0.7), F.R_KNEE: (0.45, 0.7), F.L_ANKLE: (0.55, 0.9),
           F.R_ANKLE: (0.45, 0.9), F.L_FOOT: (0.57, 0.92), F.R_FOOT: (0.43, 0.92),
           F.L_ELBOW: (0.6, 0.35), F.R_ELBOW: (0.4, 0.35), F.L_WRIST: (0.6, 0.5), F.R_WRIST: (0.4, 0.5)}
    if arms_up:
        pts.update({F.L_ELBOW: (0.6, 0.05), F.R_ELBOW: (0.4, 0.05), F.L_WRIST: (0.58, -0.1),
                    F.R_WRIST: (0.42, -0.1)})
    for i, (x, y) in pts.items():
        lm[i, :2] = (x, y)
    return lm


def test_distances_are_in_torso_lengths_and_scale_free():
    f = F.features(standing())
    names = dict(zip(F.FEATURE_NAMES, f))
    assert names["d_lshoulder_rshoulder"] == pytest.approx(0.1 / 0.3, rel=1e-4)
    assert names["d_lhip_lankle"] == pytest.approx(0.4 / 0.3, rel=1e-4)
    small = standing()
    small[:, :2] = 0.5 + (small[:, :2] - 0.5) * 0.5
    assert np.allclose(F.features(small), f, atol=1e-4)


def test_angles_over_360_and_visibility():
    names = dict(zip(F.FEATURE_NAMES, F.features(standing())))
    assert names["a_spine"] == pytest.approx(180 / 360, abs=1e-3)
    assert names["a_core_ground"] == pytest.approx(90 / 360, abs=1e-3)
    assert names["v_left_up"] == pytest.approx(1.0)
    up = dict(zip(F.FEATURE_NAMES, F.features(standing(arms_up=True))))
    assert up["d_core_lwrist"] > names["d_core_lwrist"] * 1.3


def test_batch_matches_single_and_mirror_swaps_sides():
    batch = np.stack([standing(), standing(arms_up=True)])
    assert F.features(batch).shape == (2, F.NUM_FEATURES)
    assert np.allclose(F.features(batch)[1], F.features(batch[1]))
    lm = standing()
    lm[F.L_WRIST, :2] = (0.9, 0.2)
    m = F.mirror(lm)
    assert m[F.R_WRIST, 0] == pytest.approx(0.1) and m[F.R_WRIST, 1] == pytest.approx(0.2)
    assert np.allclose(F.mirror(m), lm)


def test_joint_angles_and_aspect():
    ang = F.joint_angles(standing())
    assert ang["l_knee"] == pytest.approx(180.0, abs=1e-3)
    lm = standing()
    lm[F.L_ANKLE, :2] = (0.55 + 0.2, 0.7)  # shin horizontal: knee at 90 degrees
    assert F.joint_angles(lm)["l_knee"] == pytest.approx(90.0, abs=1e-3)
    # On a 2:1 frame the same normalised x offset is twice as wide.
    assert F.joint_angles(lm, aspect=2.0)["l_knee"] == pytest.approx(90.0, abs=1e-3)
    assert F.as_array(lm.tobytes()).shape == (33, 4)
    with pytest.raises(ValueError):
        F.as_array(b"\x00" * 12)
