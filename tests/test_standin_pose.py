"""The stand-in pose worker speaks the worker protocol: a real broker hands it frames, it answers with its fixed
pose after its delay, and the broker counts it as a worker."""
import time

import numpy as np
import zmq

from common import bus
from common.messages import Frame, PoseResult
from launcher.analyze import ipc_settings
from launcher.supervisor import ServiceSpec, Supervisor
from offline.standin_pose import LANDMARKS


def stats_once(sup: Supervisor, service: str, key: str, timeout_s: float = 5.0) -> dict:
    """The service's heartbeat stats once `key` has reached 1 (or the last ones heard when `timeout_s` is up)."""
    deadline = time.time() + timeout_s
    while True:
        sup.pump_health(100)
        stats = sup.monitor.stats_of(sup.pids(service)[0])
        if stats.get(key, 0) >= 1 or time.time() >= deadline:
            return stats


def test_standin_answers_through_a_real_broker_after_its_delay(tmp_path):
    settings = ipc_settings(str(tmp_path), heartbeat_s=0.5)
    sup = Supervisor(settings, [ServiceSpec("broker", "services.pose.broker"),
                                ServiceSpec("pose", "offline.standin_pose", ["--delay-ms", "30"])],
                     log_dir=str(tmp_path / "logs"))
    ctx = zmq.Context()
    source = ctx.socket(zmq.DEALER)
    source.setsockopt(zmq.LINGER, 0)
    source.connect(settings.broker_frontend)
    poses = ctx.socket(zmq.SUB)
    poses.setsockopt(zmq.LINGER, 0)
    poses.setsockopt(zmq.SUBSCRIBE, b"pose")
    poses.connect(settings.poses)
    try:
        sup.start_all()
        sup.wait_ready(["broker", "pose"], timeout_s=60)
        got, seq = None, 0
        deadline = time.time() + 20
        while got is None and time.time() < deadline:
            sent = time.time()
            bus.send(source, Frame(session="bench", seq=seq, ts_capture=sent, width=640, height=360,
                                   source="browser", live=True, chosen_exercise="push_up", jpeg=b"\xff\xd8\xff"))
            seq += 1
            if poses.poll(500):
                got = bus.recv(poses)[1]
        assert isinstance(got, PoseResult) and got.session == "bench"
        assert np.array_equal(np.frombuffer(got.landmarks, np.float32).reshape(33, 4), LANDMARKS)
        assert got.pose_ms == 30.0 and got.chosen_exercise == "push_up" and got.live is True
        assert got.worker.startswith("standin-") and time.time() - got.ts_capture >= 0.03
        stats = stats_once(sup, "pose", "frames")
        assert stats["standin"] == 1 and stats["frames"] >= 1
        # The broker's stats come with its heartbeat: the last one heard may predate the worker's first "ready".
        broker = stats_once(sup, "broker", "workers")
        assert broker["workers"] == 1
    finally:
        source.close()
        poses.close()
        ctx.term()
        sup.stop_all()
