"""Capture: frames numbered per session, browser frames checked, bad sources named clearly."""
import time

import cv2
import numpy as np
import pytest

from common.messages import EndOfStream, Frame, Cue
from services.capture.frames import prepare, rate_slot, resize_to
from services.capture.processor import CreditWindow, IngestGate, SessionEncoder
from services.capture.sources import FileSource, SourceError, open_video


def test_a_slower_camera_sends_the_first_frame_of_each_slot_of_media_time():
    t = np.arange(30) / 29.97                                   # one second of a 29.97 frames/s clip
    slots = rate_slot(t, 10.0)
    kept = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
    assert len(kept) == 10 and list(kept[:4]) == [0, 3, 6, 9]   # 0, 0.100 (frame 3 at 0.1001 s), ...
    assert [int(rate_slot(x, 10.0)) for x in t] == list(slots)  # one frame at a time, as capture calls it
    assert int(rate_slot(0.1, 10.0)) == 1 and int(rate_slot(0.0999, 10.0)) == 0   # a slot starts at its time


def test_resize_keeps_aspect_and_never_enlarges():
    img = np.zeros((1080, 1920, 3), np.uint8)
    assert resize_to(img, 640).shape == (360, 640, 3)
    assert resize_to(np.zeros((100, 50, 3), np.uint8), 640).shape == (100, 50, 3)
    jpeg, w, h = prepare(img, 640, 80)
    assert jpeg[:3] == b"\xff\xd8\xff" and (w, h) == (640, 360)


def test_session_encoder_numbers_frames_and_ends_one_past_the_last():
    enc = SessionEncoder("s", "file:x", live=False, max_side=64)
    frames = [enc.frame(np.full((48, 64, 3), i, np.uint8), i / 10) for i in range(3)]
    assert [f.seq for f in frames] == [0, 1, 2] and not frames[0].live
    end = enc.end("eof", 10.0, 0.3)
    assert end.seq == 3 and end.frames == 3


def test_ingest_gate_passes_the_ui_numbering_on_and_refuses_what_is_not_a_sane_frame():
    gate = IngestGate()
    jpeg = prepare(np.zeros((10, 20, 3), np.uint8), 64, 80)[0]
    out = [gate.check(Frame(session="web-1", seq=s, jpeg=jpeg, live=False)) for s in (0, 1, 2)]
    assert [f.seq for f in out] == [0, 1, 2] and all(f.live for f in out)
    assert (out[0].width, out[0].height, out[0].source) == (20, 10, "browser")   # from the JPEG, not the sender
    assert gate.check(EndOfStream(session="web-1", seq=3)).seq == 3
    header_only = jpeg[:2] + bytes.fromhex("ffc0 0011 08 ffdc ffdc 03") + jpeg[2:]   # declares 65500 x 65500
    for bad in (Frame(session="web-1", jpeg=b"GIF89a"), Frame(session="", jpeg=jpeg),
                Frame(session="web-1", jpeg=header_only), Frame(session="web-1", jpeg=jpeg, chosen_exercise="yoga"),
                Cue(session="web-1", text="hi")):
        with pytest.raises(ValueError):
            gate.check(bad)


def test_credit_window():
    w = CreditWindow(2)
    assert w.take() and w.take() and not w.take()
    w.give(1)
    assert w.take()


def gray_clip(tmp_path, frames: int, step: int) -> str:
    """A 32x24 MJPG clip at 10 frames/s whose frame i is all grey level i * step."""
    path = str(tmp_path / "clip.avi")
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for i in range(frames):
        out.write(np.full((24, 32, 3), i * step, np.uint8))
    out.release()
    return path


def test_missing_and_corrupt_files_raise_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        open_video(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="cannot decode"):
        open_video(bad)


def test_file_source_yields_media_time(tmp_path):
    path = gray_clip(tmp_path, 5, 40)
    src = FileSource(path)
    times = [t for _, t in src.frames()]
    src.close()
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_absent_camera_is_reported_and_the_service_keeps_serving_browsers(tmp_path):
    from services.capture.runner import CaptureRunner
    from launcher.analyze import ipc_settings
    settings = ipc_settings(str(tmp_path), source="57")
    runner = CaptureRunner(settings)
    try:
        assert runner.local is None
        assert "camera 57 not available" in runner.stats["source_error"]
        assert runner.ingest is not None   # browsers can still send frames
    finally:
        runner.close()
    (tmp_path / "b").mkdir()
    with pytest.raises(SourceError, match="camera 57"):
        CaptureRunner(ipc_settings(str(tmp_path / "b"), source="57"), exit_at_end=True)


