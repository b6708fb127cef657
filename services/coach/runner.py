"""Coach runner: SUB classified -> CoachProcessor (SQLite history) -> PUB coach."""
from __future__ import annotations

import argparse
import time

import zmq

from common.config import Settings
from common.service import ServiceRunner, service_main
from services.coach.processor import CoachProcessor
from common.history import HistoryWriter


SETTINGS = ("classified", "coach", "health_in", "db_path", "set_pause_s", "cue_interval_s", "bind_host",
            "curve_dir")
EXPIRE_EVERY_S = 5.0


class CoachRunner(ServiceRunner):
    def __init__(self, settings: Settings, **kwargs):
        super().__init__("coach", settings, **kwargs)
        self.store = HistoryWriter(settings.db_path)
        self.processor = CoachProcessor(self.store, settings)
        # Offline analysis sends every frame: a deep queue, so nothing is lost while a rep is written.
        self.sub = self.bus.socket(zmq.SUB, settings.classified, bind=False, hwm=10000,
                                   subscribe=[b"classification", b"frame_skipped", b"end_of_stream"])
        self.pub = self.bus.socket(zmq.PUB, settings.coach, bind=True, hwm=10000)
        self.on(self.sub, self._on_message)
        self.every_loop(self._tick)
        self._next_expire = 0.0

    def _on_message(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is not None:
            self.publish(self.pub, self.processor.process(got[1], time.time()))

    def _tick(self, now: float) -> None:
        if now >= self._next_expire:
            self._next_expire = now + EXPIRE_EVERY_S
            self.publish(self.pub, self.processor.expire(now))
        self.stats.update(self.processor.stats, active_sessions=len(self.processor.sessions))

    def close(self) -> None:
        super().close()
        self.store.close()


def build(settings: Settings, _args: argparse.Namespace) -> CoachRunner:
    return CoachRunner(settings)


def main(argv=None) -> int:
    return service_main("coach", "Coach: reps, holds, form cues, sets and workout history", SETTINGS, build,
                        argv=argv)
