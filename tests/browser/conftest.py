"""Headless Chromium for the UI's browser tests, with a real clip as its fake camera."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.config import PROJECT_ROOT, Settings
from offline.bench_browser import CHROMIUM_ARGS, write_fake_camera   # one Chromium set-up for tests and bench

DATA = Path(Settings.from_env().data_dir)
CLIPS = DATA / "clips"
ARTIFACTS = PROJECT_ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


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

    def __init__(self, db_path: Path, **overrides):
        import zmq

        from common.config import Settings
        from services.ui.server import UiServer
        self.zmq = zmq
        self.ctx = zmq.Context()
        self.socks = {}
        endpoints = {name: self._bind(zmq.XPUB, name) for name in self.CHANNELS}
        endpoints["capture_ingest"] = self._bind(zmq.PULL, "capture_ingest")
        endpoints["health_in"] = self._bind(zmq.SUB, "health_in")
        self.settings = Settings(ui_port=0, db_path=str(db_path), **endpoints, **overrides)
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
