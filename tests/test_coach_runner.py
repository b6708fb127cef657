"""The coach service over real sockets: classified messages in, updates and a summary out; --help works."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import zmq

from common import bus
from common.config import PROJECT_ROOT, Settings
from common.messages import Classification, CoachUpdate, SessionSummary
from services.coach.runner import CoachRunner
from tests.test_coach_processor import Stream, squat_frame


def test_help():
    out = subprocess.run([sys.executable, "-m", "services.coach", "--help"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--db-path" in out.stdout and "--set-pause-s" in out.stdout


def test_runner_counts_over_sockets(tmp_path):
    settings = Settings(classified=f"ipc://{tmp_path}/classified", coach_in=f"ipc://{tmp_path}/coach_in",
                        health_in=f"ipc://{tmp_path}/health", db_path=str(tmp_path / "w.sqlite3"))
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(settings.classified)
    runner = CoachRunner(settings, context=ctx)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.bind(settings.coach_in)   # we play the relay: every coach publishes into it
    try:
        # PUB/SUB joins late: knock with a throwaway session until the coach answers.
        deadline = time.time() + 10
        while time.time() < deadline:
            bus.send(pub, Classification(session="warmup", exercise="none"))
            if sub.poll(100):
                break
        stream = Stream("s1").frames(20, "squat", "start", squat_frame(0.0)).squats(3).end()
        for msg in stream.messages:
            bus.send(pub, msg)
        updates, summary = [], None
        deadline = time.time() + 10
        while summary is None and time.time() < deadline:
            if sub.poll(200):
                _, msg = bus.recv(sub)
                if isinstance(msg, CoachUpdate) and msg.session == "s1":
                    updates.append(msg)
                elif isinstance(msg, SessionSummary) and msg.session == "s1":
                    summary = msg.summary
        assert summary is not None and summary["totals"] == {"squat": {"reps": 3, "hold_seconds": 0.0}}
        assert max(u.reps.get("squat", 0) for u in updates) == 3
        assert runner.processor.stats["reps"] == 3
    finally:
        runner.stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive()
        ctx.destroy(linger=0)   # also closes sockets a failed runner left open
