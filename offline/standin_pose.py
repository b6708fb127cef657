"""A stand-in pose worker for benchmarks and tests: the worker protocol, a fixed real pose, a chosen delay, no model.

`python -m offline.standin_pose --delay-ms 20` joins a broker exactly as `python -m services.pose` does (DEALER to
the broker's backend, `worker_ready`, one `pose` per `frame`), but answers every frame with the same landmarks
(one frame of a real push-up clip as BlazePose saw it) after `--delay-ms` of sleep instead of running BlazePose.
With it the bench can offer the broker, the classifier and the coach more frames per second than two cores of
real workers could, and measure where their ceiling is. Never part of a live system (it lives in offline/).
"""
from __future__ import annotations

import argparse
import os
import socket
import time

import numpy as np
import zmq

from common import bus
from common.config import Settings
from common.messages import EndOfStream, Frame, PoseResult, WorkerReady
from common.service import ServiceRunner, service_main

SETTINGS = ("broker_backend", "health_in", "curve_dir")
KEEPALIVE_S = 1.0

# BlazePose landmarks (x, y normalised, z, visibility) of one frame of PushUp-Counter/pushup2.mp4 (640x360): a
# side-view push-up, arms straight. Real enough for the classifier's features and the coach's checks.
POSE_WIDTH, POSE_HEIGHT = 640, 360
LANDMARKS = np.array([
    [0.101, 0.744, -0.013, 0.998], [0.092, 0.720, -0.042, 0.998], [0.093, 0.717, -0.042, 0.998],
    [0.093, 0.714, -0.042, 0.998], [0.093, 0.720, 0.002, 0.998], [0.094, 0.716, 0.002, 0.998],
    [0.094, 0.712, 0.002, 0.999], [0.107, 0.687, -0.110, 0.997], [0.108, 0.683, 0.084, 0.998],
    [0.117, 0.738, -0.032, 0.997], [0.118, 0.738, 0.025, 0.997], [0.199, 0.690, -0.192, 0.999],
    [0.213, 0.651, 0.215, 0.997], [0.327, 0.698, -0.238, 0.914], [0.337, 0.669, 0.291, 0.121],
    [0.313, 0.901, -0.224, 0.891], [0.327, 0.843, 0.249, 0.183], [0.283, 0.922, -0.255, 0.876],
    [0.299, 0.840, 0.256, 0.211], [0.276, 0.910, -0.221, 0.870], [0.293, 0.847, 0.216, 0.211],
    [0.285, 0.902, -0.209, 0.837], [0.304, 0.849, 0.230, 0.214], [0.448, 0.710, -0.143, 0.990],
    [0.444, 0.674, 0.143, 0.987], [0.631, 0.746, -0.138, 0.883], [0.622, 0.723, 0.134, 0.200],
    [0.824, 0.752, -0.105, 0.914], [0.806, 0.733, 0.173, 0.423], [0.866, 0.723, -0.104, 0.918],
    [0.840, 0.709, 0.171, 0.571], [0.848, 0.867, -0.187, 0.914], [0.828, 0.838, 0.094, 0.624],
], dtype=np.float32)


class StandinPoseWorker(ServiceRunner):
    """Heartbeats as a `pose` worker, so the supervisor, the broker and the health panel treat it as one."""

    def __init__(self, settings: Settings, delay_s: float = 0.0, **kwargs):
        super().__init__("pose", settings, **kwargs)
        self.worker_id = f"standin-{socket.gethostname()}:{os.getpid()}"
        self.delay_s = max(0.0, delay_s)
        self.landmarks = LANDMARKS.tobytes()
        self.dealer = self.bus.socket(zmq.DEALER, settings.broker_backend, bind=False, hwm=10,
                                      identity=self.worker_id.encode())
        self.on(self.dealer, self._on_frame)
        self.every_loop(self._keepalive)
        self.stats.update(frames=0, standin=1, delay_ms=round(self.delay_s * 1000, 3))
        self._last_sent = 0.0

    def _keepalive(self, now: float) -> None:
        if now - self._last_sent >= KEEPALIVE_S:
            bus.send(self.dealer, WorkerReady(worker=self.worker_id, ts_capture=now), block=False)
            self._last_sent = now

    def _on_frame(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is None:
            bus.send(self.dealer, WorkerReady(worker=self.worker_id, ts_capture=time.time()), block=False)
            return
        frame = got[1]
        if isinstance(frame, EndOfStream) or not isinstance(frame, Frame):
            return
        if self.delay_s:
            time.sleep(self.delay_s)   # what BlazePose would take; the process is as busy as a worker waiting on it
        bus.send(self.dealer, PoseResult(session=frame.session, seq=frame.seq, ts_capture=frame.ts_capture,
                                         width=POSE_WIDTH, height=POSE_HEIGHT, landmarks=self.landmarks,
                                         pose_ms=self.delay_s * 1000, worker=self.worker_id, source=frame.source,
                                         live=frame.live, chosen_exercise=frame.chosen_exercise))
        self._last_sent = time.time()
        self.stats["frames"] += 1


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--delay-ms", type=float, default=20.0,
                        help="Milliseconds each frame takes, as BlazePose would (default 20; 0: answer at once)")


def build(settings: Settings, args: argparse.Namespace) -> StandinPoseWorker:
    return StandinPoseWorker(settings, delay_s=args.delay_ms / 1000.0)


def main(argv=None) -> int:
    return service_main("pose", "Stand-in pose worker for benchmarks and tests: the worker protocol, a "
                        "fixed real pose after --delay-ms, no model", SETTINGS, build, extra_args=_extra, argv=argv,
                        prog="python -m offline.standin_pose")


if __name__ == "__main__":
    raise SystemExit(main())
