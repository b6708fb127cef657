"""Frames from the trainee's browser: validate each upload, then relay it to capture as a Frame, dropping when busy."""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import zmq

from common import bus as busmod
from common.jpeg import MAX_JPEG_BYTES as MAX_UPLOAD_BYTES, BadFrame, check_jpeg, check_session
from common.messages import EndOfStream, Frame

logger = logging.getLogger(__name__)

# Frames waiting in the PUSH socket: a few absorb jitter; more would only add latency to a live camera.
INGEST_HWM = 4
# Ended sessions remembered so a late upload (still in flight at stop) cannot start the session over.
ENDED_MEMORY = 1000


class UploadError(ValueError):
    """An upload the UI refuses; `status` is the HTTP status, `code` a stable name for the page."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_json(self) -> dict:
        return {"error": self.code, "message": self.message}


def validate_session(session: str) -> str:
    try:
        return check_session(session)
    except BadFrame as exc:
        raise UploadError(400, exc.code, str(exc)) from None


def validate_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[int, int]:
    """Check an uploaded frame; returns its (width, height) or raises UploadError saying what is wrong."""
    try:
        return check_jpeg(data, max_bytes)
    except BadFrame as exc:
        status = {"too_large": 413, "not_jpeg": 415}.get(exc.code, 400)
        message = "the upload is empty; send the JPEG as the request body" if exc.code == "empty" else str(exc)
        raise UploadError(status, exc.code, message) from None


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

    def relay(self, session: str, jpeg: bytes, width: int, height: int, now: float,
              chosen_exercise: str = "") -> dict:
        """Send one frame; returns {seq, sent} (sent False: dropped because capture is busy or absent).

        `chosen_exercise` is what the trainee picked on the page ("": recognise it from the movement)."""
        with self._lock:
            if session in self._ended:
                self.stats["ingest.refused"] += 1
                raise UploadError(409, "ended", "this session has ended; start a new one")
            seq = self._next_seq.get(session, 0)
            frame = Frame(session=session, seq=seq, ts_capture=now, source="browser", live=True,
                          width=width, height=height, chosen_exercise=chosen_exercise, jpeg=jpeg)
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
