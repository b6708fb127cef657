"""Which person is the trainee? BlazePose follows one person; a bystander (an instructor, a partner, someone
walking by) may be the one it latched on to. Every so often the frame is searched again with the tracked person
masked out; a second person found there is followed at that rate too, and when they are the one moving (doing
the exercise) while the tracked one stands still, the tracker is switched to them and the other is masked out.

Pure logic: the detector is passed in (`detect(image) -> landmarks or None`), so this runs without MediaPipe in
tests. Images are HxWx3 uint8 arrays; landmarks are float32 [33, 4] normalised x, y, z, visibility.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

logger = logging.getLogger(__name__)

# Joints whose travel says whether someone is exercising: shoulders, elbows, wrists, hips, knees, ankles.
MOVING_JOINTS = np.array([11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])
MASK_GREY = 127


@dataclass(frozen=True)
class SelectorConfig:
    probe_frames: int = 30          # search for another person every this many frames (0: never)
    early_probe_frames: int = 10    # ... this often during the first `early_frames`, so short clips get a say
    early_frames: int = 60
    samples: int = 3                # motion is the mean of this many probe-to-probe samples
    switch_ratio: float = 2.0       # the other person must move this many times as much as the tracked one ...
    min_motion: float = 0.15        # ... and at least this much (body heights per second at the key joints),
    still_motion: float = 0.30      # ... while the tracked one moves less than this (stands by). A trainee on
                                    # the move is never left, not even for their own reflection in a mirror.
    min_size: float = 0.5           # ... and be at least half as tall as the tracked one (a trainee is
                                    # not a small figure far behind, e.g. in a gym's mirror)
    cooldown_frames: int = 90       # no switch back and forth quicker than this
    lost_frames: int = 30           # nobody tracked this long: forget the bystander and the mask


def bounding_box(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel box [x0, y0, x1, y1] of a pose, widened by 10 % / 5 % and clipped to the image."""
    xs, ys = landmarks[:, 0] * width, landmarks[:, 1] * height
    x0, x1, y0, y1 = np.nanmin(xs), np.nanmax(xs), np.nanmin(ys), np.nanmax(ys)
    mx, my = 0.10 * (x1 - x0), 0.05 * (y1 - y0)
    return np.array([max(0.0, x0 - mx), max(0.0, y0 - my), min(float(width), x1 + mx), min(float(height), y1 + my)])


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box's area (1: one box inside the other)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / smaller) if smaller > 0 else 0.0


def masked(image: np.ndarray, box: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Copy of the image with a box painted flat grey (except where it overlaps `keep`)."""
    out = image.copy()
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    out[y0:y1, x0:x1] = MASK_GREY
    if keep is not None:
        k0, l0, k1, l1 = (int(round(v)) for v in keep)
        out[l0:l1, k0:k1] = image[l0:l1, k0:k1]
    return out


@dataclass
class _Person:
    """Snapshots of one person's key joints at probe frames, and how much they moved between them."""

    box: np.ndarray
    last: tuple[int, np.ndarray] | None = None          # (frame, key joints in pixels)
    rates: deque = field(default_factory=lambda: deque(maxlen=3))
    lying: bool = False                                  # torso nearer horizontal than vertical (floor work)

    def see(self, frame: int, landmarks: np.ndarray, width: int, height: int, fps: float) -> None:
        self.box = bounding_box(landmarks, width, height)
        shoulders = landmarks[[11, 12], :2].mean(axis=0) * (width, height)
        hips = landmarks[[23, 24], :2].mean(axis=0) * (width, height)
        dx, dy = np.abs(shoulders - hips)
        self.lying = bool(np.isfinite(dx) and dx > dy)
        joints = landmarks[MOVING_JOINTS, :2] * (width, height)
        body_height = max(1.0, self.box[3] - self.box[1])
        if self.last is not None and frame > self.last[0]:
            travel = np.nanmedian(np.linalg.norm(joints - self.last[1], axis=1)) / body_height
            if np.isfinite(travel):
                self.rates.append(travel * fps / (frame - self.last[0]))
        self.last = (frame, joints)

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def motion(self) -> float | None:
        return float(np.mean(self.rates)) if self.rates else None


class PersonSelector:
    """Per session: decides which picture the tracker is given (a bystander masked out) and when to restart it."""

    def __init__(self, detect: Callable[[np.ndarray], np.ndarray | None], config: SelectorConfig | None = None,
                 fps: float = 30.0):
        self.detect = detect
        self.config = config or SelectorConfig()
        self.fps = fps
        self.frame = -1
        self.tracked: _Person | None = None
        self.other: _Person | None = None
        self.masking = False            # the other person is a bystander: hidden from the tracker
        self.switches = 0
        self._last_switch = -10 ** 9
        self._unseen = 0

    def tracker_input(self, image: np.ndarray) -> np.ndarray:
        """The picture to give the tracker for the next frame."""
        self.frame += 1
        if self.masking and self.other is not None:
            return masked(image, self.other.box, None if self.tracked is None else self.tracked.box)
        return image

    def restarted_input(self, image: np.ndarray) -> np.ndarray:
        """After a switch: this frame again, for the restarted tracker, with the previous person masked out."""
        return masked(image, self.other.box, self.tracked.box) if self.other is not None else image

    def observe(self, image: np.ndarray, landmarks: np.ndarray | None) -> bool:
        """The tracker's result on this frame; True when the tracker must be restarted (switch to the other
        person, who is masked out no more while the previous one is from now on)."""
        c = self.config
        if c.probe_frames <= 0:        # probing off: nothing to follow, nothing to switch
            return False
        h, w = image.shape[:2]
        if landmarks is None:
            self._unseen += 1
            if self._unseen >= c.lost_frames:
                self.tracked, self.other, self.masking = None, None, False
            return False
        self._unseen = 0
        if self.tracked is None:
            self.tracked = _Person(bounding_box(landmarks, w, h))
        every = c.early_probe_frames if self.frame < c.early_frames else c.probe_frames
        if self.frame == 0 or self.frame % every:
            self.tracked.box = bounding_box(landmarks, w, h)
            return False
        self.tracked.see(self.frame, landmarks, w, h, self.fps)
        self._probe(image)
        return self._decide()

    def _probe(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        found = self.detect(masked(image, self.tracked.box))
        if found is None or not np.isfinite(found[:, :2]).all():
            self.other = None
            self.masking = False
            return
        box = bounding_box(found, w, h)
        if overlap(box, self.tracked.box) > 0.6:     # the tracked person again, through the mask's edge
            return
        if self.other is None or overlap(box, self.other.box) < 0.3:
            self.other = _Person(box)                # someone new (or the old one left and another came)
        self.other.see(self.frame, found, w, h, self.fps)

    def _decide(self) -> bool:
        c = self.config
        mine = self.tracked.motion
        theirs = None if self.other is None else self.other.motion
        logger.debug("frame %d: tracked moves %s, other %s", self.frame, mine, theirs)
        if mine is None or theirs is None or self.frame - self._last_switch < c.cooldown_frames:
            return False
        if theirs < c.min_motion or theirs < c.switch_ratio * mine or mine > c.still_motion:
            return False
        if self.tracked.lying:
            return False   # a still body on the floor is holding a plank (or resting between sets): still theirs
        if self.other.height < c.min_size * self.tracked.height:
            return False
        logger.info("switching to the person who moves (%.2f vs %.2f body heights/s)", theirs, mine)
        self.tracked, self.other = self.other, self.tracked
        self.masking = True
        self.switches += 1
        self._last_switch = self.frame
        return True
