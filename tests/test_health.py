"""A service whose handlers keep failing is unhealthy: in its heartbeat, the supervisor's report and the console."""
from __future__ import annotations

import logging
import time

import zmq

from common import bus as busmod
from common.health_state import HealthState
from common.messages import Cue
from launcher.analyze import ipc_settings
from launcher.supervisor import ServiceSpec, Supervisor


def test_failures_turn_a_service_unhealthy_and_a_quiet_spell_heals_it():
    health = HealthState(window_s=10.0, min_failures=5, failure_share=0.5)
    t = 1000.0
    for i in range(200):   # a stray failure among many good messages is counted, not alarming
        if i % 50 == 0:
            health.failed(t, "KeyError('x')")
        else:
            health.handled(t)
    assert health.state(t) == ("ok", "")
    for _ in range(250):   # then every message fails (a store that refuses every write)
        health.failed(t + 12, "OperationalError('attempt to write a readonly database')")
    state, reason = health.state(t + 12)
    assert state == "unhealthy" and "readonly" in reason and "254 of 450 messages failed in 20 s" in reason
    assert health.state(t + 25)[0] == "unhealthy"   # the previous window still counts
    for _ in range(10):
        health.handled(t + 31)
    assert health.state(t + 31) == ("ok", "")
    health.set_problem("store", "history store x is read-only")
    assert health.state(t + 31) == ("unhealthy", "history store x is read-only")
    health.set_problem("store", None)
    assert health.state(t + 31) == ("ok", "")


def test_a_failing_service_is_reported_unhealthy_with_its_reason(tmp_path, caplog):
    settings = ipc_settings(str(tmp_path), heartbeat_s=0.5)
    sup = Supervisor(settings, [ServiceSpec("failing", "tests.failing_service")], log_dir=str(tmp_path / "logs"))
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(settings.coach)
    health_out = zmq.Context.instance().socket(zmq.SUB)
    health_out.setsockopt(zmq.LINGER, 0)
    health_out.setsockopt(zmq.SUBSCRIBE, b"health")
    health_out.connect(settings.health_out)
    caplog.set_level(logging.WARNING, logger="launcher.supervisor")
    sup.start_all()
    try:
        sup.wait_ready(["failing"], timeout_s=60)
        entry = None
        deadline = time.time() + 20
        while time.time() < deadline and not (entry and entry["health"] == "unhealthy"):
            busmod.send(pub, Cue(session="s", text="hello"))
            sup.pump_health(50)
            while health_out.poll(0):
                report = busmod.recv(health_out)[1]
                entry = next((s for s in report.services if s["service"] == "failing"), entry)
        assert entry and entry["alive"] and entry["health"] == "unhealthy", entry
        assert "cannot handle cue" in entry["reason"] and "messages failed" in entry["reason"]
        # The console names it, once, with the reason.
        lines = [r.getMessage() for r in caplog.records if "UNHEALTHY" in r.getMessage()]
        assert len(lines) == 1 and lines[0].startswith("failing-1 is UNHEALTHY:") and "cannot handle cue" in lines[0]
        assert entry["restarts"] == 0   # unhealthy is not dead: it keeps running, and says so
    finally:
        pub.close()
        health_out.close()
        sup.stop_all()
