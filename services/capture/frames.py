"""Frame preparation shared by every source: resize to the pose model's useful size, then JPEG."""
from __future__ import annotations

import cv2
import numpy as np


def resize_to(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longer side is at most max_side (never enlarge)."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def rate_slot(media_t, max_fps: float):
    """The 1/max_fps slot of media time a frame (or an array of frames) falls in: a camera of max_fps frames a second
    sends the first frame of each slot. Capture's --max-fps and every offline replay at a frame rate thin by it."""
    return np.floor(np.asarray(media_t, dtype=np.float64) * max_fps + 1e-6).astype(np.int64)


def prepare(image: np.ndarray, max_side: int, quality: int) -> tuple[bytes, int, int]:
    """BGR image -> (JPEG bytes, width, height) of the resized frame."""
    small = resize_to(image, max_side)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes(), small.shape[1], small.shape[0]