def test_late_live_file_skips_ahead_without_gaps_in_sequence(tmp_path):
    import zmq

    from common import bus
    from services.capture.runner import CaptureRunner
    from launcher.analyze import ipc_settings
    path = gray_clip(tmp_path, 40, 6)
    settings = ipc_settings(str(tmp_path), source=path, realtime=True)
    ctx = zmq.Context()
    broker = ctx.socket(zmq.ROUTER)
    broker.bind(settings.broker_frontend)
    runner = CaptureRunner(settings, ingest=False, preview=False, context=ctx)
    try:
        runner._pump(runner.started)              # first frame due at once
        runner.started -= 1.0                     # the process stalled for a second: 10 frames late
        runner._pump(time.time())
        runner._pump(time.time())
        seqs = []
        while broker.poll(200):
            seqs.append(bus.recv(broker, routed=True)[1].seq)
        assert seqs == list(range(len(seqs))) and len(seqs) >= 2
        assert runner.stats["dropped"] >= 8       # the backlog was skipped, not sent late
    finally:
        runner.close()
        broker.close(linger=0)
        ctx.term()


def rotated_mp4(path, degrees_matrix=(0, 65536, 0, -65536, 0, 0, 0, 0, 1073741824)) -> None:
    """A 64x32 clip (white band on the left) whose MP4 track header says "display rotated by 90 degrees",
    as a phone stores a portrait video: the pixels are landscape, the flag says how to show them."""
    import struct
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 32))
    for _ in range(5):
        frame = np.zeros((32, 64, 3), np.uint8)
        frame[:, :16] = 255
        writer.write(frame)
    writer.release()
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    matrix = at + 4 + 4 + 4 * 5 + 8 + 8   # after version/flags, times, track id, duration, layer/volume
    data[matrix:matrix + 36] = struct.pack(">9i", *degrees_matrix)
    path.write_bytes(bytes(data))


def test_a_video_stored_sideways_with_a_rotation_flag_plays_upright(tmp_path):
    path = tmp_path / "portrait.mp4"
    rotated_mp4(path)
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_ORIENTATION_META) == 90   # the flag is there
    source = FileSource(path)
    image, _ = next(source.frames())
    source.close()
    assert image.shape[:2] == (64, 32)                     # portrait, as the phone showed it
    assert image[:8].mean() > 200 and image[-8:].mean() < 50   # the band that was on the left is now on top


def test_a_capture_that_exits_at_the_end_of_its_file_delivers_its_end_of_stream_first(tmp_path):
    # The broker is not there yet when the capture sends its frames and its end of stream and exits: they must wait
    # for it (the socket's linger) instead of vanishing with the process. They used to vanish when the process
    # exited before ZeroMQ had passed them on (under load, a session that never ended).
    import subprocess
    import sys

    import zmq

    from common import bus
    from launcher.analyze import ipc_settings
    path = gray_clip(tmp_path, 3, 40)
    settings = ipc_settings(str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.capture", "--source", path, "--no-realtime", "--no-ingest", "--no-preview",
         "--exit-at-end", "--session", "s1", "--broker-frontend", settings.broker_frontend,
         "--health-in", settings.health_in, "--log-level", "INFO"],
        stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    broker = ctx.socket(zmq.ROUTER)
    try:
        for line in proc.stderr:                  # everything is sent (queued) and the capture is closing
            if "end of source" in line:
                break
        time.sleep(0.3)                           # a broker that comes late (or is slow to read)
        broker.bind(settings.broker_frontend)
        got = []
        while broker.poll(3000):
            got.append(bus.recv(broker, routed=True)[1])
            if isinstance(got[-1], EndOfStream):
                break
        assert [m.seq for m in got if isinstance(m, Frame)] == [0, 1, 2]
        assert isinstance(got[-1], EndOfStream) and got[-1].frames == 3
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
        broker.close(linger=0)
        ctx.term()
