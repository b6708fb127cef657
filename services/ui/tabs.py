"""Trainee tabs on their WebSocket: the frame header, flow control, and answers mapped back to the page's frames.

Pure apart from a lock (web threads and the hub thread both call in): no sockets, every time passed in.

A tab sends binary messages, each one frame: a 2-byte big-endian header length, a JSON header
{"id": frame id (the page's own number), "t": capture time in the page's clock (ms), "exercise": the
trainee's choice or ""}, then the JPEG. The relay numbers what it sends on (`seq`); the link remembers
seq -> frame id, so the pose that comes back on the classified channel answers the frame it was computed
from. Every frame gets exactly one answer: "answered" (with the pose) or "dropped" (with why).
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from common.exercises import EXERCISES
from services.ui.ingest import UploadError
from services.ui.sse import ClientQueue
from services.ui.state import Event, landmarks_for_page

MAX_HEADER_BYTES = 512
# A frame unanswered this long was lost on the way (a service restarted): the page hears so and sends on.
LOST_AFTER_S = 2.0
# A stopped tab keeps its socket this long for the last words (set summary, "workout saved").
LINGER_AFTER_STOP_S = 60.0


class TabsFull(Exception):
    """More live trainee sessions than this UI serves (ui_max_sessions)."""

    def __init__(self, live: int, limit: int):
        super().__init__(f"The trainer is full: {live} trainees are training now, the limit is {limit}. "
                         f"Please try again in a few minutes.")
        self.live = live
        self.limit = limit


@dataclass(frozen=True)
class FrameHeader:
    frame_id: int
    t_page: float
    exercise: str


def parse_upload(data: bytes) -> tuple[FrameHeader, bytes]:
    """One binary WebSocket message -> (header, JPEG); UploadError saying what is wrong."""
    if len(data) < 2:
        raise UploadError(400, "bad_header", "a frame message starts with a 2-byte header length")
    size = int.from_bytes(data[:2], "big")
    if size == 0 or size > MAX_HEADER_BYTES or len(data) < 2 + size:
        raise UploadError(400, "bad_header", f"frame header of {size} bytes (1..{MAX_HEADER_BYTES})")
    try:
        head = json.loads(data[2:2 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UploadError(400, "bad_header", "the frame header is not JSON") from None
    if not isinstance(head, dict):
        raise UploadError(400, "bad_header", "the frame header is not a JSON object")
    frame_id, t_page, exercise = head.get("id"), head.get("t", 0.0), head.get("exercise") or ""
    if not isinstance(frame_id, int) or isinstance(frame_id, bool) or not 0 <= frame_id < 2 ** 53:
        raise UploadError(400, "bad_header", "the frame header needs a whole-number id")
    if not isinstance(t_page, (int, float)) or isinstance(t_page, bool):
        raise UploadError(400, "bad_header", "the frame header's t must be a number")
    if not isinstance(exercise, str) or (exercise and exercise not in EXERCISES):
        raise UploadError(400, "bad_exercise", f"no exercise {str(exercise)[:40]!r}; one of {', '.join(EXERCISES)}")
    return FrameHeader(frame_id, float(t_page), exercise), data[2 + size:]


def pose_payload(msg) -> dict:
    """What a page draws from a Classification (the same shape as the SSE "pose" event)."""
    return {"seq": msg.seq, "exercise": msg.exercise, "phase": msg.phase, "width": msg.width, "height": msg.height,
            "lm": landmarks_for_page(msg.landmarks)}


@dataclass
class _InFlight:
    frame_id: int
    t_page: float
    received: float


class TabLink:
    """One tab's frames in flight and its outbox (coach events from the hub, plus the answers to its frames)."""

    def __init__(self, session: str, max_in_flight: int, now: float, outbox: ClientQueue | None = None):
        self.session = session
        self.max_in_flight = max(1, int(max_in_flight))
        self.outbox = outbox if outbox is not None else ClientQueue(session, "none")
        self.in_flight: OrderedDict[int, _InFlight] = OrderedDict()   # seq -> frame
        self.opened = now
        self.last_frame = now
        self.stopped = False
        self.stats = {"frames": 0, "answered": 0, "dropped": 0}
        self._lock = threading.Lock()

    def _say(self, kind: str, data: dict) -> None:
        self.outbox.push(0, Event(kind, data, self.session))

    def drop(self, frame_id: int, reason: str) -> None:
        with self._lock:
            self.stats["dropped"] += 1
        self._say("dropped", {"id": frame_id, "reason": reason})

    def admit(self, now: float) -> bool:
        """A frame arrived: True if it may go on (fewer than max_in_flight waiting for their pose)."""
        with self._lock:
            self.last_frame = now
            self.stats["frames"] += 1
            return len(self.in_flight) < self.max_in_flight

    def send(self, header: FrameHeader, now: float, relay) -> dict:
        """Send a frame with `relay()` -> {seq, sent} and remember it, both under the lock that answers take:
        the pose may come back (on the hub's thread) before relay() has even returned."""
        with self._lock:
            result = relay()
            if result["sent"]:
                self.in_flight[result["seq"]] = _InFlight(header.frame_id, header.t_page, now)
            return result

    def answered(self, seq: int, payload_of, now: float) -> bool:
        """The pose for `seq` came back; frames sent before it and still waiting will never be answered."""
        with self._lock:
            frame = self.in_flight.pop(seq, None)
            if frame is None:
                return False
            overtaken = [f for s, f in self.in_flight.items() if s < seq]
            for s in [s for s in self.in_flight if s < seq]:
                del self.in_flight[s]
            self.stats["answered"] += 1
            self.stats["dropped"] += len(overtaken)
        for f in overtaken:
            self._say("dropped", {"id": f.frame_id, "reason": "overtaken"})
        self._say("answered", {"id": frame.frame_id, "t": frame.t_page,
                               "server_ms": round((now - frame.received) * 1000.0, 1), **payload_of()})
        return True

    def skipped(self, seq: int) -> bool:
        with self._lock:
            frame = self.in_flight.pop(seq, None)
            if frame is not None:
                self.stats["dropped"] += 1
        if frame is not None:
            self._say("dropped", {"id": frame.frame_id, "reason": "skipped"})
        return frame is not None

    def expire(self, now: float, lost_after_s: float = LOST_AFTER_S) -> int:
        """Frames waiting longer than `lost_after_s` are answered "dropped" (lost); returns how many."""
        with self._lock:
            lost = [(s, f) for s, f in self.in_flight.items() if now - f.received > lost_after_s]
            for s, _ in lost:
                del self.in_flight[s]
            self.stats["dropped"] += len(lost)
        for _, f in lost:
            self._say("dropped", {"id": f.frame_id, "reason": "lost"})
        return len(lost)

    def idle_for(self, now: float) -> float:
        with self._lock:
            return now - self.last_frame


