"""MediaPipe BlazePose on decoded frames: one tracker kept per session, least recently used evicted."""
from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections import OrderedDict

import cv2
import numpy as np

from common.features import NUM_LANDMARKS
from services.pose.selector import PersonSelector, SelectorConfig


def _malloc_trim():
    """glibc's malloc_trim, or None elsewhere (musl, macOS): the OS then reclaims freed memory its own way."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def release_tracker(tracker) -> None:
    """Closes a BlazePose graph and gives the freed heap back to the OS.

    A graph's buffers are allocated by C++ from many threads; freed, they stay in glibc's arenas as holes that the
    next graph does not fit exactly. Replacing one of 4 trackers 300 times grew a process by ~270 MB, ~120 MB with
    a trim after each close; in tests/test_flood.py the worker grew 72, -48 and 66 MB without it (once 177 MB, over
    the test's bound), 16, -19 and 1 MB with it. A trim takes ~6 ms, paid only when a session ends or is evicted
    (a new tracker's first frame costs ~115 ms anyway).
    """
    tracker.close()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


# Pixels darker / brighter than these (0..255 gray) count as crushed / blown out for lighting checks.
DARK_LEVEL, BRIGHT_LEVEL = 30, 235


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> BGR image; ValueError for anything that is not a decodable image."""
    if not data:
        raise ValueError("empty frame")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ValueError("undecodable JPEG")
    return image


def lighting(image: np.ndarray) -> tuple[float, float]:
    """Share of very dark and very bright pixels (on a 1/4-size gray copy: exact enough, 16x cheaper)."""
    small = cv2.resize(image, (max(1, image.shape[1] // 4), max(1, image.shape[0] // 4)),
                       interpolation=cv2.INTER_NEAREST)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    n = gray.size
    return float((gray < DARK_LEVEL).sum()) / n, float((gray > BRIGHT_LEVEL).sum()) / n


# mp.solutions runs its graph on a clock of its own that steps 1/30 s before every frame (SolutionBase.process).
# BlazePose's landmark smoothing and its tracking region are filters in time: fed 10 frames a second on that clock,
# they take a jumping jack's arms for three times slower than they are and smooth a rep away (at 10 frames/s real
# clips lost 1-2 reps of 12 and a lunge set gained or lost one). Each frame therefore sets the clock to its own
# capture time, one step back, before the solution steps it. (MediaPipe is pinned at 0.10.21; a tracker without
# that attribute keeps its own clock, and tests/test_pose_clock.py fails.)
MP_CLOCK_ATTR = "_simulated_timestamp"
MP_CLOCK_STEP_US = 33333


class _Session:
    """A session's tracker (BlazePose keeps the person from frame to frame) and its person selector."""

    def __init__(self, tracker, selector: PersonSelector):
        self.tracker = tracker
        self.selector = selector
        self.last_us: int | None = None   # the tracker's clock at the last frame

    def set_clock(self, t: float | None) -> None:
        """The tracker's clock at capture time `t` (seconds); never backwards (a graph refuses that)."""
        if t is None or not hasattr(self.tracker, MP_CLOCK_ATTR):
            return
        us = round(t * 1e6)
        if self.last_us is not None and us <= self.last_us:
            us = self.last_us + 1
        setattr(self.tracker, MP_CLOCK_ATTR, us - MP_CLOCK_STEP_US)
        self.last_us = us


def _to_array(result) -> np.ndarray | None:
    if result.pose_landmarks is None:
        return None
    out = np.empty((NUM_LANDMARKS, 4), np.float32)
    for i, lm in enumerate(result.pose_landmarks.landmark):
        out[i] = (lm.x, lm.y, lm.z, lm.visibility)
    return out


class PoseEstimator:
    """Keeps one `mp.solutions.pose.Pose` per session (tracking state is per person), never one per frame, and
    a `PersonSelector` that moves it to the person exercising when it follows a bystander."""

    def __init__(self, max_sessions: int = 16, model_complexity: int = 1, probe_frames: int = 0):
        import mediapipe as mp  # heavy import: only where poses are estimated
        self._mp_pose = mp.solutions.pose
        self.max_sessions = max_sessions
        self.model_complexity = model_complexity
        self.selector_config = SelectorConfig(probe_frames=probe_frames)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._prober = None   # one stateless single-image BlazePose, shared by the sessions' selectors

    def _new_tracker(self):
        return self._mp_pose.Pose(static_image_mode=False, model_complexity=self.model_complexity,
                                  smooth_landmarks=True, enable_segmentation=False,
                                  min_detection_confidence=0.5, min_tracking_confidence=0.5)

    def _probe(self, rgb: np.ndarray) -> np.ndarray | None:
        if self._prober is None:
            self._prober = self._mp_pose.Pose(static_image_mode=True, model_complexity=self.model_complexity,
                                              enable_segmentation=False, min_detection_confidence=0.5)
        return _to_array(self._prober.process(rgb))

    def _session(self, session: str) -> _Session:
        state = self._sessions.pop(session, None)
        if state is None:
            state = _Session(self._new_tracker(), PersonSelector(self._probe, self.selector_config))
            while len(self._sessions) >= self.max_sessions:
                _, old = self._sessions.popitem(last=False)
                release_tracker(old.tracker)
        self._sessions[session] = state
        return state

    def estimate(self, session: str, image: np.ndarray, t: float | None = None) -> tuple[np.ndarray | None, float]:
        """BGR image captured at `t` seconds (any origin, one per session; None: 1/30 s after the last frame) ->
        (float32 [33, 4] x, y, z, visibility, or None without a person; milliseconds)."""
        start = time.perf_counter()
        state = self._session(session)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False   # MediaPipe then takes the picture by reference (masked copies are new)
        state.set_clock(t)
        out = _to_array(state.tracker.process(state.selector.tracker_input(rgb)))
        if state.selector.observe(rgb, out):
            # The tracker followed a bystander: start afresh on this frame with them masked out.
            release_tracker(state.tracker)
            state.tracker = self._new_tracker()
            state.set_clock(t)   # a fresh graph takes any start; 1 us after the first try, as clocks never go back
            out = _to_array(state.tracker.process(state.selector.restarted_input(rgb)))
        return out, (time.perf_counter() - start) * 1000

    @property
    def trackers(self) -> int:
        return len(self._sessions)

    def end_session(self, session: str) -> None:
        state = self._sessions.pop(session, None)
        if state is not None:
            release_tracker(state.tracker)

    def close(self) -> None:
        for state in self._sessions.values():
            state.tracker.close()
        self._sessions.clear()
        if self._prober is not None:
            self._prober.close()
            self._prober = None
