"""Classifier runner: SUB poses -> ClassifierProcessor -> PUB classified."""
from __future__ import annotations

import argparse
import time
from functools import partial

import zmq

from common.config import Settings
from common.service import ServiceRunner, service_main
from services.classifier.processor import ClassifierProcessor


SETTINGS = ("poses", "classified", "health_in", "models_dir", "reorder_timeout_s", "worker_timeout_s",
            "bind_host",
            "curve_dir")


class ClassifierRunner(ServiceRunner):
    def __init__(self, settings: Settings, **kwargs):
        super().__init__("classifier", settings, **kwargs)
        from services.classifier.cascade import Cascade
        from services.classifier.session import SessionClassifier
        cascade = Cascade.load(settings.models_dir)   # once per process: every session shares the models
        self.processor = ClassifierProcessor(partial(SessionClassifier, cascade),
                                             reorder_timeout_s=settings.reorder_timeout_s,
                                             offline_timeout_s=settings.worker_timeout_s + 1.0)
        self.sub = self.bus.socket(zmq.SUB, settings.poses, bind=False, hwm=10000,
                                   subscribe=[b"pose", b"frame_skipped", b"end_of_stream"])
        self.pub = self.bus.socket(zmq.PUB, settings.classified, bind=True, hwm=10000)
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
