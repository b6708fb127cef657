"""Frame sources: a video file (paced or as fast as wanted) and a local camera (always its newest frame)."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

logger = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A source that cannot be opened or read; the message is meant for the user."""


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, float, int]:
    """Open a video file, with a clear error for a missing or undecodable one. Returns (capture, fps, frames).

    Frames come upright whatever the file's rotation flag: phones store portrait videos sideways with a flag,
    and OpenCV applies it only when asked."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"video file not found: {path}")
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok or first is None:
        cap.release()
        raise SourceError(f"cannot decode video: {path} (not a video file, or a codec OpenCV lacks)")
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not fps or fps != fps or fps > 240:  # NaN or nonsense from some containers
        fps = 30.0
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return cap, float(fps), frames


class FileSource:
    """Frames of a video file with their media time (frame index / fps), optionally looped."""

    def __init__(self, path: str | Path, loop: bool = False):
        self.path = Path(path)
        self.loop = loop
        self.cap, self.fps, self.frame_count = open_video(self.path)

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        index = 0
        while True:
            ok, image = self.cap.read()
            if not ok:
                if self.loop and index > 0:
                    self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    ok, image = self.cap.read()
                if not ok:
                    return
            yield image, index / self.fps
            index += 1

    def close(self) -> None:
        self.cap.release()


class CameraSource:
    """A local camera read on its own thread, so the newest frame is always at hand (drivers buffer old ones)."""

    def __init__(self, index: int):
        self.index = index
        self.cap = cv2.VideoCapture(index)
        if not self.cap.isOpened():
            raise SourceError(f"camera {index} not available (no device, or in use by another program)")
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or 30.0
        self._latest: tuple[np.ndarray, float] | None = None
        self._taken = 0
        self._grabbed = 0
        self.skipped = 0   # camera frames replaced by a newer one before anyone took them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"camera-{index}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        failures = 0
        while not self._stop.is_set():
            ok, image = self.cap.read()
            if not ok:
                failures += 1
                if failures == 1:
                    logger.error("camera %d: read failed; retrying", self.index)
                time.sleep(min(1.0, 0.05 * failures))
                continue
            failures = 0
            with self._lock:
                self._latest = (image, time.time())
                self._grabbed += 1

    def poll(self) -> tuple[np.ndarray, float] | None:
        """The newest frame if one arrived since the last call, else None (never waits)."""
        with self._lock:
            if self._latest is None or self._grabbed == self._taken:
                return None
            self.skipped += self._grabbed - self._taken - 1
            self._taken = self._grabbed
            return self._latest

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.cap.release()
