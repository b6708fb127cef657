"""Broker scheduling: even load, fair sessions, latest-frame-only live, lossless offline, lost workers."""
from collections import Counter, deque

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


def test_live_session_waits_for_its_worker_rather_than_evict_another_trainees_tracker():
    # Two workers of 2 trackers, 4 trainees: each worker holds the trackers of two. A trainee whose worker is busy
    # waits for it (a frame's time) instead of taking the other worker's idle moment, which would cost a new
    # tracker and evict one of that worker's trainees (at 8 trainees on 2 real workers: BlazePose 80 ms a frame).
    core = BrokerCore(worker_trackers=2)
    core.on_worker_ready(b"w1", 0.0)
    core.on_worker_ready(b"w2", 0.0)
    homes = {}
    for pair in ("ab", "cd"):                        # two at a time, while both workers are free
        for name in pair:
            for worker, f in core.on_source(b"ui", frame(name, 0), 0.0).to_workers:
                homes[f.session] = worker
        for worker in list(core.jobs):
            core.on_worker_result(worker, result(core.jobs[worker].frame), 0.1)
    assert sorted(Counter(homes.values()).values()) == [2, 2]
    a_home = homes["a"]
    other = b"w2" if a_home == b"w1" else b"w1"
    neighbour = next(n for n in "bcd" if homes[n] == a_home)
    assert [w for w, _ in core.on_source(b"ui", frame(neighbour, 1), 0.2).to_workers] == [a_home]
    # a's worker is busy, the other is idle but full of its own trainees: a waits ...
    assert core.on_source(b"ui", frame("a", 1), 0.2).to_workers == []
    # ... and gets its own worker as soon as it is free.
    out = core.on_worker_result(a_home, result(frame(neighbour, 1)), 0.25)
    assert [(w, f.session) for w, f in out.to_workers] == [(a_home, "a")]
    assert other in core.idle


def test_live_sessions_move_to_even_out_the_load():
    # Three trainees landed on w1 while w2 was away; w2 comes back with no tracker to lose: the next trainee whose
    # worker is busy moves there, and stays.
    core = BrokerCore(worker_trackers=4)
    core.on_worker_ready(b"w1", 0.0)
    for name in "abc":
        core.on_source(b"ui", frame(name, 0), 0.0)
        core.on_worker_result(b"w1", result(frame(name, 0)), 0.0)
    assert set(core.owner.values()) == {b"w1"}
    core.on_source(b"ui", frame("a", 1), 0.1)          # w1 busy with a
    core.on_worker_ready(b"w2", 0.1)
    out = core.on_source(b"ui", frame("b", 1), 0.1)
    assert [(w, f.session) for w, f in out.to_workers] == [(b"w2", "b")]
    assert core.owner["b"] == b"w2"


def test_offline_session_moves_to_another_worker_when_its_worker_dies():
    core = BrokerCore(worker_timeout_s=3.0)
    core.on_worker_ready(b"dead", 0.0)
    core.on_source(b"file", frame("clip", 0, live=False), 0.0)
    core.on_worker_ready(b"alive", 3.5)
    out = core.expire(3.5)
    assert [(w, f.seq) for w, f in out.to_workers] == [(b"alive", 0)]
    assert core.owner["clip"] == b"alive"


# ------------------------------------------------------------------------------------------------ bounds (issue 13)

def test_a_frame_lost_with_k_workers_is_skipped_not_retried_forever():
    core = BrokerCore(worker_timeout_s=1.0, max_tries=3)
    core.on_source(b"file", frame("clip", 0, live=False), 0.0)
    published, credits = [], []
    for attempt in range(3):
        # A worker takes the frame and dies with it (a frame that crashes BlazePose would do exactly this).
        core.on_worker_ready(f"w{attempt}".encode(), 10.0 * attempt)
        out = core.expire(10.0 * attempt + 5.0)
        published += out.publish
        credits += [m for _, m in out.to_sources]
    assert [(m.TYPE, m.seq, m.reason) for m in published] == [("frame_skipped", 0, "lost with 3 pose workers")]
    assert [(m.credit, m.seq) for m in credits] == [(1, 0)]   # an offline source is not left a credit short
    assert core.stats["requeued"] == 2 and core.stats["skipped_after_tries"] == 1
    assert core.sessions["clip"].queue == deque() and core.sessions["clip"].in_flight == 0
    # The session goes on: the next frame is served, and the end of stream is not held for the lost one.
    core.on_worker_ready(b"w9", 40.0)
    job = core.on_source(b"file", frame("clip", 1, live=False), 40.0).to_workers
    assert [(w, f.seq) for w, f in job] == [(b"w9", 1)]
    core.on_source(b"file", EndOfStream(session="clip", seq=2), 40.0)
    done = core.on_worker_result(b"w9", result(frame("clip", 1)), 40.1)
    assert [m.TYPE for m in done.publish] == ["pose", "end_of_stream"]


