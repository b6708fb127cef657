"""Capture logic without sockets: number local frames per session, check browser frames, track offline credit."""
from __future__ import annotations


import numpy as np

from common.exercises import EXERCISES
from common.jpeg import BadFrame, check_jpeg, check_session
from common.messages import EndOfStream, Frame, Message
from services.capture.frames import prepare


class SessionEncoder:
    """Turns the images of one session into numbered Frame messages."""

    def __init__(self, session: str, source: str, live: bool, max_side: int = 640, quality: int = 80,
                 chosen_exercise: str = ""):
        self.session, self.source, self.live, self.chosen_exercise = session, source, live, chosen_exercise
        self.max_side, self.quality = max_side, quality
        self.seq = 0

    def frame(self, image: np.ndarray, ts_capture: float) -> Frame:
        jpeg, width, height = prepare(image, self.max_side, self.quality)
        msg = Frame(session=self.session, seq=self.seq, ts_capture=ts_capture, width=width, height=height,
                    source=self.source, live=self.live, chosen_exercise=self.chosen_exercise, jpeg=jpeg)
        self.seq += 1
        return msg

    def end(self, reason: str, fps: float, ts_capture: float) -> EndOfStream:
        return EndOfStream(session=self.session, seq=self.seq, ts_capture=ts_capture, reason=reason,
                           frames=self.seq, fps=fps)


class IngestGate:
    """Checks what arrives on the ingest socket (frames the UI relays from browsers) before it goes on.

    The UI numbers a session's frames as it sends them (so nothing is numbered that was dropped); the gate
    passes them on unchanged, but a frame that is not a sane JPEG of a valid session never reaches a worker.
    """

    def check(self, msg: Message) -> Message:
        """The message to forward, or BadFrame / ValueError saying why it is refused."""
        if isinstance(msg, Frame):
            check_session(msg.session)
            width, height = check_jpeg(msg.jpeg)
            if msg.chosen_exercise and msg.chosen_exercise not in EXERCISES:
                raise BadFrame("bad_exercise", f"no exercise {msg.chosen_exercise[:40]!r}")
            msg.width, msg.height, msg.live = width, height, True
            msg.source = msg.source or "browser"
            return msg
        if isinstance(msg, EndOfStream):
            check_session(msg.session)
            return msg
        raise ValueError(f"unexpected {msg.TYPE} on the ingest socket")


class CreditWindow:
    """Offline flow control: at most `window` frames of a session between capture and the workers."""

    def __init__(self, window: int):
        self.available = window

    def take(self) -> bool:
        if self.available <= 0:
            return False
        self.available -= 1
        return True

    def give(self, n: int) -> None:
        self.available += n
