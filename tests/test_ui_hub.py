"""The running UI over real sockets: messages published on the bus show up in SSE streams, MJPEG and JSON."""
import http.client
import io
import json
import math
import struct
import wave

import cv2
import numpy as np
import pytest
import zmq

from common import bus
from common.config import Settings
from common.messages import (Audio, Classification, CoachUpdate, Cue, Frame, HealthReport, Heartbeat,
                             SessionSummary)
from services.ui.server import UiServer

TIMEOUT_S = 10


def make_wav(seconds=0.1, rate=16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 8))) for i in range(int(seconds * rate))))
    return out.getvalue()


def make_jpeg(width=320, height=180) -> bytes:
    image = np.full((height, width, 3), 90, np.uint8)
    cv2.rectangle(image, (20, 20), (width - 20, height - 20), (0, 200, 255), 4)
    return cv2.imencode(".jpg", image)[1].tobytes()


class Rig:
    """XPUB sockets standing in for the services' publishers (XPUB tells us when the UI has subscribed)."""

    def __init__(self, tmp_path, **overrides):
        self.ctx = zmq.Context()
        self.socks = {}
        endpoints = {name: self._bind(zmq.XPUB, name) for name in
                     ("capture_preview", "classified", "coach", "audio", "health_out")}
        endpoints["health_in"] = self._bind(zmq.SUB, "health_in")
        self.socks["health_in"].setsockopt(zmq.SUBSCRIBE, b"")
        endpoints["capture_ingest"] = self._bind(zmq.PULL, "capture_ingest")
        self.settings = Settings(ui_port=0, db_path=str(tmp_path / "w.sqlite3"), heartbeat_s=0.2,
                                 **{**endpoints, **overrides})
        self.server = UiServer(self.settings, context=self.ctx, instance="test-ui").start()
        for name in ("capture_preview", "classified", "coach", "audio", "health_out"):
            sock = self.socks[name]
            sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_S * 1000)
            assert sock.recv()[:1] == b"\x01", f"the UI never subscribed to {name}"

    def _bind(self, kind, name) -> str:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind("tcp://127.0.0.1:*")
        self.socks[name] = sock
        return sock.getsockopt(zmq.LAST_ENDPOINT).decode()

    def publish(self, channel, msg):
        assert bus.send(self.socks[channel], msg, block=False)

    def get(self, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=TIMEOUT_S)
        conn.request("GET", path, headers=headers or {})
        return conn, conn.getresponse()

    def close(self):
        self.server.stop()
        for sock in self.socks.values():
            sock.close(linger=0)
        self.ctx.term()


class SseReader:
    def __init__(self, rig, path):
        self.conn, self.response = rig.get(path)
        assert self.response.status == 200
        assert self.response.getheader("Content-Type").startswith("text/event-stream")

    def next(self):
        """The next event as (name, data); comments and retry lines are skipped; None at end of stream."""
        name, data = None, None
        while True:
            line = self.response.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and name is not None:
                return name, data

    def until(self, predicate, limit=200):
        seen = []
        for _ in range(limit):
            event = self.next()
            assert event is not None, f"stream ended; saw {seen}"
            seen.append(event)
            if predicate(*event):
                return seen
        raise AssertionError(f"no matching event in {[n for n, _ in seen]}")

    def close(self):
        self.conn.close()


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_session_stream_carries_poses_coach_cues_and_audio_of_that_session_only(rig):
    stream = SseReader(rig, "/api/stream?session=web-s1&poses=all")
    name, snapshot = stream.next()
    assert name == "snapshot" and snapshot["session"] is None and snapshot["sessions"] == []
    lm = np.random.default_rng(1).uniform(0.2, 0.8, (33, 4)).astype(np.float32)
    rig.publish("classified", Classification(session="web-s1", seq=1, width=640, height=480,
                                             landmarks=lm.tobytes(), exercise="squat", phase="end"))
    rig.publish("coach", CoachUpdate(session="web-s2", exercise="lunge", reps={"lunge": 9}))
    rig.publish("coach", CoachUpdate(session="web-s1", exercise="squat", reps={"squat": 2}, set_number=1,
                                     reps_in_set=2, cues=["Go lower"]))
    rig.publish("coach", Cue(session="web-s1", text="Go lower"))
    wav = make_wav()
    rig.publish("audio", Audio(session="web-s1", text="Two", kind="count", duration_s=0.1, wav=wav))
    seen = stream.until(lambda n, d: n == "audio")
    by_name = {n: d for n, d in seen}
    assert all(d.get("session") in ("web-s1", "", None) for _, d in seen), "another session leaked in"
    assert by_name["pose"]["exercise"] == "squat" and len(by_name["pose"]["lm"]) == 33
    assert by_name["coach"]["count"] == 2 and by_name["coach"]["cues"] == ["Go lower"]
    assert by_name["cue"]["text"] == "Go lower"
    conn, audio = rig.get(by_name["audio"]["url"])
    assert audio.status == 200 and audio.getheader("Content-Type") == "audio/wav" and audio.read() == wav
    conn.close()
    # A page opened now starts from the current state.
    conn, state = rig.get("/api/state?session=web-s1")
    body = json.loads(state.read())
    conn.close()
    assert body["session"]["count"] == 2 and {c["session"] for c in body["sessions"]} == {"web-s1"}
    stream.close()