class TabRegistry:
    """The live trainee tabs of this UI, bounded in number; the hub routes pose answers through it."""

    def __init__(self, max_sessions: int, frames_in_flight: int, idle_s: float):
        self.max_sessions = max(1, int(max_sessions))
        self.frames_in_flight = max(1, int(frames_in_flight))
        self.idle_s = float(idle_s)
        self._links: dict[str, TabLink] = {}
        self._lock = threading.Lock()
        self.stats = {"tabs.opened": 0, "tabs.refused_full": 0, "tabs.expired_idle": 0}

    def open(self, session: str, now: float, outbox: ClientQueue | None = None) -> TabLink:
        """A tab starts streaming; TabsFull over the limit, ValueError if the session already has a tab."""
        with self._lock:
            if session in self._links:
                raise ValueError(f"session {session} is already streaming from another tab")
            if len(self._links) >= self.max_sessions:
                self.stats["tabs.refused_full"] += 1
                raise TabsFull(len(self._links), self.max_sessions)
            link = TabLink(session, self.frames_in_flight, now, outbox)
            self._links[session] = link
            self.stats["tabs.opened"] += 1
            self._share_out()
            return link

    def release(self, session: str) -> None:
        with self._lock:
            if self._links.pop(session, None) is not None:
                self._share_out()

    def _share_out(self) -> None:
        """Tabs streaming at once share the frames in flight (at least one each): a tab with more waiting than
        the others would get more of the pose workers, since the broker serves sessions in turn."""
        share = max(1, self.frames_in_flight // max(1, len(self._links)))
        for link in self._links.values():
            if link.max_in_flight != share:
                link.max_in_flight = share
                link.outbox.push(0, Event("limit", {"frames_in_flight": share}, link.session))

    def full(self) -> bool:
        with self._lock:
            return len(self._links) >= self.max_sessions

    @property
    def live(self) -> int:
        with self._lock:
            return len(self._links)

    def get(self, session: str) -> TabLink | None:
        with self._lock:
            return self._links.get(session)

    def answered(self, session: str, seq: int, payload_of, now: float) -> bool:
        link = self.get(session)
        return link.answered(seq, payload_of, now) if link is not None else False

    def skipped(self, session: str, seq: int) -> bool:
        link = self.get(session)
        return link.skipped(seq) if link is not None else False
