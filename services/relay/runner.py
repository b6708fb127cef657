"""Relay: any number of classifiers and coaches publish into it, their subscribers connect to it (XSUB -> XPUB).

With one classifier it could bind `classified` itself; with N of them, nobody can bind for all, and a subscriber
(the coaches, the UI, speech) should not have to know how many there are. The relay binds both ends of each
channel and forwards in libzmq's own proxy loop (no Python per message). Subscriptions travel upstream through
it, so every publisher still filters by topic itself: a coach shard receives only its sessions' classifications.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import struct
import threading
from dataclasses import dataclass

import zmq

from common.config import Settings
from common.service import ServiceRunner, service_main

logger = logging.getLogger(__name__)

SETTINGS = ("classified_in", "classified", "coach_in", "coach", "health_in", "bind_host", "curve_dir")
# Offline analysis sends every frame: deep queues, as on the publishers' own sockets.
HWM = 10000
STATS_EVERY_S = 1.0
_ids = itertools.count()


@dataclass
class _Proxy:
    name: str
    control: zmq.Socket      # our end of the proxy's control pair
    thread: threading.Thread


class RelayRunner(ServiceRunner):
    def __init__(self, settings: Settings, **kwargs):
        super().__init__("relay", settings, **kwargs)
        self.proxies = [self._proxy("classified", settings.classified_in, settings.classified),
                        self._proxy("coach", settings.coach_in, settings.coach)]
        self.every_loop(self._count)
        self._next_count = 0.0

    def _proxy(self, name: str, inbound: str, outbound: str) -> _Proxy:
        xsub = self.bus.socket(zmq.XSUB, inbound, bind=True, hwm=HWM)
        xpub = self.bus.socket(zmq.XPUB, outbound, bind=True, hwm=HWM)
        address = f"inproc://relay-{name}-{next(_ids)}"
        control = self.bus.socket(zmq.PAIR, address, bind=True)
        theirs = self.bus.socket(zmq.PAIR, address, bind=False)
        # The sockets move to the proxy thread here and are only touched there until it ends.
        thread = threading.Thread(target=zmq.proxy_steerable, args=(xsub, xpub, None, theirs),
                                  name=f"relay-{name}", daemon=True)
        thread.start()
        return _Proxy(name, control, thread)

    def _count(self, now: float) -> None:
        """Messages relayed per channel (libzmq's proxy statistics), for the health panel."""
        if now < self._next_count:
            return
        self._next_count = now + STATS_EVERY_S
        for proxy in self.proxies:
            proxy.control.send(b"STATISTICS")
            if not proxy.control.poll(1000):
                self.faults.record("relay_stats_timeout", proxy.name)
                continue
            counters = [struct.unpack("=Q", f)[0] for f in proxy.control.recv_multipart()]
            # frontend: frames in, bytes in, frames out, bytes out; then the same for the backend (subscriptions)
            self.stats[f"{proxy.name}.parts_in"] = counters[0]   # ZeroMQ frames: 2 per message
            self.stats[f"{proxy.name}.subscription_changes"] = counters[4]

    def close(self) -> None:
        for proxy in self.proxies:
            proxy.control.send(b"TERMINATE")
        for proxy in self.proxies:
            proxy.thread.join(5)
        super().close()


def build(settings: Settings, _args: argparse.Namespace) -> RelayRunner:
    return RelayRunner(settings)


def main(argv=None) -> int:
    return service_main("relay", "Relay of the classified and coach channels between any number of classifiers and "
                                 "coaches and their subscribers", SETTINGS, build, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
