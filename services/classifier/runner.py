"""Classifier runner: SUB poses (this shard's sessions) -> ClassifierProcessor -> PUB into the relay (classified)."""
from __future__ import annotations

import argparse
import time
from functools import partial

import zmq

from common.config import Settings
from common.service import ServiceRunner, service_main
from common.messages import EndOfStream, FrameSkipped, PoseResult, shard_topics
from services.classifier.processor import ClassifierProcessor


SETTINGS = ("poses", "classified_in", "health_in", "models_dir", "reorder_timeout_s", "worker_timeout_s",
            "classifiers", "shard", "curve_dir", "max_sessions", "session_idle_s", "frame_max_tries")


class ClassifierRunner(ServiceRunner):
    def __init__(self, settings: Settings, **kwargs):
        super().__init__("classifier", settings, **kwargs)
        from services.classifier.cascade import Cascade
        from services.classifier.session import SessionClassifier
        cascade = Cascade.load(settings.models_dir)   # once per process: every session shares the models
        self.processor = ClassifierProcessor(partial(SessionClassifier, cascade),
                                             reorder_timeout_s=settings.reorder_timeout_s,
                                             # the broker gives a lost frame up to frame_max_tries workers
                                             offline_timeout_s=settings.frame_max_tries * settings.worker_timeout_s
                                             + 1.0,
                                             session_idle_s=settings.session_idle_s,
                                             max_sessions=settings.max_sessions)
        # Shard i of N: only the sessions whose slot is ours (the broker's PUB filters, see docs/PROTOCOL.md).
        shard = settings.shard_index(settings.classifiers)
        self.sub = self.bus.socket(zmq.SUB, settings.poses, bind=False, hwm=10000,
                                   subscribe=shard_topics([PoseResult, FrameSkipped, EndOfStream], shard,
                                                          settings.classifiers))
        # Any number of classifiers publish into the relay, which binds `classified` for the subscribers.
        self.pub = self.bus.socket(zmq.PUB, settings.classified_in, bind=False, hwm=10000)
        self.stats["shard"] = f"{shard}/{settings.classifiers}"
        self.on(self.sub, self._on_pose)
        self.every_loop(self._tick)

    def _on_pose(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is not None:
            self.publish(self.pub, self.processor.process(got[1], time.time()))

    def _tick(self, now: float) -> None:
        self.publish(self.pub, self.processor.tick(now))
        self.stats.update(self.processor.stats, sessions=len(self.processor.sessions))


def build(settings: Settings, _args: argparse.Namespace) -> ClassifierRunner:
    try:
        return ClassifierRunner(settings)
    except FileNotFoundError as exc:
        raise SystemExit(f"classifier: {exc}") from None


def main(argv=None) -> int:
    return service_main("classifier", "Cascade exercise/phase classifier with window voting", SETTINGS, build,
                        argv=argv)
