"""Browser frame uploads: validation, and the relay that turns them into Frames on a real PUSH socket."""
import cv2
import numpy as np
import pytest
import zmq

from common import bus
from common.config import Settings
from common.messages import EndOfStream, Frame
from common.jpeg import jpeg_dimensions
from services.ui.ingest import IngestRelay, UploadError, validate_session, validate_upload


def make_jpeg(width=320, height=240, progressive=False) -> bytes:
    image = np.zeros((height, width, 3), np.uint8)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 3, (40, 180, 255), -1)
    params = [cv2.IMWRITE_JPEG_QUALITY, 80] + ([cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if progressive else [])
    ok, buf = cv2.imencode(".jpg", image, params)
    assert ok
    return buf.tobytes()


def test_valid_jpeg_gives_its_size():
    assert validate_upload(make_jpeg(320, 240)) == (320, 240)
    assert validate_upload(make_jpeg(360, 640, progressive=True)) == (360, 640)


@pytest.mark.parametrize("data, status, code", [
    (b"", 400, "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 415, "not_jpeg"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20, 400, "bad_jpeg"),   # header cut before the frame
    (b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 20, 400, "bad_jpeg"),           # scan with no frame header
])
def test_bad_uploads_are_refused_with_a_reason(data, status, code):
    with pytest.raises(UploadError) as err:
        validate_upload(data)
    assert err.value.status == status and err.value.code == code
    assert err.value.as_json()["error"] == code and err.value.as_json()["message"]


def test_oversized_uploads_are_refused():
    big = make_jpeg() + b"\x00" * (2 << 20)
    with pytest.raises(UploadError) as err:
        validate_upload(big)
    assert err.value.status == 413


def test_dimensions_survive_extra_segments_and_fill_bytes():
    jpeg = make_jpeg(200, 100)
    comment = b"\xff\xfe\x00\x0ahello!!!"  # a COM segment before the rest, then a fill byte
    patched = jpeg[:2] + comment + b"\xff" + jpeg[2:]
    assert jpeg_dimensions(patched) == (200, 100)


def test_session_ids():
    assert validate_session("web-abc123") == "web-abc123"
    for bad in ("", "../etc", "a b", "x" * 65, "-leading"):
        with pytest.raises(UploadError):
            validate_session(bad)


@pytest.fixture
def pull_endpoint():
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.bind("tcp://127.0.0.1:*")
    yield sock, sock.getsockopt(zmq.LAST_ENDPOINT).decode()
    sock.close(linger=0)


def test_relay_numbers_sent_frames_and_ends_the_session(pull_endpoint):
    sock, endpoint = pull_endpoint
    relay = IngestRelay(Settings(capture_ingest=endpoint))
    try:
        jpeg = make_jpeg(320, 240)
        results = [relay.relay("web-t1", jpeg, 320, 240, now=1000.0 + i) for i in range(3)]
        received = [bus.recv(sock)[1] for _ in range(3)]
        assert [r["seq"] for r in results if r["sent"]] == [m.seq for m in received]
        frame = received[0]
        assert isinstance(frame, Frame) and frame.session == "web-t1" and frame.source == "browser"
        assert frame.live and frame.width == 320 and frame.height == 240 and frame.jpeg == jpeg
        assert frame.ts_capture == 1000.0
        assert [m.seq for m in received] == [0, 1, 2]
        end = relay.end("web-t1", now=1010.0)
        eos = bus.recv(sock)[1]
        assert isinstance(eos, EndOfStream) and eos.seq == 3 and eos.frames == 3 and eos.reason == "stopped"
        assert end == {"frames": 3, "sent": True}
        # A second stop (button, then page close) is answered without a second end-of-stream.
        assert relay.end("web-t1", now=1011.0) == {"frames": 3, "sent": False}
        with pytest.raises(UploadError) as err:
            relay.relay("web-t1", jpeg, 320, 240, now=1012.0)
        assert err.value.status == 409
        assert relay.stats["ingest.frames"] == 3 and relay.stats["ingest.refused"] == 1
    finally:
        relay.close()


def test_relay_drops_instead_of_blocking_when_capture_does_not_read():
    # Nobody binds this endpoint: the PUSH queue fills and further frames are dropped at once.
    relay = IngestRelay(Settings(capture_ingest="tcp://127.0.0.1:9"), hwm=1)
    try:
        jpeg = make_jpeg(64, 48)
        results = [relay.relay("web-t2", jpeg, 64, 48, now=1.0) for _ in range(20)]
        sent = [r["seq"] for r in results if r["sent"]]
        assert relay.stats["ingest.dropped"] == 20 - len(sent) > 0
        assert sent == list(range(len(sent)))  # numbered only when sent: no gaps for capture to wait on
    finally:
        relay.close()
