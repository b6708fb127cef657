"""Per-stage costs measured in-process (no sockets): messages, JPEG, pose, features, classifier, coach."""
from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np

from common import messages
from common.features import features
from common.messages import Classification, CoachUpdate, Frame, PoseResult
from services.capture.frames import prepare
from services.capture.sources import open_video
from services.pose.estimator import PoseEstimator, decode_jpeg, lighting


def time_calls(fn: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Milliseconds of each of `repeat` calls of fn."""
    out = []
    for _ in range(repeat):
        start = clock()
        fn()
        out.append((clock() - start) * 1000)
    return out


def iter_frames(path: str, count: int):
    """Up to `count` consecutive BGR frames of a video, one at a time (raw 720p frames are 2.7 MB each)."""
    cap, _, _ = open_video(path)
    try:
        for _ in range(count):
            ok, image = cap.read()
            if not ok:
                return
            yield image
    finally:
        cap.release()


def read_frames(path: str, count: int) -> list[np.ndarray]:
    return list(iter_frames(path, count))


def jpeg_and_pose(images: Iterable[np.ndarray], max_side: int = 640, quality: int = 80) -> dict[str, list[float]]:
    """Resize+JPEG encode, JPEG decode, lighting and BlazePose (tracking, as in a worker) per frame."""
    out: dict[str, list[float]] = {"jpeg_encode": [], "jpeg_decode": [], "lighting": [], "pose": [], "pose_cpu": []}
    estimator = PoseEstimator(max_sessions=1)
    try:
        for image in images:
            t0 = time.perf_counter()
            jpeg, _, _ = prepare(image, max_side, quality)
            t1 = time.perf_counter()
            decoded = decode_jpeg(jpeg)
            t2 = time.perf_counter()
            lighting(decoded)
            t3 = time.perf_counter()
            cpu = time.process_time()   # MediaPipe computes on its own threads: count the whole process
            _, pose_ms = estimator.estimate("bench", decoded)
            out["pose_cpu"].append((time.process_time() - cpu) * 1000)
            out["jpeg_encode"].append((t1 - t0) * 1000)
            out["jpeg_decode"].append((t2 - t1) * 1000)
            out["lighting"].append((t3 - t2) * 1000)
            out["pose"].append(pose_ms)
    finally:
        estimator.close()
    return out


def message_codec(jpeg: bytes, landmarks: np.ndarray, repeat: int = 2000) -> dict[str, list[float]]:
    """Encode and decode cost of the messages every frame produces (Frame with its JPEG, pose, ...)."""
    lm = np.ascontiguousarray(landmarks, np.float32).tobytes()
    samples = {
        "frame": Frame(session="bench", seq=1, ts_capture=1.0, width=640, height=360, source="file:x", jpeg=jpeg),
        "pose": PoseResult(session="bench", seq=1, ts_capture=1.0, width=640, height=360, landmarks=lm,
                           dark_share=0.1, bright_share=0.0, pose_ms=20.0, worker="w"),
        "classification": Classification(session="bench", seq=1, ts_capture=1.0, width=640, height=360,
                                          landmarks=lm, exercise="squat", exercise_conf=0.9, phase="start",
                                          phase_conf=0.8, raw_exercise="squat"),
        "coach_update": CoachUpdate(session="bench", seq=1, ts_capture=1.0, exercise="squat", phase="start",
                                    reps={"squat": 3}, set_number=1, reps_in_set=3, cues=["Go lower"],
                                    form_score=80.0, body_visible=True),
    }
    out: dict[str, list[float]] = {}
    for name, msg in samples.items():
        frames = messages.encode(msg, now=1.0)
        out[f"encode_{name}"] = time_calls(lambda: messages.encode(msg, now=1.0), repeat)
        out[f"decode_{name}"] = time_calls(lambda: messages.decode(frames), repeat)
    return out


def pose_messages(clip, session: str = "bench") -> list[PoseResult]:
    """The PoseResult messages a worker would have sent for a clip's cached landmarks."""
    out = []
    for i, lm in enumerate(clip.landmarks):
        has = bool(np.isfinite(lm).all())
        out.append(PoseResult(session=session, seq=i, ts_capture=i / clip.fps, width=clip.width, height=clip.height,
                              landmarks=lm.tobytes() if has else b"", dark_share=float(clip.dark_share[i]),
                              bright_share=float(clip.bright_share[i]), pose_ms=20.0, worker="bench"))
    return out


def classify_and_coach(clip, models_dir: str, db_path: str, settings, passes: int = 2) -> dict[str, list[float]]:
    """Per frame: the 32 features, the cascade, the whole classifier step and the coach step, on real poses.

    The classifier step is ClassifierProcessor.process (re-order, features, cascade, votes, message); the coach
    step is CoachProcessor.process with its SQLite store, exactly what the two services run per frame. Wall
    times include any time another process held the core; the `_cpu` figure does not.
    """
    from functools import partial

    from services.classifier.cascade import Cascade
    from services.classifier.processor import ClassifierProcessor
    from services.classifier.session import SessionClassifier
    from services.coach.processor import CoachProcessor
    from common.history import HistoryWriter

    cascade = Cascade.load(models_dir)
    classifier = ClassifierProcessor(partial(SessionClassifier, cascade, window=settings.vote_window),
                                     reorder_timeout_s=settings.reorder_timeout_s)
    store = HistoryWriter(db_path)
    coach = CoachProcessor(store, settings)
    out: dict[str, list[float]] = {"features": [], "cascade": [], "classifier": [], "coach": [],
                                   "features_classify_coach": [], "features_classify_coach_cpu": []}
    try:
        for n in range(passes):
            for pose in pose_messages(clip, session=f"bench-stages-{n}"):
                if pose.landmarks:
                    lm = np.frombuffer(pose.landmarks, np.float32).reshape(33, 4)
                    t0 = time.perf_counter()
                    feats = features(lm, clip.aspect)
                    t1 = time.perf_counter()
                    cascade.predict(feats)
                    t2 = time.perf_counter()
                    out["features"].append((t1 - t0) * 1000)
                    out["cascade"].append((t2 - t1) * 1000)
                cpu = time.thread_time()   # CPU time: what the step costs, whoever else wants the cores
                t0 = time.perf_counter()
                classified = classifier.process(pose, pose.ts_capture)
                t1 = time.perf_counter()
                for msg in classified:
                    coach.process(msg, pose.ts_capture)
                t2 = time.perf_counter()
                out["features_classify_coach_cpu"].append((time.thread_time() - cpu) * 1000)
                out["classifier"].append((t1 - t0) * 1000)
                out["coach"].append((t2 - t1) * 1000)
                out["features_classify_coach"].append((t2 - t0) * 1000)
    finally:
        store.close()
    return out
