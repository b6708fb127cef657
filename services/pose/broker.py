"""Broker runner: capture sources and pose workers connect here; pose results are published in one place."""
from __future__ import annotations

import argparse
import time

import zmq

from common import bus
from common.config import Settings
from common.messages import Frame, FrameSkipped, PoseResult, ProtocolError, WorkerReady, decode
from common.service import ServiceRunner, service_main
from services.pose.broker_core import Actions, BrokerCore


SETTINGS = ("broker_frontend", "broker_backend", "poses", "health_in", "worker_timeout_s", "bind_host",
            "curve_dir", "frame_max_tries", "broker_max_queued", "broker_max_sessions", "session_idle_s",
            "pose_sessions_per_worker")


class BrokerRunner(ServiceRunner):
    def __init__(self, settings: Settings, **kwargs):
        super().__init__("broker", settings, **kwargs)
        self.core = BrokerCore(worker_timeout_s=settings.worker_timeout_s, session_idle_s=settings.session_idle_s,
                               max_tries=settings.frame_max_tries, max_queued=settings.broker_max_queued,
                               max_sessions=settings.broker_max_sessions,
                               worker_trackers=settings.pose_sessions_per_worker)
        self.frontend = self.bus.socket(zmq.ROUTER, settings.broker_frontend, bind=True, hwm=1000)
        self.backend = self.bus.socket(zmq.ROUTER, settings.broker_backend, bind=True, hwm=1000)
        self.pub = self.bus.socket(zmq.PUB, settings.poses, bind=True, hwm=10000)
        self.on(self.frontend, self._from_source)
        self.on(self.backend, self._from_worker)
        self.every_loop(self._tick)
        self._next_expire = 0.0

    # Frames and results are routed on their header alone (peek) and forwarded as the frames they came in: the
    # broker never decodes a body, builds a message or re-encodes one on the hot path (issue #12).
    def _from_source(self, sock: zmq.Socket) -> None:
        got = self.receive_envelope(sock, routed=True)
        if got is None:
            return
        route, env = got
        if env.TYPE == Frame.TYPE:
            self._apply(self.core.on_source(route[0], env, time.time()))
            return
        try:
            msg = decode(env.frames)   # rare control messages (end_of_stream): decoded in full
        except ProtocolError as exc:
            self.faults.record(exc.kind, exc.detail)
            return
        self._apply(self.core.on_source(route[0], msg, time.time()))

    def _from_worker(self, sock: zmq.Socket) -> None:
        got = self.receive_envelope(sock, routed=True)
        if got is None:
            return
        route, env = got
        now = time.time()
        if env.TYPE == WorkerReady.TYPE:
            self._apply(self.core.on_worker_ready(route[0], now))
        elif env.TYPE in (PoseResult.TYPE, FrameSkipped.TYPE):
            self._apply(self.core.on_worker_result(route[0], env, now))
        else:
            self.faults.record("unexpected_type", f"{env.TYPE} from a worker")

    def _tick(self, now: float) -> None:
        if now >= self._next_expire:
            self._next_expire = now + 0.5
            self._apply(self.core.expire(now))
            self.stats.update(self.core.snapshot())

    def _apply(self, actions: Actions) -> None:
        later = Actions()
        for worker, frame in actions.to_workers:
            try:
                bus.send(self.backend, frame, prefix=[worker])
            except zmq.ZMQError:  # worker vanished between ready and send (ROUTER_MANDATORY)
                self.faults.record("worker_gone")
                later.extend(self.core.undeliverable(worker))
        for source, msg in actions.to_sources:
            try:
                bus.send(self.frontend, msg, prefix=[source], block=False)
            except zmq.ZMQError:
                self.faults.record("source_gone")
        self.publish(self.pub, actions.publish)
        if later.to_sources or later.publish:
            self._apply(later)


def build(settings: Settings, _args: argparse.Namespace) -> BrokerRunner:
    return BrokerRunner(settings)


def main(argv=None) -> int:
    return service_main("pose.broker", "Load-balancing broker between capture sources and pose workers",
                        SETTINGS, build, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
