"""Classifiers and coaches scale out: sessions sharded by a stable hash, each frame on exactly one instance of each,
everything through the relay, both coaches writing the one history. Real processes, the test as the broker."""
import time
from collections import Counter, defaultdict

import pytest
import zmq

from common import bus
from common.history import HistoryReader
from common.messages import (CoachUpdate, EndOfStream, PoseResult, SessionSummary, decode, shard_of, shard_topics,
                             ProtocolError)
from launcher.analyze import ipc_settings
from launcher.supervisor import Supervisor, pipeline_specs
from offline.standin_pose import LANDMARKS

N = 2            # classifiers and coaches
FRAMES = 40      # per session


def pose(session: str, seq: int, t0: float) -> PoseResult:
    return PoseResult(session=session, seq=seq, ts_capture=t0 + seq / 30.0, width=640, height=360,
                      landmarks=LANDMARKS.tobytes(), worker="test", live=False)


@pytest.fixture
def pipeline(tmp_path):
    settings = ipc_settings(str(tmp_path), classifiers=N, coaches=N, heartbeat_s=0.5)
    specs = [s for s in pipeline_specs(settings, 0, with_capture=False, with_speech=False, with_ui=False)
             if s.name != "broker"]
    assert [s.name for s in specs].count("classifier") == N and [s.name for s in specs].count("coach") == N
    sup = Supervisor(settings, specs, log_dir=str(tmp_path / "logs"))
    ctx = zmq.Context()
    poses = ctx.socket(zmq.XPUB)             # we are the broker: an XPUB hears the classifiers subscribe
    poses.setsockopt(zmq.LINGER, 0)
    poses.setsockopt(zmq.SNDHWM, 0)
    poses.bind(settings.poses)
    out = ctx.socket(zmq.SUB)                # and a subscriber of the relay, like the UI
    out.setsockopt(zmq.LINGER, 0)
    out.setsockopt(zmq.RCVHWM, 0)
    for topic in (b"coach_update", b"session_summary"):
        out.setsockopt(zmq.SUBSCRIBE, topic)
    out.connect(settings.coach)
    try:
        sup.start_all()
        sup.wait_ready(["relay", "classifier", "coach"], timeout_s=90)
        yield settings, sup, poses, out
    finally:
        poses.close()
        out.close()
        ctx.term()
        sup.stop_all()


def test_every_session_lands_on_exactly_one_classifier_and_one_coach(pipeline):
    settings, sup, poses, out = pipeline
    # Both classifier shards subscribed to their halves of the slots (the broker's PUB filters for them).
    wanted = {t for i in range(N) for t in shard_topics([PoseResult], i, N)}
    seen = set()
    deadline = time.time() + 30
    while not wanted <= seen and time.time() < deadline:
        if poses.poll(100):
            frame = poses.recv()
            if frame[:1] == b"\x01":
                seen.add(frame[1:])
    assert wanted <= seen, f"{len(wanted - seen)} slot subscriptions missing"
    # Knock with one probe session per shard until each coach answers through the relay.
    probes = {shard_of(f"probe-{k}", N): f"probe-{k}" for k in range(20)}
    assert len(probes) == N
    answered, seq, t0 = set(), 0, time.time()
    while answered != set(probes.values()) and time.time() - t0 < 30:
        for name in probes.values():
            bus.send(poses, pose(name, seq, t0))
        seq += 1
        while out.poll(50):
            answered.add(bus.recv(out)[1].session)
    assert answered == set(probes.values())

    sessions = [f"trainee-{k:02d}" for k in range(12)]
    assert {shard_of(s, N) for s in sessions} == set(range(N))
    t0 = time.time()
    for seq in range(FRAMES):
        for s in sessions:
            bus.send(poses, pose(s, seq, t0))
    for s in sessions:
        bus.send(poses, EndOfStream(session=s, seq=FRAMES, frames=FRAMES, fps=30.0))
    updates: dict[str, list[int]] = defaultdict(list)
    summaries = Counter()
    deadline = time.time() + 30
    while sum(summaries.values()) < len(sessions) and time.time() < deadline:
        if not out.poll(100):
            continue
        try:
            msg = decode(out.recv_multipart())
        except ProtocolError:
            continue
        if isinstance(msg, CoachUpdate) and msg.session in sessions:
            updates[msg.session].append(msg.seq)
        elif isinstance(msg, SessionSummary) and msg.session in sessions:
            summaries[msg.session] += 1
    # Every frame once, in order (two instances handling one session would double it), one summary each.
    for s in sessions:
        assert updates[s] == list(range(FRAMES)), (s, updates[s][:10])
        assert summaries[s] == 1, s
    # Each instance saw only its own sessions: their heartbeats count them.
    expected_frames = Counter(shard_of(s, N) for s in sessions)
    deadline = time.time() + 5
    while time.time() < deadline:
        sup.pump_health(100)
    by_shard = {}
    for m in sup.managed:
        stats = sup.monitor.stats_of(m.proc.pid)
        if m.spec.name in ("classifier", "coach"):
            by_shard[(m.spec.name, int(m.spec.args[1]))] = stats
    for i in range(N):
        assert by_shard[("classifier", i)]["shard"] == f"{i}/{N}"
        # the probe's frames and this shard's trainees' frames, nothing of the other shard
        probe_frames = by_shard[("classifier", i)]["frames"] - expected_frames[i] * FRAMES
        assert 0 < probe_frames <= seq + 1, (i, by_shard[("classifier", i)])
        assert by_shard[("coach", i)]["sessions"] == expected_frames[i] + 1, (i, by_shard[("coach", i)])
    # Both coaches wrote their sessions into the one history (SQLite, WAL), the UI's reader sees them all.
    listed = {row["id"] for row in HistoryReader(settings.db_path).list_sessions(limit=100)}
    assert set(sessions) <= listed
