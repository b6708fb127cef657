"""One trainee tab's WebSocket (flask-sock): frames up, answers and coach events down, until stop, idle or close.

Messages down are JSON objects with a "type": hello (the session's start state and the flow-control limit),
limit (a new flow-control limit: tabs streaming at once share it),
answered / dropped (one per frame the tab sent, by its frame id), the hub's events for this session (coach,
cue, audio, ended, health, session), refused (full, bad session) and session_end (stopped, idle). Text messages up
are JSON too: {"type": "stop"} ends the session (its workout is saved); the socket stays open a little for
the last words. A closed socket ends the session the same way.
"""
from __future__ import annotations

import json
import logging
import threading
import time

from simple_websocket import ConnectionClosed

from services.ui.ingest import UploadError, validate_session, validate_upload
from services.ui.sse import finite
from services.ui.state import Event
from services.ui.tabs import LINGER_AFTER_STOP_S, TabsFull, parse_upload

logger = logging.getLogger(__name__)

RECEIVE_POLL_S = 0.25   # how often a quiet tab checks for lost frames and idleness


def _json(data: dict) -> str:
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    except ValueError:   # NaN/inf somewhere (a service's stats in a health event): JSON has no such numbers
        return json.dumps(finite(data), separators=(",", ":"), allow_nan=False)


class _Sender:
    """Sends from two threads (the request thread and the outbox pump) without interleaving frames."""

    def __init__(self, ws):
        self.ws = ws
        self.lock = threading.Lock()
        self.closed = False

    def send(self, data: dict) -> bool:
        with self.lock:
            if self.closed:
                return False
            try:
                self.ws.send(_json(data))
                return True
            except (ConnectionClosed, OSError):
                self.closed = True
                return False


def serve(ws, session: str, hub, relay, settings, stopping: threading.Event, clock=time.time) -> None:
    """The whole life of one tab's socket (called by the flask-sock route in a request thread)."""
    sender = _Sender(ws)
    try:
        validate_session(session)
    except UploadError as exc:
        sender.send({"type": "refused", "error": exc.code, "message": exc.message})
        return
    if hub is None or relay is None:
        sender.send({"type": "refused", "error": "unavailable", "message": "the live trainer is not connected"})
        return
    client, snapshot = hub.subscribe(session, "none")
    try:
        link = hub.tabs.open(session, clock(), outbox=client)
    except TabsFull as exc:
        hub.broadcaster.unsubscribe(client)
        sender.send({"type": "refused", "error": "full", "message": str(exc), "status": 429})
        return
    except ValueError as exc:
        hub.broadcaster.unsubscribe(client)
        sender.send({"type": "refused", "error": "busy", "message": str(exc), "status": 409})
        return
    sender.send({"type": "hello", "session": session, "frames_in_flight": link.max_in_flight,
                 "idle_s": hub.tabs.idle_s, "snapshot": snapshot})
    pump = threading.Thread(target=_pump, args=(client, sender, stopping), name=f"ws-out-{session}", daemon=True)
    pump.start()
    ended = ""
    linger_until = None
    try:
        while not stopping.is_set() and not sender.closed:
            now = clock()
            if linger_until is not None and now > linger_until:
                break
            try:
                data = ws.receive(timeout=RECEIVE_POLL_S)
            except ConnectionClosed:
                break
            now = clock()
            if data is None:
                if not ended:
                    link.expire(now)
                    if link.idle_for(now) > hub.tabs.idle_s:
                        ended = "idle"
                        hub.tabs.stats["tabs.expired_idle"] += 1
                        _end(session, hub, relay, link, "idle", now)
                        sender.send({"type": "session_end", "reason": "idle",
                                     "message": f"No camera frames for {hub.tabs.idle_s:.0f} s: the session "
                                                f"was ended and your workout saved."})
                        linger_until = now + 5.0
                continue
            if isinstance(data, str):
                if _control(data) == "stop" and not ended:
                    ended = "stopped"
                    _end(session, hub, relay, link, "stopped", now)
                    sender.send({"type": "session_end", "reason": "stopped"})
                    linger_until = now + LINGER_AFTER_STOP_S
                continue
            if ended:
                continue   # a frame still on its way when the trainee pressed stop
            _frame(data, session, hub, relay, link, now)
    finally:
        if not ended:
            _end(session, hub, relay, link, "closed", clock())
        hub.tabs.release(session)
        hub.broadcaster.unsubscribe(client)   # also wakes the pump, which then returns
        pump.join(2.0)


def _control(text: str) -> str:
    try:
        message = json.loads(text)
    except ValueError:
        return ""
    return str(message.get("type", "")) if isinstance(message, dict) else ""


def _frame(data: bytes, session: str, hub, relay, link, now: float) -> None:
    try:
        header, jpeg = parse_upload(data)
    except UploadError as exc:
        link.outbox.push(0, Event("dropped", {"id": None, "reason": exc.code, "message": exc.message}, session))
        return
    try:
        width, height = validate_upload(jpeg)
    except UploadError as exc:
        link.drop(header.frame_id, exc.code)
        return
    if not link.admit(now):
        link.drop(header.frame_id, "in_flight")   # the page sent more than it was allowed to have waiting
        return
    try:
        result = link.send(header, now, lambda: relay.relay(session, jpeg, width, height, now,
                                                             chosen_exercise=header.exercise))
    except UploadError as exc:   # the session id was used before and has ended
        link.drop(header.frame_id, exc.code)
        return
    if not result["sent"]:
        link.drop(header.frame_id, "busy")
        return
    if result["seq"] == 0:
        hub.note_browser_session(session, width, height)
    hub.browser_frame(session, jpeg, width, height)


def _end(session: str, hub, relay, link, reason: str, now: float) -> None:
    try:
        relay.end(session, now, reason=reason)
    except Exception:   # the relay closing under us at shutdown must not hide the socket's own end
        logger.exception("ending %s", session)
    hub.tabs.release(session)


def _pump(client, sender: _Sender, stopping: threading.Event) -> None:
    """Hub events and frame answers for this tab, sent as they come."""
    while not stopping.is_set() and not client.closed and not sender.closed:
        for _, event in client.take(1.0):
            if not sender.send({"type": event.name, **event.data} if event.name in ("answered", "dropped", "limit")
                               else {"type": event.name, "data": event.data}):
                return
