"""Capture logic without sockets: number frames per session, relay browser frames, track offline credit."""
from __future__ import annotations

import logging

import numpy as np

from common.messages import EndOfStream, Frame, Message
from services.capture.frames import prepare

logger = logging.getLogger(__name__)

JPEG_MAGIC = b"\xff\xd8\xff"
MAX_JPEG_BYTES = 4 << 20


class SessionEncoder:
    """Turns the images of one session into numbered Frame messages."""

    def __init__(self, session: str, source: str, live: bool, max_side: int = 640, quality: int = 80):
        self.session, self.source, self.live = session, source, live
        self.max_side, self.quality = max_side, quality
        self.seq = 0

    def frame(self, image: np.ndarray, ts_capture: float) -> Frame:
        jpeg, width, height = prepare(image, self.max_side, self.quality)
        msg = Frame(session=self.session, seq=self.seq, ts_capture=ts_capture, width=width, height=height,
                    source=self.source, live=self.live, jpeg=jpeg)
        self.seq += 1
        return msg

    def end(self, reason: str, fps: float, ts_capture: float) -> EndOfStream:
        return EndOfStream(session=self.session, seq=self.seq, ts_capture=ts_capture, reason=reason,
                           frames=self.seq, fps=fps)


class IngestRelay:
    """Checks frames the UI relays from browsers and numbers them per session without gaps.

    The browser's own counter is not trusted: its frames may be dropped before they reach us, and a gap in
    sequence numbers would make the classifier wait for frames that will never come.
    """

    def __init__(self):
        self.next_seq: dict[str, int] = {}

    def relay(self, msg: Message) -> Message:
        if isinstance(msg, Frame):
            if not msg.session:
                raise ValueError("frame without a session id")
            if not msg.jpeg.startswith(JPEG_MAGIC) or len(msg.jpeg) > MAX_JPEG_BYTES:
                raise ValueError("frame is not a JPEG of sane size")
            seq = self.next_seq.get(msg.session, 0)
            self.next_seq[msg.session] = seq + 1
            return Frame(session=msg.session, seq=seq, ts_capture=msg.ts_capture, width=msg.width,
                         height=msg.height, source=msg.source or "browser", live=True, jpeg=msg.jpeg)
        if isinstance(msg, EndOfStream):
            seq = self.next_seq.pop(msg.session, 0)
            return EndOfStream(session=msg.session, seq=seq, ts_capture=msg.ts_capture, reason=msg.reason,
                               frames=seq, fps=msg.fps)
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
