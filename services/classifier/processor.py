"""Classifier processor: re-order poses per session, classify each frame, forward skips and end-of-stream."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from common.features import as_array
from common.messages import Classification, EndOfStream, FrameSkipped, Message, PoseResult
from services.classifier.reorder import ReorderBuffer


# A session that brought this many poses is a trainee's: when the table is full, newcomers go first.
ESTABLISHED_POSES = 30


@dataclass
class _SessionState:
    reorder: ReorderBuffer
    classifier: object
    last_seen: float = 0.0
    poses: int = 0


@dataclass
class ClassifierProcessor:
    """`process(msg, now)` / `tick(now)` -> messages for the coach, in frame order per session."""

    classifier_factory: Callable[[], object]
    reorder_timeout_s: float = 1.0
    # An offline frame is never dropped: one missing was held by a worker that died, and the broker re-queues
    # it after its worker timeout; wait for it rather than skip it.
    offline_timeout_s: float = 4.0
    session_idle_s: float = 300.0
    # Sessions kept at once: a new one beyond it forgets the one heard from longest ago (a flood of one-frame
    # sessions must not grow the classifier without end).
    max_sessions: int = 128
    sessions: dict[str, _SessionState] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=lambda: {"frames": 0, "no_person": 0, "bad_landmarks": 0,
                                                           "sessions_evicted": 0})

    def process(self, msg: Message, now: float) -> list[Message]:
        if not isinstance(msg, (PoseResult, FrameSkipped, EndOfStream)):
            return []
        state = self.sessions.get(msg.session)
        if state is None:
            if len(self.sessions) >= self.max_sessions:
                self._evict()
            live = getattr(msg, "live", True)
            timeout = self.reorder_timeout_s if live else max(self.reorder_timeout_s, self.offline_timeout_s)
            state = self.sessions[msg.session] = _SessionState(ReorderBuffer(timeout), self.classifier_factory())
        state.last_seen = now
        if isinstance(msg, PoseResult):
            state.poses += 1
        return self._classify_all(msg.session, state.reorder.push(msg, now))

    def _evict(self) -> None:
        """Forget the newcomer heard from longest ago (a flood of one-frame sessions replaces only its own), or
        else the session heard from longest ago."""
        newcomers = [s for s, st in self.sessions.items() if st.poses < ESTABLISHED_POSES]
        victim = min(newcomers or self.sessions, key=lambda s: self.sessions[s].last_seen)
        del self.sessions[victim]
        self.stats["sessions_evicted"] += 1

    def tick(self, now: float) -> list[Message]:
        out: list[Message] = []
        for session, state in list(self.sessions.items()):
            out += self._classify_all(session, state.reorder.poll(now))
            if session in self.sessions and now - state.last_seen > self.session_idle_s:
                del self.sessions[session]
        return out

    def _classify_all(self, session: str, released: list[Message]) -> list[Message]:
        out: list[Message] = []
        for msg in released:
            if isinstance(msg, PoseResult):
                out.append(self._classify(self.sessions[session].classifier, msg))
            else:
                out.append(msg)
                if isinstance(msg, EndOfStream):
                    self.sessions.pop(session, None)
                    break
        return out

    def _classify(self, classifier, pose: PoseResult) -> Classification:
        self.stats["frames"] += 1
        landmarks = None
        if pose.landmarks:
            try:
                landmarks = as_array(pose.landmarks)
                if not np.isfinite(landmarks).all():
                    raise ValueError("non-finite landmarks")
            except ValueError:
                self.stats["bad_landmarks"] += 1
                landmarks = None
        if landmarks is None:
            self.stats["no_person"] += 1
        aspect = pose.width / pose.height if pose.width > 0 and pose.height > 0 else 1.0
        out = classifier.classify(landmarks, aspect, pose.ts_capture, pose.chosen_exercise)
        result = Classification.of(pose, exercise=out.exercise, exercise_conf=float(out.exercise_conf),
                                   phase=out.phase or "", phase_conf=float(out.phase_conf),
                                   raw_exercise=out.raw_exercise)
        if landmarks is None:
            result.landmarks = b""   # unusable landmarks are no person, for everyone downstream
        return result
