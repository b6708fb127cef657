"""Trainee tabs: the frame header, flow control and bounds (pure), then the WebSocket over a running UI."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import zmq
from simple_websocket import Client, ConnectionClosed
from simple_websocket.errors import ConnectionError as HandshakeRefused
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from common import bus
from common.messages import Classification, EndOfStream, Frame, FrameSkipped
from services.ui.ingest import UploadError
from services.ui.tabs import FrameHeader, TabLink, TabRegistry, TabsFull, parse_upload
from tests.test_ui_hub import TIMEOUT_S, Rig, make_jpeg


def frame_message(frame_id: int, jpeg: bytes, t: float = 0.0, exercise: str = "") -> bytes:
    head = json.dumps({"id": frame_id, "t": t, "exercise": exercise}).encode()
    return len(head).to_bytes(2, "big") + head + jpeg


class TabClient(Client):
    """simple-websocket's client, keeping what the server sent in the same read as its handshake answer.

    Client.handshake (simple-websocket 1.1) takes only the first wsproto event; a message that came in the same
    TCP read as the 101 (our hello, on a busy machine) stays parsed but undelivered until more bytes arrive, so a
    test waiting for the hello waited in vain (a clean-clone CI run failed so). Browsers have no such problem.
    """

    def handshake(self):
        super().handshake()
        if self.connected:
            self.connected = self._handle_events()   # the reader thread starts only after this returns


def connect(rig, session: str, origin: str | None = None) -> Client:
    headers = {"Origin": origin} if origin else None
    return TabClient.connect(f"ws://127.0.0.1:{rig.server.port}/ws/trainee/{session}", headers=headers)


def receive(ws, kind: str | None = None, timeout: float = TIMEOUT_S) -> dict:
    """The next message (of `kind`, skipping others such as health events)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        data = ws.receive(timeout=max(0.01, deadline - time.time()))
        if data is None:
            break
        message = json.loads(data)
        if kind is None or message["type"] == kind:
            return message
    raise AssertionError(f"no {kind or 'message'} within {timeout} s")


def answers(link: TabLink) -> list[tuple[str, dict]]:
    return [(e.name, e.data) for _, e in link.outbox.take(0)]


# ------------------------------------------------------------------------------------------------ pure parts

def test_frame_header_parsing():
    jpeg = make_jpeg()
    header, body = parse_upload(frame_message(7, jpeg, 1234.5, "squat"))
    assert header == FrameHeader(7, 1234.5, "squat") and body == jpeg
    for bad, code in [(b"", "bad_header"), (b"\x00\x05{}", "bad_header"), (b"\x00\x02[]", "bad_header"),
                      (frame_message(-1, jpeg), "bad_header"), (frame_message(1, jpeg, exercise="yoga"),
                                                                "bad_exercise"),
                      ((2000).to_bytes(2, "big") + b"{}" * 1000, "bad_header")]:
        with pytest.raises(UploadError) as err:
            parse_upload(bad)
        assert err.value.code == code


def test_frames_in_flight_are_bounded_and_every_frame_gets_one_answer():
    link = TabLink("web-a", max_in_flight=2, now=0.0)
    assert link.admit(0.0)
    link.send(FrameHeader(10, 0.0, ""), 0.0, lambda: {"seq": 0, "sent": True})
    assert link.admit(0.03)
    link.send(FrameHeader(11, 30.0, ""), 0.03, lambda: {"seq": 1, "sent": True})
    assert not link.admit(0.06)           # a third frame while two wait: refused
    link.drop(12, "in_flight")
    assert link.answered(1, lambda: {"lm": []}, 0.1)   # frame 10 (seq 0) will never come now
    assert answers(link) == [("dropped", {"id": 12, "reason": "in_flight"}),
                             ("dropped", {"id": 10, "reason": "overtaken"}),
                             ("answered", {"id": 11, "t": 30.0, "server_ms": 70.0, "lm": []})]
    assert link.admit(0.2)
    link.send(FrameHeader(13, 200.0, ""), 0.2, lambda: {"seq": 2, "sent": True})
    link.send(FrameHeader(14, 230.0, ""), 0.23, lambda: {"seq": 3, "sent": True})
    assert link.skipped(2) and not link.skipped(2)
    assert link.expire(1.0, lost_after_s=2.0) == 0 and link.expire(2.5, lost_after_s=2.0) == 1
    assert answers(link) == [("dropped", {"id": 13, "reason": "skipped"}), ("dropped", {"id": 14, "reason": "lost"})]
    assert link.stats == {"frames": 4, "answered": 1, "dropped": 4}


