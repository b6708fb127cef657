"""Server-Sent Events: wire formatting and a fan-out where a slow client loses old events, never blocks the hub."""
from __future__ import annotations

import json
import math
import threading
from collections import deque

from services.ui.state import Event


# Events a client may have waiting; beyond this the oldest are dropped (every event carries full state).
CLIENT_QUEUE = 256
# Instructor grids draw many small skeletons: a few poses a second per session are plenty.
LITE_POSE_INTERVAL_S = 0.2


def format_sse(event: str, data, event_id: int | None = None) -> str:
    """One SSE message. Data is JSON on one line, so it can never contain the blank line that ends a message."""
    if "\n" in event or "\r" in event:
        raise ValueError("event name with a line break")
    try:
        payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN/inf somewhere (e.g. a service's stats): JSON has no such numbers
        payload = json.dumps(finite(data), separators=(",", ":"), allow_nan=False)
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {payload}")
    return "\n".join(lines) + "\n\n"


def finite(value):
    """The same value with NaN and infinities replaced by None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def format_comment(text: str = "keepalive") -> str:
    """A comment line: keeps proxies and the browser from timing the stream out."""
    return f": {text}\n\n"


class ClientQueue:
    """Events waiting for one SSE client, with its filter."""

    def __init__(self, session: str | None = None, poses: str = "all", maxlen: int = CLIENT_QUEUE):
        if poses not in ("all", "lite", "none"):
            raise ValueError(f"poses must be all, lite or none, not {poses!r}")
        self.session = session
        self.poses = poses
        self.dropped = 0
        self._events: deque[tuple[int, Event]] = deque(maxlen=maxlen)
        self._cond = threading.Condition()
        self._last_pose: dict[str, float] = {}
        self.closed = False

    def accepts(self, event: Event, now: float) -> bool:
        if self.session is not None and event.session and event.session != self.session:
            return False
        if event.name == "pose":
            if self.poses == "none":
                return False
            if self.poses == "lite":
                if now - self._last_pose.get(event.session, -1e9) < LITE_POSE_INTERVAL_S:
                    return False
                self._last_pose[event.session] = now
        return True

    def push(self, event_id: int, event: Event) -> None:
        with self._cond:
            if len(self._events) == self._events.maxlen:
                self.dropped += 1
            self._events.append((event_id, event))
            self._cond.notify()

    def take(self, timeout: float) -> list[tuple[int, Event]]:
        """Everything waiting, or [] after `timeout` seconds without an event."""
        with self._cond:
            if not self._events and not self.closed:
                self._cond.wait(timeout)
            out = list(self._events)
            self._events.clear()
            return out

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class Broadcaster:
    """Fans events out to every subscribed client (called from the hub thread; clients read from theirs)."""

    def __init__(self, maxlen: int = CLIENT_QUEUE):
        self.maxlen = maxlen
        self._clients: set[ClientQueue] = set()
        self._lock = threading.Lock()
        self._next_id = 1
        self.published = 0

    def subscribe(self, session: str | None = None, poses: str = "all") -> ClientQueue:
        client = ClientQueue(session, poses, self.maxlen)
        with self._lock:
            self._clients.add(client)
        return client

    def unsubscribe(self, client: ClientQueue) -> None:
        client.close()
        with self._lock:
            self._clients.discard(client)

    def publish(self, event: Event, now: float) -> None:
        with self._lock:
            event_id = self._next_id
            self._next_id += 1
            self.published += 1
            clients = list(self._clients)
        for client in clients:
            if client.accepts(event, now):
                client.push(event_id, event)

    def close_all(self) -> None:
        with self._lock:
            clients = list(self._clients)
            self._clients.clear()
        for client in clients:
            client.close()

    @property
    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)

    @property
    def dropped(self) -> int:
        with self._lock:
            return sum(c.dropped for c in self._clients)
