"""Frames from the trainee's browser: validate each upload, then relay it to capture as a Frame, dropping when busy."""
from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict

import zmq

from common import bus as busmod
from common.messages import EndOfStream, Frame

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 << 20
MAX_SIDE = 4096
JPEG_MAGIC = b"\xff\xd8\xff"
SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
# Frames waiting in the PUSH socket: a few absorb jitter; more would only add latency to a live camera.
INGEST_HWM = 4
# Ended sessions remembered so a late upload (still in flight at stop) cannot start the session over.
ENDED_MEMORY = 1000

# Start-of-frame markers that carry the image size (baseline, progressive, lossless, arithmetic...).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}


class UploadError(ValueError):
    """An upload the UI refuses; `status` is the HTTP status, `code` a stable name for the page."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_json(self) -> dict:
        return {"error": self.code, "message": self.message}


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's start-of-frame header, or None if there is none before the scan."""
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no frame header came first
            return None
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in _SOF:
            if i + 9 > n or length < 7:
                return None
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        i += 2 + length
    return None


def validate_session(session: str) -> str:
    if not SESSION_ID.match(session or ""):
        raise UploadError(400, "bad_session", "session ids are 1-64 letters, digits and _.:- only")
    return session


def validate_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[int, int]:
    """Check an uploaded frame; returns its (width, height) or raises UploadError saying what is wrong."""
    if not data:
        raise UploadError(400, "empty", "the upload is empty; send the JPEG as the request body")
    if len(data) > max_bytes:
        raise UploadError(413, "too_large", f"frame of {len(data)} bytes; the limit is {max_bytes}")
    if not data.startswith(JPEG_MAGIC):
        raise UploadError(415, "not_jpeg", "the upload is not a JPEG (it must start with FF D8 FF)")
    size = jpeg_dimensions(data)
    if size is None:
        raise UploadError(400, "bad_jpeg", "the JPEG has no readable frame header")
    width, height = size
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise UploadError(400, "bad_size", f"frame of {width}x{height}; each side must be 1..{MAX_SIDE}")
    return width, height


class IngestRelay:
    """Wraps browser uploads as Frames and PUSHes them to capture without ever blocking a request.

    Flask serves requests on many threads and a ZeroMQ socket belongs to one, so every use of the socket
    is under a lock. A frame is numbered only when it was actually sent, so capture sees no gaps to wait on.
    """

    def __init__(self, settings, context: zmq.Context | None = None, hwm: int = INGEST_HWM):
        self._bus = busmod.Bus(settings, context)
        self._sock = self._bus.socket(zmq.PUSH, settings.capture_ingest, bind=False, hwm=hwm)
        self._lock = threading.Lock()
        self._next_seq: dict[str, int] = {}
        self._ended: OrderedDict[str, int] = OrderedDict()
        self.stats = {"ingest.frames": 0, "ingest.dropped": 0, "ingest.refused": 0, "ingest.ended": 0}

    def relay(self, session: str, jpeg: bytes, width: int, height: int, now: float) -> dict:
        """Send one frame; returns {seq, sent} (sent False: dropped because capture is busy or absent)."""
        with self._lock:
            if session in self._ended:
                self.stats["ingest.refused"] += 1
                raise UploadError(409, "ended", "this session has ended; start a new one")
            seq = self._next_seq.get(session, 0)
            frame = Frame(session=session, seq=seq, ts_capture=now, source="browser", live=True,
                          width=width, height=height, jpeg=jpeg)
            sent = busmod.send(self._sock, frame, block=False)
            if sent:
                self._next_seq[session] = seq + 1
                self.stats["ingest.frames"] += 1
            else:
                self.stats["ingest.dropped"] += 1
            return {"seq": seq if sent else None, "sent": sent}

    def end(self, session: str, now: float, reason: str = "stopped") -> dict:
        """Tell capture the session is over (idempotent: a second stop is answered, not re-sent)."""
        with self._lock:
            if session in self._ended:
                return {"frames": self._ended[session], "sent": False}
            frames = self._next_seq.pop(session, 0)
            eos = EndOfStream(session=session, seq=frames, ts_capture=now, reason=reason, frames=frames)
            # An end must not be lost behind a full queue: give it a moment to get through.
            sent = busmod.send(self._sock, eos, block=False)
            if not sent:
                poller = zmq.Poller()
                poller.register(self._sock, zmq.POLLOUT)
                if poller.poll(500):
                    sent = busmod.send(self._sock, eos, block=False)
            self._ended[session] = frames
            while len(self._ended) > ENDED_MEMORY:
                self._ended.popitem(last=False)
            self.stats["ingest.ended"] += 1
            if not sent:
                logger.warning("end of %s not delivered: capture is not reading", session)
            return {"frames": frames, "sent": sent}

    def close(self) -> None:
        with self._lock:
            self._bus.close()