def test_live_sessions_are_bounded():
    tabs = TabRegistry(max_sessions=2, frames_in_flight=2, idle_s=30.0)
    tabs.open("web-a", 0.0)
    with pytest.raises(ValueError):
        tabs.open("web-a", 0.0)           # one tab per session
    tabs.open("web-b", 0.0)
    assert tabs.full()
    with pytest.raises(TabsFull) as err:
        tabs.open("web-c", 0.0)
    assert "full" in str(err.value) and err.value.limit == 2
    tabs.release("web-a")
    tabs.open("web-c", 0.0)
    assert tabs.stats["tabs.refused_full"] == 1 and tabs.live == 2


def test_tabs_streaming_at_once_share_the_frames_in_flight():
    tabs = TabRegistry(max_sessions=4, frames_in_flight=2, idle_s=30.0)
    a = tabs.open("web-a", 0.0)
    assert a.max_in_flight == 2
    b = tabs.open("web-b", 0.0)
    assert a.max_in_flight == b.max_in_flight == 1
    assert answers(a) == [("limit", {"frames_in_flight": 1})] and answers(b) == [("limit", {"frames_in_flight": 1})]
    tabs.release("web-b")
    assert a.max_in_flight == 2 and answers(a) == [("limit", {"frames_in_flight": 2})]


def test_idle_time_is_measured_from_the_last_frame():
    link = TabLink("web-a", 2, now=0.0)
    assert link.idle_for(10.0) == 10.0
    link.admit(8.0)
    assert link.idle_for(10.0) == 2.0


# ------------------------------------------------------------------------------------------------ over sockets

def test_the_test_client_keeps_a_message_sent_together_with_the_handshake():
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT_S)

    def server():   # answers the upgrade and sends the first message in one write, as a quick server may
        conn, _ = listener.accept()
        ws = WSConnection(ConnectionType.SERVER)
        while not any(isinstance(e, Request) for e in ws.events()):
            ws.receive_data(conn.recv(4096))
        conn.sendall(ws.send(AcceptConnection()) + ws.send(TextMessage(data='{"type": "hello"}')))
        done.wait(TIMEOUT_S)
        conn.close()

    done = threading.Event()
    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    url = f"ws://127.0.0.1:{listener.getsockname()[1]}/ws"
    try:
        client = TabClient.connect(url)
        assert receive(client, "hello", timeout=5) == {"type": "hello"}
    finally:
        done.set()
        thread.join(TIMEOUT_S)
        listener.close()


def make_small_rig(tmp_path, idle_s: float) -> Rig:
    rig = Rig(tmp_path, ui_max_sessions=1, ui_frames_in_flight=2, ui_session_idle_s=idle_s)
    rig.socks["capture_ingest"].setsockopt(zmq.RCVTIMEO, TIMEOUT_S * 1000)
    return rig


@pytest.fixture
def small_rig(tmp_path):
    # A tab is ended after 30 s without frames: no step of these tests, however busy the machine, waits that long.
    rig = make_small_rig(tmp_path, idle_s=30.0)
    yield rig
    rig.close()


@pytest.fixture
def quick_idle_rig(tmp_path):
    rig = make_small_rig(tmp_path, idle_s=1.0)
    yield rig
    rig.close()


def next_upload(rig):
    return bus.recv(rig.socks["capture_ingest"])[1]


