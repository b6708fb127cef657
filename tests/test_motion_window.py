"""The window of motion level 1 reads: descriptors in batches, percentiles and rhythm as numpy's own would give."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from services.classifier.motion_window import (FEATURE_NAMES, MIN_SPAN_S, WindowBuffer, _nan_percentiles, _rhythm,
                                               frame_descriptor, frame_descriptors, window_features)
from tests.test_phase_labels import ASPECT, squat_sequence


def test_percentiles_are_numpys_with_nans_anywhere():
    rng = np.random.default_rng(0)
    for _ in range(100):
        m = rng.normal(size=(int(rng.integers(1, 80)), 6))
        m[rng.random(m.shape) < rng.random()] = np.nan
        m[:, 0] = np.nan                                   # a column never seen
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanpercentile(m, [10, 50, 90], axis=0)
        assert np.allclose(_nan_percentiles(m, (10.0, 50.0, 90.0)), expected, equal_nan=True, rtol=0, atol=1e-12)


def test_a_batch_of_frames_is_described_as_each_frame_alone():
    poses, _ = squat_sequence(reps=2, frames_per_rep=20)
    batch = frame_descriptors(poses, ASPECT)
    assert np.array_equal(batch, np.array([frame_descriptor(p, ASPECT) for p in poses]), equal_nan=True)


def test_the_buffer_reads_the_window_of_its_frames_and_forgets_older_ones():
    poses, _ = squat_sequence(reps=3, frames_per_rep=36, idle_before=10)
    buffer = WindowBuffer()
    t = np.arange(len(poses)) / 30
    for i, (ti, pose) in enumerate(zip(t, poses)):
        buffer.push(float(ti), None if i % 7 == 3 else pose, ASPECT)   # some frames without a person
        if i == 10:
            assert buffer.features() is None                            # not MIN_SPAN_S of motion yet
    feats = buffer.features()
    assert feats.shape == (len(FEATURE_NAMES),)
    inside = t[-1] - t <= buffer.window_s
    present = np.array([i % 7 != 3 for i in range(len(poses))])[inside]
    d = np.full((inside.sum(), frame_descriptors(poses[:1], ASPECT).shape[1]), np.nan)
    d[present] = frame_descriptors(poses[inside][present], ASPECT)
    assert np.allclose(feats, window_features(t[inside], d, present), equal_nan=True)
    assert buffer.pose_span() >= MIN_SPAN_S and buffer.start() == pytest.approx(t[inside][present][0])


@pytest.mark.parametrize("fps", [30.0, 10.0])
def test_rhythm_finds_the_period_at_any_frame_rate(fps):
    t = np.arange(0, 2.5, 1 / fps)
    strength, period = _rhythm(t, np.sin(2 * np.pi * t / 0.8))     # a rep every 0.8 s
    assert strength > 0.5 and period == pytest.approx(0.8, abs=0.1)
    assert _rhythm(t, np.zeros_like(t)) == (0.0, 0.0)               # still: no rhythm