def test_a_frame_that_never_reached_its_worker_is_no_try_of_its():
    core = BrokerCore(max_tries=1)
    core.on_worker_ready(b"gone", 0.0)
    assert core.on_source(b"cam", frame("s", 0), 0.0).to_workers
    out = core.undeliverable(b"gone")   # the worker vanished before the frame could be sent
    assert out.publish == [] and len(core.sessions["s"].queue) == 1


def test_a_flood_of_one_frame_sessions_is_bounded_and_cannot_starve_a_trainee():
    core = BrokerCore(max_queued=16, max_sessions=64)
    busy: list = []   # (worker, frame) handed out and not yet answered

    def jobs_in(actions):   # a tracker the broker lets go (end of stream) gets no answer from the worker
        return [(w, m) for w, m in actions.to_workers if m.TYPE == Frame.TYPE]

    def finish_one(t):
        if busy:
            worker, job = busy.pop(0)
            busy.extend(jobs_in(core.on_worker_result(worker, result(job), t)))
            return job.session
        return None

    busy += core.on_worker_ready(b"w", 0.0).to_workers
    t = 0.0
    for seq in range(40):   # the trainee has been counting for a while: established
        busy += jobs_in(core.on_source(b"cam", frame("trainee", seq), t))
        finish_one(t)
        t += 0.033
    assert core.sessions["trainee"].established
    served, refused = {"trainee": 0, "strangers": 0}, 0
    for i in range(6000):
        out = core.on_source(b"ui", frame(f"stranger-{i}", 0), t)
        refused += sum(m.reason.startswith("broker") for m in out.publish)
        if i % 20 == 0:   # the trainee's camera: one frame for every twenty of the flood
            out.extend(core.on_source(b"cam", frame("trainee", 40 + i // 20), t))
        busy += jobs_in(out)
        if i % 100 == 0:  # one worker on a loaded machine: a hundred strangers come while it works on a frame
            session = finish_one(t)
            if session is not None:
                served["trainee" if session == "trainee" else "strangers"] += 1
        assert core.queued <= 4 * 16 and core.newcomer_queued <= 16 and len(core.sessions) <= 64
        assert core.sessions["trainee"].established   # never evicted and made a newcomer again
        t += 0.01
    # The trainee gets most turns of the worker (the newest of its frames each time), however many wait.
    jobs = served["trainee"] + served["strangers"]
    assert served["trainee"] >= jobs * 3 // 4 - 1 and jobs >= 55, served
    assert refused > 5000


def test_a_burst_of_strangers_never_evicts_an_established_trainee_between_two_frames():
    core = BrokerCore(max_queued=16, max_sessions=32)
    core.sessions["trainee"] = _established()   # served a moment ago, its next frame not here yet: idle
    for i in range(500):
        core.on_source(b"ui", frame(f"stranger-{i}", 0), 0.0)
    assert "trainee" in core.sessions and core.sessions["trainee"].established
    # Refused strangers leave no trace: only those that got a place wait.
    assert len(core.sessions) == 1 + 16 and core.stats["refused_busy"] == 500 - 16


def test_newcomers_get_one_turn_in_four_while_trainees_wait():
    core = BrokerCore()
    for k in range(6):
        core.sessions[f"old-{k}"] = _established()
        core.on_source(b"a", frame(f"old-{k}", 100), 0.0)
        core.on_source(b"b", frame(f"new-{k}", 0), 0.0)
    order = []
    for i in range(12):
        order += [f.session[:3] for _, f in core.on_worker_ready(f"w{i}".encode(), 0.0).to_workers]
    # Three trainees, one newcomer, ...; once no trainee waits, newcomers take every turn.
    assert order == ["old", "old", "old", "new", "old", "old", "old", "new", "new", "new", "new", "new"], order


def test_sessions_beyond_the_cap_replace_idle_ones_or_are_refused():
    core = BrokerCore(max_sessions=2)
    core.on_source(b"a", frame("a", 0), 0.0)
    core.on_source(b"b", frame("b", 0), 0.0)
    out = core.on_source(b"c", frame("c", 0), 0.0)   # a and b wait for a worker: nothing to replace
    assert [(m.TYPE, m.reason) for m in out.publish] == [("frame_skipped", "broker full: too many sessions")]
    core.on_worker_ready(b"w", 0.0)
    [(worker, job)] = core.jobs.items()
    core.on_worker_result(worker, result(job.frame), 0.1)   # a is served and idle now
    assert core.on_source(b"c", frame("c", 0), 0.2).publish == []
    assert set(core.sessions) == {"b", "c"} and core.stats["sessions_evicted"] == 1


def test_an_offline_frame_refused_at_the_door_returns_its_credit():
    core = BrokerCore(max_queued=1)
    core.on_source(b"f1", frame("clip1", 0, live=False), 0.0)
    out = core.on_source(b"f2", frame("clip2", 0, live=False), 0.0)
    assert [m.TYPE for m in out.publish] == ["frame_skipped"]
    assert [(src, m.TYPE, m.session) for src, m in out.to_sources] == [(b"f2", "credit", "clip2")]


def _established():
    from services.pose.broker_core import ESTABLISHED_FRAMES, _Session
    return _Session(source=b"a", live=True, served=ESTABLISHED_FRAMES)


def test_a_keepalive_that_crosses_a_frame_loses_nothing_and_the_stream_still_ends():
    # A worker idle for a second says "ready" again (keepalive) just as the broker hands it a frame: the broker
    # takes the "ready" for a restart and gives the frame out again, while the worker is already working on it.
    # The worker answers every frame it got, in order; every frame must be published once and the end follow.
    core = BrokerCore()
    core.on_worker_ready(b"w", 0.0)
    inbox: deque = deque()   # frames on their way to / queued at the worker, in order

    def handle(actions):
        published.extend(actions.publish)
        inbox.extend(f for _, f in actions.to_workers if isinstance(f, Frame))

    published: list = []
    for seq in range(6):
        handle(core.on_source(b"file", frame("clip", seq, live=False), 0.0))
    handle(core.on_source(b"file", EndOfStream(session="clip", frames=6), 0.0))
    handle(core.on_worker_ready(b"w", 0.01))     # the keepalive, sent before frame 0 arrived
    while inbox:
        handle(core.on_worker_result(b"w", result(inbox.popleft()), 0.02))
    frames = [m.seq for m in published if isinstance(m, PoseResult)]
    assert sorted(frames) == list(range(6)) and len(frames) == 6
    assert isinstance(published[-1], EndOfStream)


def test_a_class_larger_than_the_trackers_is_said_once_and_so_is_its_end(caplog):
    """Beyond workers x trackers live sessions the trainees take turns without one (tests/test_class_overload.py):
    the broker warns once when the class outgrows them, in its health stats as well, and says when it fits again."""
    core = BrokerCore(worker_trackers=2, worker_timeout_s=100.0)
    core.on_worker_ready(b"w1", 0.0)
    core.on_worker_ready(b"w2", 0.0)
    for k in range(4):
        core.on_source(b"ui", frame(f"t{k}", 0), 0.0)
    core.expire(0.5)
    assert not core.over_capacity and core.snapshot()["over_capacity"] == 0
    core.on_source(b"ui", frame("t4", 0), 0.6)
    core.on_source(b"file", frame("clip", 0, live=False), 0.6)     # an offline analysis is not a trainee
    with caplog.at_level("INFO", logger="services.pose.broker_core"):
        core.expire(1.0)
        core.expire(1.5)
        assert core.snapshot()["over_capacity"] == 1
        core.on_source(b"ui", EndOfStream(session="t4", seq=1), 1.6)
        core.expire(2.0)
        assert not core.over_capacity
        core.on_source(b"ui", frame("t5", 0), 3.0)
        core.expire(3.5)
        assert core.over_capacity
        core.on_source(b"ui", frame("t5", 1), 5.8)                     # t0-t3 closed their tabs at 0.0 s
        core.expire(6.0)
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith("5 live sessions for 4 pose trackers (2 workers x 2)")
    assert said[1:] == ["4 live sessions for 4 pose trackers: within capacity again", said[2],
                        "1 live sessions for 4 pose trackers: within capacity again"]
    assert not core.over_capacity


def test_a_full_worker_lets_go_of_the_tracker_built_longest_ago_and_builds_one_a_second():
    """More trainees than trackers: the broker names the tracker the worker frees (an end of stream before the
    frame), the one built longest ago, so the trainees take equal turns out; and while the worker has a trainee
    whose tracker it holds, it builds at most one tracker a second (tests/test_class_overload.py)."""
    from services.pose.broker_core import ESTABLISHED_FRAMES, MIN_JOBS_BETWEEN_BUILDS, MISS_EVERY_S
    core = BrokerCore(worker_trackers=2, worker_timeout_s=100.0)
    core.on_worker_ready(b"w", 0.0)

    def sent(actions):
        return [(m.TYPE, m.session) for _, m in actions.to_workers]

    assert sent(core.on_source(b"ui", frame("a", 0), 0.0)) == [("frame", "a")]
    core.on_worker_result(b"w", result(frame("a", 0)), 0.05)
    assert sent(core.on_source(b"ui", frame("b", 0), 0.05)) == [("frame", "b")]
    core.on_worker_result(b"w", result(frame("b", 0)), 0.1)
    for name in "ab":
        core.sessions[name].served = ESTABLISHED_FRAMES   # trainees counting for a while
    # The worker is full (a, b): c's tracker replaces a's, the older, named before c's frame.
    out = core.on_source(b"ui", frame("c", 0), 0.1)
    assert sent(out) == [("end_of_stream", "a"), ("frame", "c")]
    core.sessions["c"].served = ESTABLISHED_FRAMES
    assert out.to_workers[0][1].reason.startswith("tracker released")
    core.on_source(b"ui", frame("a", 1), 0.2)
    # Within the second (and the first MIN_JOBS_BETWEEN_BUILDS frames), a, whose tracker is gone, waits while b
    # has its own.
    t, done = 0.3, frame("c", 0)
    for seq in range(1, MIN_JOBS_BETWEEN_BUILDS + 1):
        core.on_source(b"ui", frame("b", seq), t - 0.05)
        assert sent(core.on_worker_result(b"w", result(done), t)) == [("frame", "b")]
        t, done = t + 0.1, frame("b", seq)
    # A second after the last build, a is back and b (built before c) is out.
    core.on_source(b"ui", frame("b", 99), t - 0.05)
    out = core.on_worker_result(b"w", result(done), max(t, 0.1 + MISS_EVERY_S))
    assert sent(out) == [("end_of_stream", "b"), ("frame", "a")]
    assert core.stats["trackers_released"] == 2


def test_a_worker_gone_leaves_no_tracker_or_pacing_state_behind():
    """A restarted pose worker comes back under a new name (host:pid): the one gone must not stay in the broker's
    per-worker state, or a broker running for weeks would keep one entry per restart."""
    core = BrokerCore(worker_trackers=2, worker_timeout_s=1.0)
    core.on_worker_ready(b"w1", 0.0)
    core.on_source(b"ui", frame("a", 0), 0.0)
    core.on_worker_result(b"w1", result(frame("a", 0)), 0.1)
    assert b"w1" in core.trackers and b"w1" in core._since_build
    core.expire(5.0)                                  # silent for longer than its timeout
    assert core.workers == 0
    assert b"w1" not in core.trackers and b"w1" not in core._since_build and b"w1" not in core._last_miss
