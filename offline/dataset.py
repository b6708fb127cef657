"""Labelled frames from the shared real data (clips, seed images, landmark rows and sequences) and the split."""
from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.config import PROJECT_ROOT, Settings
from common.exercises import EXERCISES, NONE, PHASES
from common.features import NUM_LANDMARKS
from offline import phase_labels
from offline.landmark_files import read_rows, read_sequence
from offline.labels import OTHER, ClipLabel, read_labels as read_labels_file

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(Settings.from_env().data_dir)
SEED_CACHE = PROJECT_ROOT / ".cache" / "seed_landmarks.npz"
SPLIT_SEED = 20251125
HELD_OUT_SHARE = 0.3

# Parts of clips whose content the labels.csv notes describe, checked by eye on contact sheets. Each entry
# is (from_s, to_s, label) and the first matching entry wins: NONE = a person is seen but not exercising
# (a negative example), SKIP = not usable (title cards, a person lying and talking in the start position),
# OWN = the clip's own exercise (frames still pass the posture and movement checks of phase_labels).
SKIP, OWN = "skip", "own"
SEGMENTS: dict[str, list[tuple[float, float, str]]] = {
    "PushUp-Counter/pushup.mp4": [(25.5, 28.5, NONE)],                                # talking head
    "lightweight-human-pose-e/crunches_isometric.mp4": [(5.0, 9.0, NONE),             # sitting, talking
                                                       (9.0, 27.3, SKIP)],            # lying, talking
    "lightweight-human-pose-e/crunches_all_view.mp4": [(26.5, math.inf, SKIP)],       # text cards
    "lightweight-human-pose-e/jumping_jacks_front.mp4": [(0.0, 11.0, SKIP)],          # title
    "lightweight-human-pose-e/lunges.mp4": [(0.0, 6.0, SKIP), (25.0, math.inf, SKIP)],  # title, logo
    "lightweight-human-pose-e/squats.mp4": [(0.0, 11.0, SKIP), (27.0, math.inf, SKIP)],  # title, fade
    "lightweight-human-pose-e/plank.mp4": [(5.5, 10.3, NONE),                         # kneeling
                                           (10.4, 20.3, OWN), (0.0, math.inf, SKIP)],
    "Fitness/lunges.mp4": [(0.0, 5.5, NONE)],                                         # unracking, walking back
}

# Push-up sequences that are the very clips of labels.csv (mean landmark difference 0.001 on every frame):
# they share the clip's source id so they can never sit on the other side of the split.
SEQUENCE_SAME_AS = {
    "correct/pushup_correct_001.npy": "computervision/pushup_correct_001.mp4",
    "incorrect/pushup_incorrect_001.npy": "computervision/pushup_incorrect_001.mp4",
}
# The sequences and landmark rows carry no frame size; their sibling clips are 640x360, and the body
# proportions of the plank rows match the plank clips at 16:9 (torso / upper arm 2.07 vs 1.56-2.07).
ASSUMED_ASPECT = 16 / 9
ASSUMED_FPS = 30.0
SEED_FOLDERS = {"crunches": "crunch", "jumping_jacks": "jumping_jack", "lunges": "lunge", "planks": "plank",
                "squats": "squat"}


class DataMissing(FileNotFoundError):
    """The shared data folder (or a part of it) is not there."""


@dataclass
class FrameSet:
    """Frames of one source (clip, image, sequence or row file): never split between train and held-out."""

    source: str
    kind: str                  # clip / seed_image / sequence / rows
    source_exercise: str       # the source's own label (incl. "other")
    landmarks: np.ndarray      # float32 [N, 33, 4], NaN rows without a person
    aspect: float
    fps: float
    exercise: np.ndarray       # object [N]: label for level 1 ("" = not used)
    phase: np.ndarray          # object [N]: "start" / "end" / "" (level 2)
    info: dict = field(default_factory=dict)

    @property
    def has_pose(self) -> np.ndarray:
        return ~np.isnan(self.landmarks[:, 0, 0])


