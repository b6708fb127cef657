"""`analyze CLIP --annotate OUT.mp4`: the clip with what the trainer saw drawn on it, so anyone can check a count.

Each frame gets the skeleton BlazePose found, the exercise and its phase, the running count, and a strip along
the bottom with the last seconds of the rep signal and the two levels a rep must cross (leave the start, be
back): a rep is counted where the signal crosses back, and a rep not counted shows why (it never crossed).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from common.exercises import NONE, display_name
from common.features import POSE_CONNECTIONS, as_array
from common.messages import Classification, CoachUpdate
from services.capture.sources import open_video

STRIP_S = 6.0          # seconds of signal shown in the strip
STRIP_SHARE = 0.22     # of the frame's height
GREEN, WHITE, YELLOW, RED, GREY = (80, 220, 80), (255, 255, 255), (40, 220, 255), (60, 60, 230), (160, 160, 160)


@dataclass
class Recording:
    """What the pipeline said about one clip, frame by frame (by capture time: media seconds)."""

    poses: dict[float, Classification] = field(default_factory=dict)
    updates: dict[float, CoachUpdate] = field(default_factory=dict)

    def add(self, msg) -> None:
        if isinstance(msg, Classification):
            self.poses[round(msg.ts_capture, 4)] = msg
        elif isinstance(msg, CoachUpdate):
            self.updates[round(msg.ts_capture, 4)] = msg


def render(video: str, out: str, recording: Recording) -> int:
    """Write the annotated clip; returns the number of frames written."""
    cap, fps, _ = open_video(video)
    pending = sorted(set(recording.updates) | set(recording.poses))
    writer = None
    update, pose = None, None
    signal: deque[tuple[float, float, list]] = deque()
    reps_at: list[float] = []
    written = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            t = written / fps
            # What the pipeline said up to this frame (a thinned clip has fewer answers than frames).
            while pending and pending[0] <= t + 1e-6:
                key = pending.pop(0)
                pose = recording.poses.get(key, pose)
                if key in recording.updates:
                    update = recording.updates[key]
                    if update.rep_signal is not None:
                        signal.append((key, update.rep_signal, list(update.rep_bands)))
                    if "rep" in update.events:
                        reps_at.append(key)
            while signal and signal[0][0] < t - STRIP_S:
                signal.popleft()
            if writer is None:
                h, w = image.shape[:2]
                writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                if not writer.isOpened():
                    raise OSError(f"cannot write {out}")
            _skeleton(image, pose)
            _panel(image, update)
            _strip(image, t, signal, reps_at)
            writer.write(image)
            written += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    return written


def _skeleton(image: np.ndarray, pose: Classification | None) -> None:
    if pose is None or not pose.landmarks:
        return
    h, w = image.shape[:2]
    lm = as_array(pose.landmarks)
    pts = [(int(x * w), int(y * h)) if v >= 0.5 else None for x, y, _, v in lm]
    for a, b in POSE_CONNECTIONS:
        if pts[a] and pts[b]:
            cv2.line(image, pts[a], pts[b], GREEN, max(2, w // 320), cv2.LINE_AA)
    for p in pts:
        if p:
            cv2.circle(image, p, max(2, w // 240), WHITE, -1, cv2.LINE_AA)


def _panel(image: np.ndarray, update: CoachUpdate | None) -> None:
    h, w = image.shape[:2]
    scale = max(0.5, w / 1000)
    exercise = update.exercise if update else NONE
    lines = [f"{display_name(exercise) if exercise != NONE else 'No exercise recognised'}"
             + (f"  ({update.phase})" if update and update.phase else "")]
    if update and exercise in update.reps:
        lines.append(f"reps {update.reps[exercise]}   set {update.set_number}: {update.reps_in_set}")
    elif update and exercise in update.hold_seconds:
        lines.append(f"held {update.hold_seconds[exercise]:.1f} s")
    totals = ", ".join(f"{display_name(k)} {v}" for k, v in (update.reps if update else {}).items())
    if totals:
        lines.append(totals)
    y = int(30 * scale)
    for text in lines:
        cv2.putText(image, text, (int(12 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, (0, 0, 0),
                    int(4 * scale) + 1, cv2.LINE_AA)
        cv2.putText(image, text, (int(12 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, WHITE,
                    max(1, int(2 * scale)), cv2.LINE_AA)
        y += int(32 * scale)


def _strip(image: np.ndarray, now: float, signal: deque, reps_at: list[float]) -> None:
    """The last STRIP_S seconds of the rep signal, with its bands and a mark at every counted rep."""
    h, w = image.shape[:2]
    top = int(h * (1 - STRIP_SHARE))
    strip = image[top:]
    strip[:] = (strip * 0.35).astype(np.uint8)
    if len(signal) < 2:
        return
    values = [v for _, v, _ in signal] + [b for _, _, bands in signal for b in bands if b is not None]
    low, high = min(values), max(values)
    span = max(high - low, 1e-6)

    def xy(t: float, v: float) -> tuple[int, int]:
        x = int((t - (now - STRIP_S)) / STRIP_S * (w - 1))
        y = top + int((1 - (v - low) / span) * (h - top - 8)) + 4
        return x, y

    for i in range(1, len(signal)):
        (t0, v0, b0), (t1, v1, b1) = signal[i - 1], signal[i]
        for k, colour in ((0, YELLOW), (1, RED)):
            if len(b0) > k and len(b1) > k and b0[k] is not None and b1[k] is not None:
                cv2.line(image, xy(t0, b0[k]), xy(t1, b1[k]), colour, 1, cv2.LINE_AA)
        cv2.line(image, xy(t0, v0), xy(t1, v1), WHITE, 2, cv2.LINE_AA)
    for t in reps_at:
        if now - STRIP_S <= t <= now:
            x, _ = xy(t, low)
            cv2.line(image, (x, top), (x, h - 1), GREEN, 2)
    cv2.putText(image, "rep signal  (yellow: leave start, red: back = rep)", (8, top + 18),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, GREY, 1, cv2.LINE_AA)
