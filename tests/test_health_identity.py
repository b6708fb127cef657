"""Heartbeats carry the identity the supervisor gave each process: strangers are counted and ignored, and under
CURVE they cannot even connect."""
from __future__ import annotations

import logging
import threading
import time

import zmq

from common import bus as busmod
from common.identity import new_key, sign
from common.messages import Heartbeat
from launcher.analyze import ipc_settings
from launcher.health import HealthMonitor
from launcher.supervisor import ServiceSpec, Supervisor
from offline.soak_faults import stranger_heartbeats
from offline.local_system import free_port


def beat(pid: int, now: float, service="coach", instance=None, health="ok") -> Heartbeat:
    return Heartbeat(service=service, instance=instance or f"host:{pid}", pid=pid, ts_capture=now,
                     stats={"health": health, "health_reason": "" if health == "ok" else "store read-only"})


def test_the_monitor_believes_only_heartbeats_signed_by_its_children_or_the_shared_key():
    key, shared = new_key(), new_key()
    monitor = HealthMonitor(shared_key=shared)
    monitor.trust(100, key)
    now = 1000.0
    monitor.on_heartbeat(sign(key, beat(100, now)), now)                         # our child
    monitor.on_heartbeat(sign(shared, beat(7, now, "pose", "remote:7")), now)    # a remote worker with the key
    monitor.on_heartbeat(beat(100, now, instance="fake"), now)                   # a stranger using its pid
    monitor.on_heartbeat(sign(new_key(), beat(100, now, instance="guess")), now)  # a guessed key
    monitor.on_heartbeat(sign(key, beat(100, now - 3600, instance="replay")), now)  # an old one replayed
    assert sorted(monitor.instances) == ["host:100", "remote:7"]
    assert monitor.ignored == {"unsigned": 1, "bad_signature": 1, "stale_signature": 1}
    report = monitor.report(now)
    assert report.monitor == {"ignored.unsigned": 1, "ignored.bad_signature": 1, "ignored.stale_signature": 1}
    monitor.distrust(100)   # the child exited: its key opens nothing any more
    monitor.on_heartbeat(sign(key, beat(100, now + 1)), now + 1)
    assert monitor.ignored["bad_signature"] == 2


def test_health_changes_are_announced_and_the_table_is_bounded():
    monitor = HealthMonitor(open=True, max_instances=10)
    assert monitor.on_heartbeat(beat(1, 0.0), 0.0) is None
    change = monitor.on_heartbeat(beat(1, 1.0, health="unhealthy"), 1.0)
    assert change and change.health == "unhealthy" and change.reason == "store read-only"
    assert monitor.on_heartbeat(beat(1, 2.0, health="unhealthy"), 2.0) is None   # no news
    assert monitor.on_heartbeat(beat(1, 3.0), 3.0).health == "ok"
    for pid in range(2, 500):
        monitor.on_heartbeat(beat(pid, 4.0 + pid), 4.0 + pid)
    assert len(monitor.instances) == 10 and "host:499" in monitor.instances


def _supervise_one_broker(settings, tmp_path) -> Supervisor:
    sup = Supervisor(settings, [ServiceSpec("broker", "services.pose.broker")], log_dir=str(tmp_path / "logs"))
    sup.start_all()
    sup.wait_ready(["broker"], timeout_s=60)
    return sup


def _pump_while(sup: Supervisor, thread: threading.Thread, extra_s: float = 1.0) -> None:
    thread.start()
    while thread.is_alive():
        sup.pump_health(20)
    until = time.time() + extra_s
    while time.time() < until:
        sup.pump_health(20)


def test_three_thousand_strangers_invent_no_service(tmp_path, caplog):
    settings = ipc_settings(str(tmp_path), heartbeat_s=0.5)
    caplog.set_level(logging.WARNING, logger="common.bus")
    sup = _supervise_one_broker(settings, tmp_path)
    try:
        ctx = zmq.Context.instance()
        _pump_while(sup, threading.Thread(target=stranger_heartbeats, args=(ctx, settings, 3000)))
        report = sup.report(time.time())
        assert [(s["service"], s["alive"], s["health"]) for s in report.services] == [("broker", True, "ok")]
        assert report.monitor == {"ignored.unsigned": 1500, "ignored.bad_signature": 1500}
        logged = [r for r in caplog.records if "unknown_sender" in r.getMessage()]
        assert len(logged) == 1 + 3000 // 1000   # the first, then every 1000th: never one line per message
    finally:
        sup.stop_all()


def test_under_curve_a_stranger_cannot_even_reach_the_health_channel(tmp_path):
    keys = tmp_path / "keys"
    busmod.make_curve_keys(str(keys))
    settings = ipc_settings(str(tmp_path), heartbeat_s=0.5, curve_dir=str(keys),
                            health_in=f"tcp://127.0.0.1:{free_port()}", health_out=f"tcp://127.0.0.1:{free_port()}")
    sup = _supervise_one_broker(settings, tmp_path)   # the child has the keys: its heartbeats get through
    try:
        ctx = zmq.Context()
        _pump_while(sup, threading.Thread(target=stranger_heartbeats, args=(ctx, settings, 300)))
        report = sup.report(time.time())
        assert [(s["service"], s["alive"]) for s in report.services] == [("broker", True)]
        assert report.monitor == {}   # nothing arrived to be ignored: the stranger never got in
        ctx.destroy(linger=0)
    finally:
        sup.stop_all()