def require(data_dir: Path) -> Path:
    data_dir = Path(data_dir)
    if not (data_dir / "clips" / "labels.csv").exists():
        raise DataMissing(f"no real data at {data_dir} (expected clips/labels.csv); the data lives in "
                          f"../shared/data next to the repository")
    return data_dir


def read_labels(data_dir: Path = DEFAULT_DATA_DIR) -> list[ClipLabel]:
    """The labelled clips of the shared data, one per file."""
    return list(read_labels_file(require(data_dir) / "clips" / "labels.csv").values())


# --- split ------------------------------------------------------------------------------------------------

def make_split(clips: list[ClipLabel], seed: int = SPLIT_SEED, share: float = HELD_OUT_SHARE,
               previous: dict | None = None) -> dict:
    """Held-out clips: ~30 % of each exercise (at least 1), drawn with a fixed seed.

    The split only ever grows: a clip already in `previous` (the split the models were built with) keeps its
    side, so figures stay comparable and nothing once held out leaks into training. Clips added since are
    drawn the same way among themselves (their own seeded draw per exercise). In the first split every
    'other' clip was held out; later 'other' clips are drawn like the exercises, so the recogniser also
    learns from real non-exercise footage.
    """
    known = set(previous["held_out"]) | set(previous["train"]) if previous else set()
    new = [c for c in clips if c.file not in known]
    held = {c.file for c in clips if previous and c.file in previous["held_out"]}
    for exercise in sorted({c.exercise for c in new}):
        files = sorted(c.file for c in new if c.exercise == exercise)
        if exercise == OTHER and not previous:
            held.update(files)
            continue
        salt = f"{seed}:{exercise}" if not previous else f"{seed}:{exercise}:{len(known)}"
        rng = np.random.default_rng(int(hashlib.sha1(salt.encode()).hexdigest()[:8], 16))
        count = max(1, round(share * len(files)))
        held.update(files[i] for i in sorted(rng.permutation(len(files))[:count]))
    procedure = (f"per exercise, round({share} x clips) (at least 1) drawn by a numpy permutation seeded "
                 f"with sha1('{seed}:<exercise>'); every '{OTHER}' clip of that first split is held out. Clips "
                 f"added later keep the side of the split they were first drawn into; new ones are drawn per "
                 f"exercise ('{OTHER}' included) with sha1('{seed}:<exercise>:<clips known before>'). Frames, "
                 f"mirrored and noisy copies of a held-out clip never reach training; seed images, landmark "
                 f"rows and push-up sequences are training-only, except sequences that are a held-out clip.")
    return {"procedure": procedure, "seed": seed, "held_out": sorted(held),
            "train": sorted(c.file for c in clips if c.file not in held)}


SPLIT_FILE = "split.json"   # in the models folder: which clips were held out of training


def write_split(split: dict, path: Path) -> None:
    path.write_text(json.dumps(split, indent=2) + "\n")


def read_split(models_dir: str | Path) -> dict | None:
    """The split stored with the models ({"held_out": [...], "train": [...], ...}), or None without one."""
    path = Path(models_dir) / SPLIT_FILE
    return json.loads(path.read_text()) if path.is_file() else None


# --- clips ------------------------------------------------------------------------------------------------

def segment_label(file: str, t: float) -> str:
    for start, end, label in SEGMENTS.get(file, []):
        if start <= t < end:
            return label
    return OWN


