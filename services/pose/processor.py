"""Pose processor: Frame -> PoseResult (or FrameSkipped for an undecodable frame). No sockets."""
from __future__ import annotations


from common.messages import EndOfStream, Frame, FrameSkipped, Message, PoseResult
from services.pose.estimator import PoseEstimator, decode_jpeg, lighting


class PoseProcessor:
    def __init__(self, estimator: PoseEstimator, worker: str):
        self.estimator = estimator
        self.worker = worker
        self.stats = {"frames": 0, "no_person": 0, "undecodable": 0, "pose_ms_total": 0.0}

    def process(self, msg: Message) -> Message | None:
        if isinstance(msg, EndOfStream):
            self.estimator.end_session(msg.session)
            return None
        if not isinstance(msg, Frame):
            return None
        try:
            image = decode_jpeg(msg.jpeg)
        except ValueError as exc:
            self.stats["undecodable"] += 1
            return FrameSkipped(session=msg.session, seq=msg.seq, ts_capture=msg.ts_capture,
                                reason=f"bad frame: {exc}")
        landmarks, ms = self.estimator.estimate(msg.session, image)
        dark, bright = lighting(image)
        self.stats["frames"] += 1
        self.stats["pose_ms_total"] += ms
        if landmarks is None:
            self.stats["no_person"] += 1
        return PoseResult(session=msg.session, seq=msg.seq, ts_capture=msg.ts_capture,
                          width=image.shape[1], height=image.shape[0],
                          landmarks=b"" if landmarks is None else landmarks.tobytes(),
                          dark_share=dark, bright_share=bright, pose_ms=ms, worker=self.worker,
                          source=msg.source, live=msg.live, chosen_exercise=msg.chosen_exercise)
