"""Readers of the shared landmark files (form-labelled rows, push-up sequences) as BlazePose [N, 33, 4] arrays.

A joint a file does not have is NaN (x, y, z and visibility), so no consumer can mistake it for a seen one;
`unseen_where_absent` turns that into what the coach's Body expects of a joint it cannot see.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from common.features import NUM_LANDMARKS

# BlazePose's landmark names, in index order (the column prefixes of the row files).
LANDMARK_NAMES = ["nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
                  "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
                  "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
                  "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
                  "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
                  "left_foot_index", "right_foot_index"]
# The 17 joints of the push-up sequences, in their order, as BlazePose indices.
SEQUENCE_JOINTS = [0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]


def read_rows(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A form-labelled-rows CSV (label, <landmark>_x/_y/_z/_v ...) -> (labels [N], landmarks float32 [N, 33, 4])."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    values = np.array([[float(v) for v in r[1:]] for r in rows], np.float32).reshape(len(rows), -1)
    lm = np.full((len(rows), NUM_LANDMARKS, 4), np.nan, np.float32)
    for col, name in enumerate(header[1:]):
        joint, axis = name.rsplit("_", 1)
        lm[:, LANDMARK_NAMES.index(joint), "xyzv".index(axis)] = values[:, col]
    return np.array([r[0] for r in rows], object), lm


def read_sequence(path: Path) -> np.ndarray:
    """A push-up sequence .npy ([frames, 17, 3]: x, y, visibility) -> float32 [frames, 33, 4] (no depth: z 0)."""
    seq = np.load(path)
    lm = np.full((len(seq), NUM_LANDMARKS, 4), np.nan, np.float32)
    lm[:, SEQUENCE_JOINTS, 0:2] = seq[:, :, 0:2]
    lm[:, SEQUENCE_JOINTS, 2] = 0.0
    lm[:, SEQUENCE_JOINTS, 3] = seq[:, :, 2]
    return lm


def unseen_where_absent(landmarks: np.ndarray) -> np.ndarray:
    """Absent joints as a joint BlazePose did not see: mid-picture, visibility 0 (what Body expects)."""
    out = np.array(landmarks, np.float32, copy=True)
    absent = np.isnan(out[..., 3])
    out[absent] = (0.5, 0.5, 0.0, 0.0)
    return out
