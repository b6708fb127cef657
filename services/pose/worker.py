"""Pose worker runner: asks the broker for frames, answers with landmarks. Start as many as there are cores."""
from __future__ import annotations

import argparse
import os
import socket
import time

import zmq

from common import bus
from common.config import Settings
from common.messages import Frame, FrameSkipped, WorkerReady
from common.service import ServiceRunner, service_main
from services.pose.estimator import PoseEstimator
from services.pose.processor import PoseProcessor


SETTINGS = ("broker_backend", "health_in", "pose_sessions_per_worker", "person_probe_frames", "curve_dir")
# An idle worker re-announces itself so the broker knows it is still there.
KEEPALIVE_S = 1.0


class PoseWorkerRunner(ServiceRunner):
    def __init__(self, settings: Settings, **kwargs):
        super().__init__("pose", settings, **kwargs)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.processor = PoseProcessor(PoseEstimator(max_sessions=settings.pose_sessions_per_worker,
                                                   probe_frames=settings.person_probe_frames),
                                       self.worker_id, self.faults)
        self.dealer = self.bus.socket(zmq.DEALER, settings.broker_backend, bind=False, hwm=10,
                                      identity=self.worker_id.encode())
        self.on(self.dealer, self._on_frame)
        self.every_loop(self._keepalive)
        self._last_sent = 0.0

    def _ready(self, now: float) -> None:
        bus.send(self.dealer, WorkerReady(worker=self.worker_id, ts_capture=now), block=False)
        self._last_sent = now

    def _keepalive(self, now: float) -> None:
        if now - self._last_sent >= KEEPALIVE_S:
            self._ready(now)

    def _on_frame(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is None:
            self._ready(time.time())  # never leave the broker waiting on a worker that got garbage
            return
        _, msg = got
        if not isinstance(msg, Frame):
            self.processor.process(msg)
            return
        try:
            result = self.processor.process(msg)
        except Exception:
            # Still answer, so the broker moves on at once; the error itself is counted (and turns us unhealthy
            # if it keeps happening) by the runner.
            bus.send(self.dealer, FrameSkipped(session=msg.session, seq=msg.seq, ts_capture=msg.ts_capture,
                                               reason="pose error"))
            self._last_sent = time.time()
            raise
        bus.send(self.dealer, result)  # a result doubles as "ready for the next one"
        self._last_sent = time.time()
        s = self.processor.stats
        self.stats.update(frames=s["frames"], no_person=s["no_person"], undecodable=s["undecodable"],
                          pose_ms_mean=round(s["pose_ms_total"] / max(1, s["frames"]), 2),
                          trackers=self.processor.estimator.trackers)

    def close(self) -> None:
        self.processor.estimator.close()
        super().close()


def build(settings: Settings, _args: argparse.Namespace) -> PoseWorkerRunner:
    return PoseWorkerRunner(settings)


def main(argv=None) -> int:
    return service_main("pose", "MediaPipe BlazePose worker; join the pool by pointing --broker-backend at the "
                                "broker (any machine)", SETTINGS, build, argv=argv)
