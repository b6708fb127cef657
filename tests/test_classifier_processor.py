"""Classifier processor with the committed models: re-ordering, no-person frames, skips and end-of-stream."""
from functools import partial

import numpy as np
import pytest

from common.config import Settings
from common.messages import Classification, EndOfStream, FrameSkipped, PoseResult
from services.classifier.processor import ClassifierProcessor
from tests.test_features import standing


@pytest.fixture(scope="module")
def processor_factory():
    from services.classifier.cascade import Cascade
    from services.classifier.session import SessionClassifier
    cascade = Cascade.load(Settings().models_dir)
    return lambda: ClassifierProcessor(partial(SessionClassifier, cascade), reorder_timeout_s=1.0)


def pose(seq, landmarks=b"", session="s"):
    return PoseResult(session=session, seq=seq, ts_capture=seq / 30, width=640, height=360,
                      landmarks=landmarks, source="file:clip.mp4", worker="w1")


def test_results_in_frame_order_with_pose_fields_kept(processor_factory):
    proc = processor_factory()
    lm = standing().tobytes()
    out = []
    for seq in (2, 0, 1, 4, 3):
        out += proc.process(pose(seq, lm), now=0.0)
    assert [m.seq for m in out] == [0, 1, 2, 3, 4]
    assert all(isinstance(m, Classification) for m in out)
    first = out[0]
    assert first.landmarks == lm and first.source == "file:clip.mp4" and first.width == 640
    assert first.exercise in ("none", "squat", "lunge", "jumping_jack", "push_up", "plank", "crunch")


def test_no_person_and_garbage_landmarks_classify_as_none(processor_factory):
    proc = processor_factory()
    bad = np.full((33, 4), np.nan, np.float32).tobytes()
    out = proc.process(pose(0), 0.0) + proc.process(pose(1, bad), 0.0) + proc.process(pose(2, b"\x00" * 10), 0.0)
    assert [m.exercise for m in out] == ["none"] * 3
    assert all(m.landmarks == b"" for m in out)
    assert proc.stats["no_person"] == 3 and proc.stats["bad_landmarks"] == 2


def test_skips_and_end_of_stream_pass_through_in_order_and_free_the_session(processor_factory):
    proc = processor_factory()
    lm = standing().tobytes()
    assert proc.process(EndOfStream(session="s", seq=3), 0.0) == []
    assert proc.process(FrameSkipped(session="s", seq=1, reason="dropped"), 0.0) == []
    out = proc.process(pose(2, lm), 0.0) + proc.process(pose(0, lm), 0.0)
    assert [(m.TYPE, m.seq) for m in out] == [("classification", 0), ("frame_skipped", 1),
                                              ("classification", 2), ("end_of_stream", 3)]
    assert "s" not in proc.sessions


def test_a_lost_frame_is_skipped_after_the_timeout(processor_factory):
    proc = processor_factory()
    lm = standing().tobytes()
    assert [m.seq for m in proc.process(pose(0, lm), 0.0)] == [0]
    assert proc.process(pose(2, lm), 0.1) == []
    assert proc.tick(0.5) == []
    assert [m.seq for m in proc.tick(1.2)] == [2]


def test_sessions_are_independent(processor_factory):
    proc = processor_factory()
    lm = standing().tobytes()
    a = proc.process(pose(0, lm, session="a"), 0.0)
    b = proc.process(pose(1, lm, session="b"), 0.0)
    assert [m.session for m in a] == ["a"] and b == []


def test_an_offline_gap_is_waited_for_longer_than_a_worker_timeout(processor_factory):
    proc = processor_factory()
    lm = standing().tobytes()
    offline = lambda seq: PoseResult(session="o", seq=seq, ts_capture=seq / 30, width=640, height=360,
                                     landmarks=lm, live=False)
    assert [m.seq for m in proc.process(offline(0), 0.0)] == [0]
    assert proc.process(offline(2), 0.1) == []
    assert proc.tick(2.0) == []                      # a live gap would have been skipped by now
    out = proc.process(offline(1), 3.5)              # the re-queued frame arrives from another worker
    assert [m.seq for m in out] == [1, 2] and all(not m.live for m in out)


def test_a_flood_of_one_frame_sessions_never_evicts_a_trainee():
    from services.classifier.processor import ClassifierProcessor
    from common.messages import FrameSkipped, PoseResult

    class Dummy:
        def classify(self, landmarks, aspect, *_):
            from services.classifier.session import ClassifierOutput
            return ClassifierOutput("none", 0.0, "", 0.0, "none")

    processor = ClassifierProcessor(Dummy, max_sessions=8)
    for seq in range(40):
        processor.process(PoseResult(session="trainee", seq=seq), 0.0)
    for i in range(500):   # a burst in which the trainee sends nothing
        processor.process(FrameSkipped(session=f"stranger-{i}", seq=0, reason="broker busy"), 1.0)
    assert len(processor.sessions) == 8 and "trainee" in processor.sessions
    out = processor.process(PoseResult(session="trainee", seq=40), 1.1)
    assert [m.seq for m in out] == [40]   # its order is kept: no wait for frames it sent long ago
