"""BlazePose's filters run on each frame's capture time, not on MediaPipe's simulated 30 frame/s clock."""
from __future__ import annotations

import numpy as np

from services.pose.estimator import (
    MP_CLOCK_ATTR,
    MP_CLOCK_STEP_US,
    PoseEstimator,
    _Session,
)


class FakeTracker:
    def __init__(self):
        setattr(self, MP_CLOCK_ATTR, 0)

    def process(self):
        # what mp.solutions' SolutionBase.process does before it stamps the frame
        setattr(self, MP_CLOCK_ATTR, getattr(self, MP_CLOCK_ATTR) + MP_CLOCK_STEP_US)
        return getattr(self, MP_CLOCK_ATTR)


def stamps(times):
    state = _Session(FakeTracker(), selector=None)
    out = []
    for t in times:
        state.set_clock(t)
        out.append(state.tracker.process())
    return out


def test_each_frame_is_stamped_with_its_capture_time():
    assert stamps([0.0, 0.1, 0.2, 1.7]) == [0, 100_000, 200_000, 1_700_000]
    # live frames carry wall-clock time
    assert stamps([1_764_000_000.0, 1_764_000_000.1])[1] - stamps([1_764_000_000.0])[0] == 100_000


def test_the_clock_never_goes_back():
    # a frame re-sent after a worker died, or two frames with one time: the graph refuses a step back
    out = stamps([1.0, 0.5, 1.0, 1.2])
    assert all(b > a for a, b in zip(out, out[1:]))
    assert out[-1] == 1_200_000


def test_without_times_the_tracker_keeps_mediapipes_clock():
    assert stamps([None, None, None]) == [MP_CLOCK_STEP_US, 2 * MP_CLOCK_STEP_US, 3 * MP_CLOCK_STEP_US]


def test_the_pinned_mediapipe_has_the_clock_the_estimator_sets():
    # If a MediaPipe upgrade renames it, frames silently fall back on the 30 frame/s clock: fail here instead.
    estimator = PoseEstimator(max_sessions=1)
    try:
        blank = np.zeros((240, 320, 3), np.uint8)
        for t in (5.0, 5.1, 5.2):
            estimator.estimate("s", blank, t)
        tracker = estimator._sessions["s"].tracker
        assert getattr(tracker, MP_CLOCK_ATTR) == 5_200_000
        estimator.estimate("s", blank, 5.1)   # back in time: stamped just after the last frame, no error
        assert getattr(tracker, MP_CLOCK_ATTR) == 5_200_001
    finally:
        estimator.close()