def label_clip(info: ClipLabel, landmarks: np.ndarray, aspect: float, fps: float) -> FrameSet:
    """Per-frame level-1 and level-2 labels of a real clip (see phase_labels for the procedure)."""
    n = len(landmarks)
    present = ~np.isnan(landmarks[:, 0, 0]) if n else np.zeros(0, bool)
    seg = np.array([segment_label(info.file, i / fps) for i in range(n)], dtype=object)
    exercise = np.full(n, "", dtype=object)
    phase = np.full(n, "", dtype=object)
    if info.exercise == OTHER:
        exercise[present] = NONE
    else:
        own = seg == OWN
        lm = np.where(own[:, None, None], landmarks, np.nan).astype(np.float32)
        labels = phase_labels.label_phases(info.exercise, lm, aspect, fps)
        exercise[labels.active & own] = info.exercise
        phase[labels.active & own] = labels.phase[labels.active & own]
    exercise[(seg == NONE) & present] = NONE
    return FrameSet(info.source, "clip", info.exercise, landmarks, aspect, fps, exercise, phase,
                    {"file": info.file, "reps": info.reps, "hold_seconds": info.hold_seconds})


def load_clip(info: ClipLabel, data_dir: Path, extract=None) -> FrameSet:
    """Labelled frames of one clip from the landmark cache (computed if missing: slow)."""
    if extract is None:
        from offline.landmark_cache import extract
    poses = extract(require(data_dir) / "clips" / info.file)
    return label_clip(info, poses.landmarks, poses.aspect, poses.fps)


# --- seed images ------------------------------------------------------------------------------------------

def seed_image_files(data_dir: Path) -> list[tuple[Path, str, str]]:
    """(path, exercise, phase) of the seed's screenshots ('' phase for planks)."""
    root = require(data_dir) / "seed" / "data" / "train_data"
    out = []
    for folder, exercise in sorted(SEED_FOLDERS.items()):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
                phase = path.parent.name if path.parent.name in PHASES else ""
                out.append((path, exercise, phase))
    return out


