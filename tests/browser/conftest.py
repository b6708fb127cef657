"""Headless Chromium for the UI's browser tests, with a real clip as its fake camera."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from common.config import PROJECT_ROOT, Settings

DATA = Path(Settings.from_env().data_dir)
CLIPS = DATA / "clips"
ARTIFACTS = PROJECT_ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# Chromium's file-backed fake camera plays an MJPEG file at 30 frames a second, looping.
FAKE_CAMERA_FPS = 30.0

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def write_fake_camera(clip: Path, out: Path, max_side: int = 640, fps: float = FAKE_CAMERA_FPS,
                      lead_in_s: float = 3.0) -> int:
    """The clip as concatenated JPEG frames, resampled to `fps` so its reps keep their real tempo.

    The first frame is held for `lead_in_s` first, like a trainee who presses Start and then gets ready:
    the clip itself starts squatting within a second, before any trainer could have seen a standing body.
    """
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise ValueError(f"cannot open {clip}")
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        h, w = image.shape[:2]
        scale = min(1.0, max_side / max(h, w))
        if scale < 1.0:
            # Even sizes: the fake device hands frames on as I420, which halves both sides.
            size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    if not frames:
        raise ValueError(f"no frames in {clip}")
    lead_in = int(lead_in_s * fps)
    count = int(len(frames) / src_fps * fps)
    with out.open("wb") as f:
        for _ in range(lead_in):
            f.write(frames[0])
        for k in range(count):
            f.write(frames[min(len(frames) - 1, int(k * src_fps / fps))])
    return lead_in + count


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}")
    pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright Python package")
    return CHROMIUM


@pytest.fixture(scope="session")
def squat_clip() -> tuple[Path, int]:
    """A short clean clip with its labelled rep count (aiTrainer/squats.mp4: 3 squats, verified by eye)."""
    clip = CLIPS / "aiTrainer" / "squats.mp4"
    if not clip.exists():
        pytest.skip(f"real clips not found at {CLIPS}: the data lives in ../shared/data next to the repository")
    return clip, 3


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory, squat_clip) -> Path:
    out = tmp_path_factory.mktemp("camera") / "squats.mjpeg"
    write_fake_camera(squat_clip[0], out)
    return out


@pytest.fixture
def launch_browser(chromium_path, fake_camera):
    """Launch headless Chromium whose camera plays the fake clip; closed after the test."""
    from playwright.sync_api import sync_playwright
    manager = sync_playwright().start()
    browsers = []

    def launch(camera: Path | str | None = fake_camera):
        """camera: a fake camera file; None: the default fake device; "deny": the trainee refuses the camera;
        "none": a machine without any camera."""
        args = list(CHROMIUM_ARGS)
        if camera == "deny":
            args = [a for a in args if a != "--use-fake-ui-for-media-stream"] + ["--use-fake-ui-for-media-stream=deny"]
        elif camera == "none":
            args = [a for a in args if a != "--use-fake-device-for-media-stream"]
        elif camera is not None:
            args.append(f"--use-file-for-fake-video-capture={camera}")
        browser = manager.chromium.launch(executable_path=str(chromium_path), args=args)
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()
    manager.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class BusRig:
    """A running UI (in this process) wired to sockets the test holds in place of the other services.

    XPUB sockets stand in for the publishers: each says when the UI has subscribed, so nothing published
    afterwards is lost. A PULL socket stands in for capture and receives what the browser uploads.
    """

    CHANNELS = ("capture_preview", "classified", "coach", "audio", "health_out")

    def __init__(self, db_path: Path):
        import zmq

        from common.config import Settings
        from services.ui.server import UiServer
        self.zmq = zmq
        self.ctx = zmq.Context()
        self.socks = {}
        endpoints = {name: self._bind(zmq.XPUB, name) for name in self.CHANNELS}
        endpoints["capture_ingest"] = self._bind(zmq.PULL, "capture_ingest")
        endpoints["health_in"] = self._bind(zmq.SUB, "health_in")
        self.settings = Settings(ui_port=0, db_path=str(db_path), **endpoints)
        self.server = UiServer(self.settings, context=self.ctx, instance="browser-test").start()
        self.url = self.server.url
        for name in self.CHANNELS:
            self.socks[name].setsockopt(zmq.RCVTIMEO, 10000)
            assert self.socks[name].recv()[:1] == b"\x01", f"the UI never subscribed to {name}"

    def _bind(self, kind: int, name: str) -> str:
        sock = self.ctx.socket(kind)
        sock.setsockopt(self.zmq.LINGER, 0)
        sock.bind("tcp://127.0.0.1:*")
        self.socks[name] = sock
        return sock.getsockopt(self.zmq.LAST_ENDPOINT).decode()

    def publish(self, channel: str, msg) -> None:
        from common import bus
        assert bus.send(self.socks[channel], msg, block=False)

    def receive_upload(self, timeout_ms: int = 15000):
        """The next message the UI relayed to 'capture' (a Frame or an EndOfStream)."""
        from common import bus
        sock = self.socks["capture_ingest"]
        sock.setsockopt(self.zmq.RCVTIMEO, timeout_ms)
        return bus.recv(sock)[1]

    def close(self) -> None:
        self.server.stop()
        for sock in self.socks.values():
            sock.close(linger=0)
        self.ctx.term()


@pytest.fixture
def bus_rig(tmp_path):
    rig = BusRig(tmp_path / "workouts.sqlite3")
    yield rig
    rig.close()