def test_instructor_stream_sees_every_session_and_its_end(rig):
    rig.publish("coach", CoachUpdate(session="web-a", exercise="squat", reps={"squat": 1}))
    stream = SseReader(rig, "/api/stream?poses=lite")
    stream.until(lambda n, d: n == "snapshot" or (n == "coach" and d["session"] == "web-a"))
    rig.publish("coach", CoachUpdate(session="web-b", exercise="plank", hold_seconds={"plank": 5.0}, holding=True))
    seen = stream.until(lambda n, d: n == "coach" and d["session"] == "web-b")
    assert seen[-1][1]["is_hold"] and seen[-1][1]["hold_s"] == 5.0
    rig.publish("coach", SessionSummary(session="web-a", summary={"reps": {"squat": 1}}))
    seen = stream.until(lambda n, d: n == "session" and d["session"] == "web-a" and d["ended"])
    assert ("ended", {"session": "web-a", "summary": {"reps": {"squat": 1}}}) in seen
    stream.close()


def test_preview_frames_are_served_as_mjpeg_and_as_a_still(rig):
    jpeg = make_jpeg()
    rig.publish("capture_preview", Frame(session="file-x", seq=0, source="file:/v.mp4", width=320, height=180,
                                         jpeg=jpeg))
    conn, video = rig.get("/api/video/file-x")
    assert video.status == 200
    boundary = video.getheader("Content-Type").split("boundary=")[1]
    assert video.getheader("Content-Type").startswith("multipart/x-mixed-replace")
    assert video.readline().decode().strip() == f"--{boundary}"
    assert video.readline().decode().strip() == "Content-Type: image/jpeg"
    assert video.readline() == b"\r\n"
    assert video.read(len(jpeg)) == jpeg
    # The part is closed by the next boundary and headers straight away: a browser shows it without waiting.
    assert video.readline() == b"\r\n" and video.readline().decode().strip() == f"--{boundary}"
    assert video.readline().decode().strip() == "Content-Type: image/jpeg"
    conn.close()
    conn, still = rig.get("/api/frame/file-x")
    assert still.status == 200 and still.read() == jpeg
    conn.close()
    conn, missing = rig.get("/api/frame/nobody")
    assert missing.status == 404
    conn.close()


def test_health_panel_and_the_ui_heartbeat(rig):
    rig.publish("health_out", HealthReport(services=[
        {"service": "coach", "instance": "c1", "pid": 5, "alive": True, "age_s": 0.2, "restarts": 0, "stats": {}}]))
    health = None
    for _ in range(50):  # the report travels on its own socket: ask until it has arrived
        conn, r = rig.get("/api/health")
        health = json.loads(r.read())
        conn.close()
        if health["services"]:
            break
        zmq.Poller().poll(50)
    assert health["services"][0]["service"] == "coach" and health["services"][0]["alive"] is True
    # The rest of the pipeline did not report: listed as missing, so the system is not all alive.
    assert {s["service"] for s in health["services"] if s.get("missing")} == {"capture", "broker", "pose",
                                                                               "classifier", "speech", "ui",
                                                                               "relay"}
    assert health["all_alive"] is False
    assert health["ui"]["hub_alive"] is True and "ingest.frames" in health["ui"]
    sock = rig.socks["health_in"]
    sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_S * 1000)
    beat = bus.recv(sock)[1]
    assert isinstance(beat, Heartbeat) and beat.service == "ui" and beat.instance == "test-ui"


def test_a_trainee_socket_lists_the_session_and_stop_ends_streams(rig):
    from tests.test_ui_trainee_socket import connect, frame_message, receive
    ws = connect(rig, "web-up1")
    assert receive(ws)["type"] == "hello"
    ws.send(frame_message(0, make_jpeg(640, 360)))
    pull = rig.socks["capture_ingest"]
    pull.setsockopt(zmq.RCVTIMEO, TIMEOUT_S * 1000)
    frame = bus.recv(pull)[1]
    assert isinstance(frame, Frame) and frame.session == "web-up1" and frame.seq == 0
    stream = SseReader(rig, "/api/stream?session=web-up1")
    name, snapshot = stream.next()
    assert name == "snapshot" and snapshot["session"]["source"] == "browser"  # listed from its first frame
    ws.close()
    rig.server.stop()
    assert stream.next() is None  # stopping the UI ends open streams instead of hanging on them
    stream.close()
