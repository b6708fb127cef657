"""The faults `soak` injects into a running system (and the fault tests reuse): each one what a stranger or an
accident does, each returning what it did."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import numpy as np
import zmq

from common import bus as busmod
from common.identity import sign
from common.messages import EndOfStream, Frame, Heartbeat
from services.capture.frames import prepare

# A valid little picture to start from (a grey 64x48 frame).
SMALL_JPEG = prepare(np.full((48, 64, 3), 128, np.uint8), 640, 80)[0]


def with_declared_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG whose frame header declares another size (what made OpenCV raise in the pose workers)."""
    data = bytearray(jpeg)
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 7] = height.to_bytes(2, "big")
    data[i + 7:i + 9] = width.to_bytes(2, "big")
    return bytes(data)


def crafted_frames(seed: int = 0) -> dict[str, bytes]:
    """Pictures a pose worker must answer as bad (frame_skipped), never choke on, by the kind it counts them as."""
    rng = np.random.default_rng(seed)
    head = SMALL_JPEG[:SMALL_JPEG.index(b"\xff\xda")]
    return {
        "bad_size": with_declared_size(SMALL_JPEG, 65500, 65500),
        "undecodable": head + b"\xff\xda" + rng.bytes(400),         # a sane header, then garbage for pixels
        "not_jpeg": b"\x89PNG\r\n\x1a\n" + rng.bytes(200),
        "bad_jpeg": b"\xff\xd8\xff\xda" + rng.bytes(200),             # no frame header before the scan
        "empty": b"",
    }


def socket(ctx: zmq.Context, kind: int, endpoint: str, identity: bytes | None = None) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)
    if identity:
        sock.setsockopt(zmq.IDENTITY, identity)
    sock.connect(endpoint)
    return sock


def send_bad_frames(ctx: zmq.Context, settings, session: str = "soak-bad", seq0: int = 0) -> int:
    """Crafted frames straight to the broker, as a capture would send them (the ingest gate would refuse them)."""
    dealer = socket(ctx, zmq.DEALER, settings.broker_frontend)
    try:
        frames = list(crafted_frames(seq0).values())
        for i, jpeg in enumerate(frames):
            busmod.send(dealer, Frame(session=session, seq=seq0 + i, ts_capture=time.time(), width=64, height=48,
                                      live=True, source="soak", jpeg=jpeg))
            time.sleep(0.05)   # one at a time: a live session keeps only its newest waiting frame
        busmod.send(dealer, EndOfStream(session=session, seq=seq0 + len(frames), reason="eof"))
        time.sleep(0.2)
        return len(frames)
    finally:
        dealer.close(linger=0)


def stranger_heartbeats(ctx: zmq.Context, settings, n: int = 3000) -> int:
    """Heartbeats of invented services: unsigned, signed with a guessed key, and a real service's name."""
    pub = socket(ctx, zmq.PUB, settings.health_in)
    try:
        time.sleep(0.5)   # PUB/SUB: let the connection settle
        for i in range(n):
            if i % 200 == 0:
                time.sleep(0.02)   # paced like a busy sender, so the monitor's queue takes them all
            beat = Heartbeat(service=("coach", "pose", f"fake-{i}")[i % 3], instance=f"stranger:{i}", pid=10 ** 6 + i,
                             stats={"health": "unhealthy", "health_reason": "spoofed"}, ts_capture=time.time())
            if i % 2:
                sign("guessed-key", beat)
            busmod.send(pub, beat)
        time.sleep(0.5)
        return n
    finally:
        pub.close(linger=0)


def flood_ingest(ctx: zmq.Context, settings, sessions: int = 1000, prefix: str = "flood") -> int:
    """One-frame sessions pushed at capture's ingest socket, as fast as it takes them (the bus edge the UI uses)."""
    push = socket(ctx, zmq.PUSH, settings.capture_ingest)
    try:
        for i in range(sessions):
            busmod.send(push, Frame(session=f"{prefix}-{i}", seq=0, ts_capture=time.time(), width=64, height=48,
                                    jpeg=SMALL_JPEG))
        return sessions
    finally:
        push.close(linger=5000)   # what is still queued here goes out first


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class FileLock:
    """Make a file read-only for a while, for real: as root (who may write any file) with `chattr +i`."""

    def __init__(self, path: str):
        self.path = path
        self.mode: int | None = None
        self.immutable = False

    @staticmethod
    def possible() -> bool:
        return os.geteuid() != 0 or shutil.which("chattr") is not None

    def lock(self) -> None:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", self.path], check=True, capture_output=True)
            self.immutable = True
        else:
            self.mode = os.stat(self.path).st_mode
            os.chmod(self.path, 0o444)

    def unlock(self) -> None:
        if self.immutable:
            subprocess.run(["chattr", "-i", self.path], check=False, capture_output=True)
            self.immutable = False
        elif self.mode is not None:
            os.chmod(self.path, self.mode)
            self.mode = None