def _seed_landmarks(files: list[Path], cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose on each image exactly as a live worker's first frame (640 px JPEG, fresh tracker)."""
    key = hashlib.sha1("|".join(f"{p.name}:{p.stat().st_size}" for p in files).encode()).hexdigest()[:16]
    if cache is not None and cache.exists():
        z = np.load(cache)
        if str(z["key"]) == key:
            return z["landmarks"], z["aspect"]
    import cv2
    from services.capture.frames import prepare
    from services.pose.estimator import PoseEstimator, decode_jpeg
    estimator = PoseEstimator(max_sessions=1)
    marks, aspects = [], []
    try:
        for path in files:
            image = cv2.imread(str(path))
            jpeg, width, height = prepare(image, 640, 80)
            session = f"seed:{path}"  # a fresh tracker per image: the image has no previous frame
            lm, _ = estimator.estimate(session, decode_jpeg(jpeg))
            estimator.end_session(session)
            marks.append(lm if lm is not None else np.full((NUM_LANDMARKS, 4), np.nan, np.float32))
            aspects.append(width / height)
    finally:
        estimator.close()
    landmarks, aspect = np.array(marks, np.float32), np.array(aspects, np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, key=key, landmarks=landmarks, aspect=aspect)
    return landmarks, aspect


def load_seed_images(data_dir: Path, cache: Path | None = SEED_CACHE) -> list[FrameSet]:
    files = seed_image_files(data_dir)
    landmarks, aspects = _seed_landmarks([p for p, _, _ in files], cache)
    out = []
    for (path, exercise, phase), lm, aspect in zip(files, landmarks, aspects):
        if np.isnan(lm[0, 0]):
            logger.warning("no pose found in seed image %s", path.name)
            continue
        rel = path.relative_to(path.parents[2] if phase else path.parents[1])
        out.append(FrameSet(f"seed:{rel}", "seed_image", exercise, lm[None], float(aspect), 1.0,
                            np.array([exercise], object), np.array([phase], object)))
    return out


# --- landmark sequences and rows ---------------------------------------------------------------------------

def load_pushup_sequences(data_dir: Path) -> list[FrameSet]:
    """The 100 push-up sequences (x, y, visibility of 17 joints) as BlazePose arrays, phases from the elbows."""
    root = require(data_dir) / "landmarks" / "pushup-sequences"
    out = []
    for path in sorted(root.glob("*/*.npy")):
        lm = read_sequence(path)
        rel = f"{path.parent.name}/{path.name}"
        source = f"clip:{SEQUENCE_SAME_AS[rel]}" if rel in SEQUENCE_SAME_AS else f"sequence:{rel}"
        labels = phase_labels.label_phases("push_up", lm, ASSUMED_ASPECT, ASSUMED_FPS)
        exercise = np.where(labels.active, "push_up", "").astype(object)
        out.append(FrameSet(source, "sequence", "push_up", lm, ASSUMED_ASPECT, ASSUMED_FPS, exercise,
                            labels.phase, {"file": rel, "form": path.parent.name}))
    return out


def load_plank_rows(data_dir: Path) -> FrameSet:
    """Plank rows (correct, hips high, hips low: all planks) from the form-labelled set."""
    path = require(data_dir) / "landmarks" / "form-labelled-rows" / "plank_model" / "test.csv"
    form, lm = read_rows(path)
    exercise = np.full(len(lm), "plank", dtype=object)
    return FrameSet("rows:plank_model/test.csv", "rows", "plank", lm, ASSUMED_ASPECT, ASSUMED_FPS, exercise,
                    np.full(len(lm), "", dtype=object), {"form": form})


# Phase names of the form-labelled rows: squat up/down; lunge I(nit) / M(id) / D(own). Mid rows are lunges
# but, like the dead band of the clips, get no phase.
ROW_PHASES = {"up": "start", "down": "end", "I": "start", "M": "", "D": "end"}


def load_arm_less_rows(data_dir: Path) -> list[FrameSet]:
    """Squat and lunge rows (front and side views the clips lack); they have no arms, which the training
    side borrows from real frames (augment.borrow_arms) before computing features."""
    root = require(data_dir) / "landmarks" / "form-labelled-rows"
    out = []
    for exercise, files in (("squat", ("squat_model/train.csv", "squat_model/test.csv")),
                            ("lunge", ("lunge_model/stage.test.csv",))):
        labels, marks = zip(*(read_rows(root / f) for f in files))
        label, lm = np.concatenate(labels), np.concatenate(marks)
        phase = np.array([ROW_PHASES[x] for x in label], dtype=object)
        # One source per model folder: its train/test files are frames of the same recordings.
        out.append(FrameSet(f"rows:{files[0].split('/')[0]}", "rows", exercise, lm, ASSUMED_ASPECT, ASSUMED_FPS,
                            np.full(len(lm), exercise, dtype=object), phase, {"needs_arms": True,
                                                                              "row_labels": label}))
    return out


def load_all(data_dir: Path = DEFAULT_DATA_DIR, clips: list[ClipLabel] | None = None,
             progress=None) -> tuple[list[FrameSet], list[ClipLabel]]:
    """Every labelled source: clips (all of them; the split decides later), seed images, sequences, rows."""
    clips = read_labels(data_dir) if clips is None else clips
    sets = []
    for info in clips:
        sets.append(load_clip(info, data_dir))
        if progress:
            progress(1)
    sets += load_seed_images(data_dir)
    sets += load_pushup_sequences(data_dir)
    sets.append(load_plank_rows(data_dir))
    sets += load_arm_less_rows(data_dir)
    return sets, clips


def summary(sets: list[FrameSet]) -> dict:
    """Counts of labelled frames per kind and class (for the report and metadata)."""
    out: dict = {}
    for s in sets:
        kind = out.setdefault(s.kind, {"sources": 0, "frames": 0, "labelled": {}})
        kind["sources"] += 1
        kind["frames"] += len(s.exercise)
        for label in [*EXERCISES, NONE]:
            n = int((s.exercise == label).sum())
            if n:
                kind["labelled"][label] = kind["labelled"].get(label, 0) + n
    return out
