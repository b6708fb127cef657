"""A test service whose handler fails on every message (a bug, a broken dependency): it must be reported unhealthy."""
from __future__ import annotations

import zmq

from common.service import ServiceRunner, service_main


class FailingRunner(ServiceRunner):
    def __init__(self, settings, **kwargs):
        super().__init__("failing", settings, **kwargs)
        self.sub = self.bus.socket(zmq.SUB, settings.coach, bind=False, subscribe=[b"cue"])
        self.on(self.sub, self._on_cue)

    def _on_cue(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is not None:
            raise RuntimeError(f"cannot handle {got[1].TYPE} (the dependency it needs is gone)")


if __name__ == "__main__":
    raise SystemExit(service_main("failing", "Fails on every cue", ("coach", "health_in"),
                                  lambda settings, _args: FailingRunner(settings)))
