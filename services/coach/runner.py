"""Coach runner: SUB classified (this shard's sessions) -> CoachProcessor (SQLite history) -> PUB into the relay."""
from __future__ import annotations

import argparse
import time

import zmq

from common.config import Settings
from common.history_buffer import BufferedHistory
from common.service import ServiceRunner, service_main
from services.coach.processor import CoachProcessor
from common.messages import Classification, EndOfStream, FrameSkipped, shard_of, shard_topics


SETTINGS = ("classified", "coach_in", "health_in", "db_path", "set_pause_s", "cue_interval_s", "coaches", "shard",
            "curve_dir", "max_sessions", "session_idle_s")
EXPIRE_EVERY_S = 5.0


class CoachRunner(ServiceRunner):
    def __init__(self, settings: Settings, **kwargs):
        super().__init__("coach", settings, **kwargs)
        # A store that fails (now or later) never stops the count: writes wait in memory, and we are unhealthy.
        self.store = BufferedHistory(settings.db_path)
        # Shard i of N: only our sessions' messages (each classifier's PUB filters, through the relay).
        shard = settings.shard_index(settings.coaches)
        self.processor = CoachProcessor(self.store, settings,
                                        mine=lambda session: shard_of(session, settings.coaches) == shard)
        self.processor.adopt_open_sessions(time.time())
        # Offline analysis sends every frame: a deep queue, so nothing is lost while a rep is written.
        self.sub = self.bus.socket(zmq.SUB, settings.classified, bind=False, hwm=10000,
                                   subscribe=shard_topics([Classification, FrameSkipped, EndOfStream], shard,
                                                          settings.coaches))
        # Any number of coaches publish into the relay, which binds `coach` for speech, the UI and analyze.
        self.pub = self.bus.socket(zmq.PUB, settings.coach_in, bind=False, hwm=10000)
        self.stats["shard"] = f"{shard}/{settings.coaches}"
        self.on(self.sub, self._on_message)
        self.every_loop(self._tick)
        self._next_expire = 0.0
        self._store_health()

    def _on_message(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is not None:
            self.publish(self.pub, self.processor.process(got[1], time.time()))

    def _tick(self, now: float) -> None:
        if now >= self._next_expire:
            self._next_expire = now + EXPIRE_EVERY_S
            self.publish(self.pub, self.processor.expire(now))
        recoveries = self.store.stats["store_recoveries"]
        self.store.retry(now)
        if self.store.stats["store_recoveries"] > recoveries:
            # Unreadable at start, the store could not say which sessions were left open: it can now.
            self.processor.adopt_open_sessions(now)
        self._store_health()

    def _store_health(self) -> None:
        self.health.set_problem("store", self.store.describe())
        self.stats.update(self.processor.stats, active_sessions=len(self.processor.sessions),
                          store_pending=len(self.store.pending), **self.store.stats)

    def close(self) -> None:
        # A clean stop ends every session (ended_at set, its last set closed); the summaries go out if they can.
        try:
            self.publish(self.pub, self.processor.close_all())
        finally:
            super().close()
            self.store.close()


def build(settings: Settings, _args: argparse.Namespace) -> CoachRunner:
    return CoachRunner(settings)


def main(argv=None) -> int:
    return service_main("coach", "Coach: reps, holds, form cues, sets and workout history", SETTINGS, build,
                        argv=argv)
