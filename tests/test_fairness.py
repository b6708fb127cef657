"""Three trainees at once share the pose workers fairly: real capture, broker and worker processes."""
import time
from collections import Counter

import pytest
import zmq

from common import bus
from launcher.analyze import ipc_settings
from launcher.supervisor import ServiceSpec, Supervisor

pytestmark = pytest.mark.e2e
CLIP = "aiTrainer/squats.mp4"


def test_three_live_sessions_get_even_shares(clips_dir, tmp_path):
    settings = ipc_settings(str(tmp_path))
    specs = [ServiceSpec("broker", "services.pose.broker"), ServiceSpec("pose", "services.pose"),
             ServiceSpec("pose", "services.pose")]
    sup = Supervisor(settings, specs, log_dir=str(tmp_path / "logs"))
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(settings.poses)
    try:
        sup.start_all()
        sup.wait_ready(["broker", "pose"], timeout_s=60)
        # Each trainee's camera runs at the clip's 25 frame/s: 75 frame/s offered, more than two workers take.
        for name in ("a", "b", "c"):
            sup.add(ServiceSpec("capture", "services.capture",
                                ["--source", str(clips_dir / CLIP), "--loop", "--realtime", "--no-ingest",
                                 "--no-preview", "--session", name], restart=False))
        done, skipped = Counter(), Counter()
        warm_until, end = time.time() + 4.0, time.time() + 12.0
        while time.time() < end:
            sup.pump_health(0)
            if not sub.poll(50):
                continue
            msg = bus.recv(sub)[1]
            if time.time() < warm_until:
                continue
            if msg.TYPE == "pose":
                done[msg.session] += 1
            elif msg.TYPE == "frame_skipped":
                skipped[msg.session] += 1
        total = sum(done.values())
        assert set(done) == {"a", "b", "c"} and total > 60, (done, skipped)
        for name in "abc":
            assert 0.25 <= done[name] / total <= 0.42, (done, skipped)
        # Surplus frames were dropped on purpose and announced, never queued behind the workers.
        assert sum(skipped.values()) > 0
    finally:
        sub.close()
        ctx.term()
        sup.stop_all()
