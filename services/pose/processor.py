"""Pose processor: Frame -> PoseResult, or FrameSkipped for a frame that is not a sane picture. No sockets."""
from __future__ import annotations

from common.bus import FaultLog
from common.jpeg import BadFrame, check_jpeg
from common.messages import EndOfStream, Frame, FrameSkipped, Message, PoseResult
from services.pose.estimator import PoseEstimator, decode_jpeg, lighting


class PoseProcessor:
    """Every frame gets an answer: its landmarks, or a skip saying why (the broker never waits on a bad frame)."""

    def __init__(self, estimator: PoseEstimator, worker: str, faults: FaultLog | None = None):
        self.estimator = estimator
        self.worker = worker
        self.faults = faults or FaultLog("pose")
        self.stats = {"frames": 0, "no_person": 0, "undecodable": 0, "pose_ms_total": 0.0}

    def process(self, msg: Message) -> Message | None:
        if isinstance(msg, EndOfStream):
            self.estimator.end_session(msg.session)
            return None
        if not isinstance(msg, Frame):
            return None
        try:
            # The header first: a JPEG declaring 65500x65500 is refused before a decoder allocates for it.
            check_jpeg(msg.jpeg)
            image = decode_jpeg(msg.jpeg)
        except BadFrame as exc:
            return self._skip(msg, exc.code, str(exc))
        except Exception as exc:  # cv2.error, ValueError, MemoryError...: whatever a decoder makes of crafted bytes
            return self._skip(msg, "undecodable", f"{exc.__class__.__name__}: {str(exc)[:120]}")
        try:
            landmarks, ms = self.estimator.estimate(msg.session, image, msg.ts_capture)
        except Exception as exc:
            # The session's tracker may be in a bad state: start it afresh with the next frame.
            self.estimator.end_session(msg.session)
            self.faults.record("pose_error", f"{exc.__class__.__name__}: {str(exc)[:120]}")
            return FrameSkipped(session=msg.session, seq=msg.seq, ts_capture=msg.ts_capture,
                                reason="pose estimation failed")
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

    def _skip(self, msg: Frame, kind: str, detail: str) -> FrameSkipped:
        """Counted by kind (`bad_frame.<kind>` in the heartbeat), logged once per kind, answered as bad."""
        self.stats["undecodable"] += 1
        self.faults.record(f"bad_frame.{kind}", f"session {msg.session[:64]!r} seq {msg.seq}: {detail}")
        return FrameSkipped(session=msg.session, seq=msg.seq, ts_capture=msg.ts_capture, reason=f"bad frame: {kind}")
