"""A flood of one-frame sessions at the bus edge (capture's ingest socket, where the UI relays browsers) through
every real service: memory stays flat, every table stays within its bound, and a trainee already counting keeps
being served."""
from __future__ import annotations

import os
import threading
import time

import psutil
import zmq

from common import bus as busmod
from common.messages import CoachUpdate, Frame
from launcher.analyze import ipc_settings
from launcher.supervisor import Supervisor, pipeline_specs
from offline.soak_faults import SMALL_JPEG, flood_ingest

MB = 2 ** 20
BOUNDS = dict(broker_max_sessions=64, broker_max_queued=16, max_sessions=32, pose_sessions_per_worker=4)
# Growth allowed after warm-up, per service (MB): a pose worker's trackers are ~130 MB each and were all made in
# the warm-up flood; the rest hold only bounded tables.
GROWTH_MB = {"pose": 120.0}
DEFAULT_GROWTH_MB = 25.0


class Trainee(threading.Thread):
    """A browser session sending its camera at 15 frames a second, and what the coach says back to it."""

    def __init__(self, settings):
        super().__init__(daemon=True)
        self.settings = settings
        self.stop = threading.Event()
        self.updates: list[float] = []   # arrival times of its coach updates

    def run(self) -> None:
        ctx = zmq.Context.instance()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(self.settings.capture_ingest)
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"coach_update")
        sub.connect(self.settings.coach)
        seq, next_frame = 0, time.time()
        try:
            while not self.stop.is_set():
                if time.time() >= next_frame:
                    busmod.send(push, Frame(session="trainee", seq=seq, ts_capture=time.time(), width=64, height=48,
                                            jpeg=SMALL_JPEG), block=False)
                    seq += 1
                    next_frame += 1 / 15
                while sub.poll(5):
                    msg = busmod.recv(sub)[1]
                    if isinstance(msg, CoachUpdate) and msg.session == "trainee":
                        self.updates.append(time.time())
        finally:
            push.close()
            sub.close()

    def longest_gap(self, since: float, until: float) -> float:
        times = [since] + [t for t in self.updates if since <= t <= until] + [until]
        return max(b - a for a, b in zip(times, times[1:]))


def rss(sup: Supervisor) -> dict[str, float]:
    out = {}
    for m in sup.managed:
        if m.proc is not None and m.proc.poll() is None:
            out[m.label] = psutil.Process(m.proc.pid).memory_info().rss / MB
    return out


def pump_for(sup: Supervisor, seconds: float) -> None:
    until = time.time() + seconds
    while time.time() < until:
        sup.pump_health(50)
        sup.check(time.time())


def test_memory_stays_flat_and_the_trainee_is_served_under_a_flood_of_sessions(tmp_path):
    settings = ipc_settings(str(tmp_path), ui_port=0, source="webcam", heartbeat_s=0.5, pose_workers=1, **BOUNDS)
    sup = Supervisor(settings, pipeline_specs(settings, 1), log_dir=str(tmp_path / "logs"))
    sup.start_all()
    trainee = Trainee(settings)
    try:
        sup.wait_ready([m.spec.name for m in sup.managed], timeout_s=180)
        trainee.start()
        pump_for(sup, 8.0)   # the trainee gets established (30 frames served)
        ctx = zmq.Context.instance()
        flood_ingest(ctx, settings, 300, prefix="warmup")   # every table fills up to its bound once
        pump_for(sup, 12.0)
        before = rss(sup)
        flood_started = time.time()
        sent = 0
        for burst in range(30):   # 3,000 one-frame sessions in about 6 s (the probe: 2,000 in 3.7 s)
            sent += flood_ingest(ctx, settings, 100, prefix=f"flood{burst}")
            pump_for(sup, 0.2)
        pump_for(sup, 15.0)
        flood_ended = time.time()
        after = rss(sup)
        stats = {m.label: dict(sup.monitor.stats_of(m.proc.pid)) for m in sup.managed if m.proc}
        restarts = {m.label: m.total_restarts for m in sup.managed if m.total_restarts}
    finally:
        trainee.stop.set()
        trainee.join(5)
        sup.stop_all()
    assert sent == 3000 and not restarts, restarts
    growth = {label: round(after[label] - before[label], 1) for label in before}
    too_much = {label: g for label, g in growth.items()
                if g > GROWTH_MB.get(label.rsplit("-", 1)[0], DEFAULT_GROWTH_MB)}
    assert not too_much, f"memory grew under the flood (MB): {growth}; before {before}"
    assert stats["capture-1"]["ingested"] > 1000, stats["capture-1"]   # the flood did get in
    broker = stats["broker-1"]
    assert broker["sessions"] <= 64 and broker["queued"] <= 4 * 16 and broker["refused_busy"] > 1000, broker
    assert stats["classifier-1"]["sessions"] <= 32 and stats["coach-1"]["active_sessions"] <= 32
    assert stats["pose-1"]["trackers"] <= 4, stats["pose-1"]
    assert all(s.get("health") == "ok" for s in stats.values()), stats
    # The trainee already counting was never starved: its coach kept answering all through the flood.
    # On a machine shared with other work the services may wait their turn for a core: the bound is loose, the
    # failure it guards against is not (before the bounds, a count froze for 100 s).
    gap = trainee.longest_gap(flood_started, flood_ended)
    served = sum(flood_started <= t <= flood_ended for t in trainee.updates)
    gaps = [(round(a - flood_started, 1), round(b - a, 1)) for a, b in zip(trainee.updates, trainee.updates[1:])
            if b - a > 1.0 and a >= flood_started - 5]
    assert gap < 5.0 and served >= (flood_ended - flood_started), (
        f"the trainee heard nothing for {gap:.1f} s during the flood ({served} updates in "
        f"{flood_ended - flood_started:.0f} s; load {os.getloadavg()[0]:.1f}); gaps (start, s): {gaps}")