def test_frames_go_to_capture_with_the_chosen_exercise_and_poses_answer_them(small_rig):
    rig = small_rig
    ws = connect(rig, "web-ws1")
    hello = receive(ws, "hello")
    assert hello["frames_in_flight"] == 2 and hello["session"] == "web-ws1"
    jpeg = make_jpeg(640, 360)
    ws.send(frame_message(100, jpeg, 5000.0, "squat"))
    ws.send(frame_message(101, jpeg, 5033.0, ""))
    first, second = next_upload(rig), next_upload(rig)
    assert isinstance(first, Frame) and (first.seq, first.chosen_exercise, first.jpeg) == (0, "squat", jpeg)
    assert (second.seq, second.chosen_exercise) == (1, "")
    ws.send(frame_message(102, jpeg, 5066.0))            # two already wait for their pose
    assert receive(ws, "dropped") == {"type": "dropped", "id": 102, "reason": "in_flight"}
    rig.publish("classified", Classification(session="web-ws1", seq=0, width=640, height=360, exercise="squat"))
    answer = receive(ws, "answered")
    assert answer["id"] == 100 and answer["t"] == 5000.0 and answer["seq"] == 0 and answer["exercise"] == "squat"
    rig.publish("classified", FrameSkipped(session="web-ws1", seq=1, reason="newer_frame"))
    assert receive(ws, "dropped") == {"type": "dropped", "id": 101, "reason": "skipped"}
    ws.send(json.dumps({"type": "stop"}))
    assert receive(ws, "session_end")["reason"] == "stopped"
    end = next_upload(rig)
    assert isinstance(end, EndOfStream) and end.reason == "stopped" and end.frames == 2
    ws.close()


def test_over_the_session_limit_the_ui_answers_429(small_rig):
    rig = small_rig
    url = f"http://127.0.0.1:{rig.server.port}/api/trainee/capacity"
    assert json.loads(urllib.request.urlopen(url, timeout=TIMEOUT_S).read()) == {"live": 0, "max": 1}
    first = connect(rig, "web-one")
    receive(first, "hello")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=TIMEOUT_S)
    assert err.value.code == 429 and json.loads(err.value.read())["error"] == "full"
    with pytest.raises(HandshakeRefused) as refused:
        connect(rig, "web-two")
    assert refused.value.status_code == 429
    first.close()


def test_an_idle_tab_is_ended_and_its_slot_freed(quick_idle_rig):
    rig = quick_idle_rig
    ws = connect(rig, "web-idle")
    receive(ws, "hello")
    ws.send(frame_message(1, make_jpeg()))
    assert isinstance(next_upload(rig), Frame)
    ended = receive(ws, "session_end", timeout=5)       # idle after 1 s without frames
    assert ended["reason"] == "idle" and "saved" in ended["message"]
    end = next_upload(rig)
    assert isinstance(end, EndOfStream) and end.reason == "idle"
    second = connect(rig, "web-next")             # the slot is free again
    assert receive(second, "hello")["session"] == "web-next"
    second.close()
    ws.close()


def test_a_closed_tab_ends_its_session_and_other_sites_cannot_connect(small_rig):
    rig = small_rig
    with pytest.raises(HandshakeRefused) as refused:
        connect(rig, "web-x", origin="https://evil.example")
    assert refused.value.status_code == 403
    ws = connect(rig, "web-close")
    receive(ws, "hello")
    ws.send(frame_message(1, make_jpeg()))
    assert isinstance(next_upload(rig), Frame)
    ws.close()
    end = next_upload(rig)
    assert isinstance(end, EndOfStream) and end.session == "web-close" and end.reason == "closed"
    with pytest.raises(ConnectionClosed):
        ws.send(frame_message(2, make_jpeg()))


def test_bad_frames_and_bad_session_ids_are_answered_not_relayed(small_rig):
    rig = small_rig
    bad = connect(rig, "bad%20id")
    assert receive(bad, "refused")["error"] == "bad_session"
    ws = connect(rig, "web-bad")
    receive(ws, "hello")
    ws.send(frame_message(5, b"GIF89a...."))
    assert receive(ws, "dropped") == {"type": "dropped", "id": 5, "reason": "not_jpeg"}
    ws.send(b"\x00")
    assert receive(ws, "dropped")["reason"] == "bad_header"
    ws.send(frame_message(6, make_jpeg()))
    assert next_upload(rig).seq == 0              # nothing refused was numbered
    ws.close()
