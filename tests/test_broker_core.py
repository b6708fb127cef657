"""Broker scheduling: even load, fair sessions, latest-frame-only live, lossless offline, lost workers."""
from common.messages import Credit, EndOfStream, Frame, FrameSkipped, PoseResult
from services.pose.broker_core import BrokerCore


def frame(session, seq, live=True):
    return Frame(session=session, seq=seq, live=live, jpeg=b"\xff\xd8\xff")


def result(f):
    return PoseResult(session=f.session, seq=f.seq)


def test_workers_that_ask_get_frames_in_turn():
    core = BrokerCore()
    core.on_worker_ready(b"w1", 0)
    core.on_worker_ready(b"w2", 0)
    a = core.on_source(b"cam", frame("s", 0), 0.0)
    b = core.on_source(b"cam", frame("s", 1), 0.0)
    assert [w for w, _ in a.to_workers + b.to_workers] == [b"w1", b"w2"]
    # Nobody idle: the next live frame waits, and a newer one replaces it (announced as skipped).
    assert core.on_source(b"cam", frame("s", 2), 0.0).to_workers == []
    out = core.on_source(b"cam", frame("s", 3), 0.0)
    assert [(m.TYPE, m.seq) for m in out.publish] == [("frame_skipped", 2)]
    assert core.stats["dropped_live"] == 1
    # w2 finishes first: its result is published and it gets the newest frame.
    done = core.on_worker_result(b"w2", result(frame("s", 1)), 0.1)
    assert [m.seq for m in done.publish] == [1]
    assert [(w, f.seq) for w, f in done.to_workers] == [(b"w2", 3)]


def test_offline_frames_are_never_dropped_and_return_credit():
    core = BrokerCore()
    for seq in range(5):
        assert core.on_source(b"file", frame("clip", seq, live=False), 0.0).publish == []
    core.on_worker_ready(b"w", 0)
    seen = []
    for _ in range(5):
        [(worker, job)] = core.jobs.items()
        f = job.frame
        out = core.on_worker_result(worker, result(f), 0.0)
        seen.append(f.seq)
        assert any(isinstance(m, Credit) and m.credit == 1 for _, m in out.to_sources)
    assert seen == [0, 1, 2, 3, 4]


def test_sessions_are_served_round_robin():
    core = BrokerCore()
    for seq in range(6):
        core.on_source(b"a", frame("busy", seq, live=False), 0.0)
    core.on_source(b"b", frame("quiet", 0, live=False), 0.0)
    order = []
    for i in range(4):
        out = core.on_worker_ready(f"w{i}".encode(), 0.0)
        order += [f.session for _, f in out.to_workers]
    assert order[:2] == ["busy", "quiet"] or order[:2] == ["quiet", "busy"]
    assert order.count("quiet") == 1


def test_frame_of_a_silent_worker_is_requeued_and_late_answer_ignored():
    core = BrokerCore(worker_timeout_s=3.0)
    core.on_worker_ready(b"dead", 0.0)
    core.on_source(b"file", frame("clip", 0, live=False), 0.0)
    assert core.expire(1.0).to_workers == []
    core.on_worker_ready(b"alive", 3.5)
    out = core.expire(3.5)
    assert [(w, f.seq) for w, f in out.to_workers] == [(b"alive", 0)]
    assert core.stats["requeued"] == 1
    late = core.on_worker_result(b"dead", result(frame("clip", 0)), 4.0)
    assert late.publish == [] and core.stats["late_results"] == 1
    ok = core.on_worker_result(b"alive", result(frame("clip", 0)), 4.0)
    assert [m.seq for m in ok.publish] == [0]


def test_end_of_stream_waits_for_every_earlier_frame():
    core = BrokerCore()
    core.on_source(b"file", frame("clip", 0, live=False), 0.0)
    out = core.on_source(b"file", EndOfStream(session="clip", seq=1), 0.0)
    assert out.publish == []
    core.on_worker_ready(b"w", 0.0)
    done = core.on_worker_result(b"w", result(frame("clip", 0)), 0.0)
    assert [m.TYPE for m in done.publish] == ["pose", "end_of_stream"]
    assert "clip" not in core.sessions
    # The worker that tracked the clip is told, so it frees the tracker at once.
    assert [(w, m.TYPE) for w, m in done.to_workers] == [(b"w", "end_of_stream")]
    assert core.jobs == {}


def test_worker_sending_ready_while_busy_restarted_and_frame_is_requeued():
    core = BrokerCore()
    core.on_worker_ready(b"w", 0.0)
    core.on_source(b"file", frame("clip", 0, live=False), 0.0)
    out = core.on_worker_ready(b"w", 1.0)   # came back without a result
    assert [(w, f.seq) for w, f in out.to_workers] == [(b"w", 0)]


def test_skipped_frames_from_workers_are_published():
    core = BrokerCore()
    core.on_worker_ready(b"w", 0.0)
    core.on_source(b"cam", frame("s", 0), 0.0)
    out = core.on_worker_result(b"w", FrameSkipped(session="s", seq=0, reason="bad frame"), 0.0)
    assert [m.TYPE for m in out.publish] == ["frame_skipped"]


def test_offline_session_stays_with_the_worker_holding_its_tracker():
    core = BrokerCore()
    core.on_worker_ready(b"w1", 0.0)
    core.on_worker_ready(b"w2", 0.0)
    first = core.on_source(b"file", frame("clip", 0, live=False), 0.0).to_workers
    assert first[0][0] == b"w1"
    # w2 is idle, but the clip's tracker lives in w1: the next frame waits for w1.
    assert core.on_source(b"file", frame("clip", 1, live=False), 0.0).to_workers == []
    out = core.on_worker_result(b"w1", result(frame("clip", 0)), 0.1)
    assert [(w, f.seq) for w, f in out.to_workers] == [(b"w1", 1)]


def test_parallel_offline_sessions_spread_over_workers():
    core = BrokerCore()
    core.on_worker_ready(b"w1", 0.0)
    core.on_worker_ready(b"w2", 0.0)
    a = core.on_source(b"fa", frame("a", 0, live=False), 0.0).to_workers
    b = core.on_source(b"fb", frame("b", 0, live=False), 0.0).to_workers
    assert {a[0][0], b[0][0]} == {b"w1", b"w2"}
    assert core.owner == {"a": a[0][0], "b": b[0][0]}


def test_live_session_prefers_its_worker_but_never_waits_for_it():
    core = BrokerCore()
    core.on_worker_ready(b"w1", 0.0)
    core.on_worker_ready(b"w2", 0.0)
    core.on_source(b"cam", frame("s", 0), 0.0)            # -> w1
    core.on_worker_result(b"w1", result(frame("s", 0)), 0.0)
    out = core.on_source(b"cam", frame("s", 1), 0.0)
    assert [w for w, _ in out.to_workers] == [b"w1"]       # back to the same tracker while it is free
    out = core.on_source(b"cam", frame("s", 2), 0.0)
    assert [w for w, _ in out.to_workers] == [b"w2"]       # w1 busy: another worker rather than a drop


def test_offline_session_moves_to_another_worker_when_its_worker_dies():
    core = BrokerCore(worker_timeout_s=3.0)
    core.on_worker_ready(b"dead", 0.0)
    core.on_source(b"file", frame("clip", 0, live=False), 0.0)
    core.on_worker_ready(b"alive", 3.5)
    out = core.expire(3.5)
    assert [(w, f.seq) for w, f in out.to_workers] == [(b"alive", 0)]
    assert core.owner["clip"] == b"alive"
