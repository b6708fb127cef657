"""The latest video frame per session and the last few spoken cues, shared between the hub and web requests."""
from __future__ import annotations

import threading
from collections import OrderedDict


# Cues kept for playback: a page fetches each one as it is announced, so only the newest matter.
AUDIO_KEPT = 32


class FrameStore:
    """Latest JPEG per session; viewers wait for a newer one (a slow viewer skips frames, never queues them)."""

    def __init__(self):
        self._frames: dict[str, tuple[int, bytes]] = {}
        self._cond = threading.Condition()

    def put(self, session: str, jpeg: bytes) -> None:
        with self._cond:
            version = self._frames.get(session, (0, b""))[0] + 1
            self._frames[session] = (version, jpeg)
            self._cond.notify_all()

    def latest(self, session: str) -> tuple[int, bytes | None]:
        with self._cond:
            version, jpeg = self._frames.get(session, (0, None))
            return version, jpeg

    def wait_newer(self, session: str, seen: int, timeout: float) -> tuple[int, bytes | None]:
        """The newest frame after version `seen`, or (seen, None) if none came within `timeout`."""
        with self._cond:
            self._cond.wait_for(lambda: self._frames.get(session, (0, b""))[0] > seen, timeout)
            version, jpeg = self._frames.get(session, (0, None))
            return (version, jpeg) if version > seen else (seen, None)

    def forget(self, session: str) -> None:
        with self._cond:
            self._frames.pop(session, None)
            self._cond.notify_all()

    def wake_all(self) -> None:
        with self._cond:
            self._cond.notify_all()


class AudioStore:
    """The newest rendered cues by id, so a page can fetch the WAV it was told about."""

    def __init__(self, kept: int = AUDIO_KEPT):
        self.kept = kept
        self._clips: OrderedDict[int, tuple[str, bytes]] = OrderedDict()
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, session: str, wav: bytes) -> int:
        with self._lock:
            clip_id = self._next_id
            self._next_id += 1
            self._clips[clip_id] = (session, wav)
            while len(self._clips) > self.kept:
                self._clips.popitem(last=False)
            return clip_id

    def get(self, clip_id: int) -> tuple[str, bytes] | None:
        with self._lock:
            return self._clips.get(clip_id)
