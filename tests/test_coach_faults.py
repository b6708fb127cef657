"""A clean stop closes every session; sessions a killed coach left open are finished by the next one; a store that
fails under a real coach process turns it unhealthy, loudly, and loses no count."""
from __future__ import annotations

import os
import signal
import sqlite3

import zmq

from common import bus as busmod
from common.config import Settings
from common.history import HistoryWriter
from common.messages import CoachUpdate, SessionSummary
from services.coach.processor import CoachProcessor
from tests.procs import services, wait_for, xpub  # noqa: F401 (services: a fixture)
from tests.test_coach_processor import Stream, run, squat_frame
from tests.unprivileged import make_read_only, make_writable


def rows(db_path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def session_rows(db_path) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(db_path, "SELECT id, ended_at FROM sessions")}


def coach_with_publisher(services, **overrides):
    relay = []   # we play the relay every coach publishes into: bound before the coach starts, so nothing is missed
    svc = services("coach", "services.coach", before_start=lambda s: relay.append(
        s.socket(zmq.SUB, s.settings.coach_in, bind=True, subscribe=b"")), **overrides)
    pub = xpub(svc, svc.settings.classified, [b"classification"])
    return svc, relay[0], pub


def send_and_wait(svc, updates, pub, stream: Stream, upto: int | None = None) -> CoachUpdate:
    messages = stream.messages[:upto]
    for msg in messages:
        pub.send_multipart(busmod.encode(msg))
    last = messages[-1]
    got = wait_for(updates, lambda m: isinstance(m, CoachUpdate) and m.session == last.session and m.seq == last.seq)
    assert got is not None, svc.tail()
    return got


def test_a_clean_stop_ends_every_session_and_its_last_set(services):
    svc, updates, pub = coach_with_publisher(services)
    a = Stream("a").frames(20, "squat", "start", squat_frame(0.0)).squats(3)
    b = Stream("b").frames(20, "squat", "start", squat_frame(0.0)).squats(2)
    for stream in (a, b):
        # The trainee is mid-set when the trainer is stopped: no end of stream will ever come.
        assert send_and_wait(svc, updates, pub, stream).reps_in_set == (3 if stream is a else 2)
    assert all(ended is None for (ended,) in session_rows(svc.settings.db_path).values())
    svc.kill(signal.SIGTERM)
    assert svc.proc.returncode == 0, svc.tail()
    ended = session_rows(svc.settings.db_path)
    assert set(ended) == {"a", "b"} and all(e is not None for (e,) in ended.values()), ended
    assert rows(svc.settings.db_path, "SELECT session_id, number, reps FROM sets ORDER BY session_id") == [
        ("a", 1, 3), ("b", 1, 2)]
    summaries = []
    while updates.poll(500):
        msg = busmod.recv(updates)[1]
        if isinstance(msg, SessionSummary):
            summaries.append((msg.session, msg.summary["totals"]["squat"]["reps"]))
    assert sorted(summaries) == [("a", 3), ("b", 2)]   # the last set summarised, for whoever still listens


def test_sessions_a_killed_coach_left_open_are_finished_by_the_next(services):
    svc, updates, pub = coach_with_publisher(services, session_idle_s=2.0)
    send_and_wait(svc, updates, pub, Stream("gone").frames(20, "squat", "start", squat_frame(0.0)).squats(2))
    svc.kill(signal.SIGKILL)
    assert session_rows(svc.settings.db_path) == {"gone": (None,)}
    svc.start()
    # Nobody comes back for it: once idle, the new coach closes it at its last activity.
    assert svc.wait_beat(lambda b: session_rows(svc.settings.db_path)["gone"][0] is not None, timeout=20)
    last_rep = rows(svc.settings.db_path, "SELECT MAX(ts) FROM reps")[0][0]
    assert session_rows(svc.settings.db_path)["gone"][0] == rows(svc.settings.db_path,
                                                                 "SELECT ended_at FROM sets")[0][0] >= last_rep


def test_a_restart_in_the_middle_of_a_set_keeps_the_set(tmp_path):
    # In-process twin of test_faults' restart test, with a pause and a second set: 5 + 2, as if undisturbed.
    def stream():
        return (Stream("s").frames(20, "squat", "start", squat_frame(0.0)).squats(5)
                .frames(300, "none").frames(20, "squat", "start", squat_frame(0.0)).squats(2).end())
    reference = HistoryWriter(tmp_path / "reference.sqlite3")
    run(CoachProcessor(reference, Settings()), stream())
    store = HistoryWriter(tmp_path / "w.sqlite3")
    messages = stream().messages
    cut = 20 + 30 * 3 + 5   # just after the third rep
    first = CoachProcessor(store, Settings())
    for msg in messages[:cut]:
        first.process(msg)
    second = CoachProcessor(store, Settings())   # the first one was killed: nothing closed, nothing flushed
    for msg in messages[cut:]:
        second.process(msg)
    sql = "SELECT exercise, number, reps FROM sets ORDER BY started_at"
    assert rows(store.path, sql) == rows(reference.path, sql) == [("squat", 1, 5), ("squat", 2, 2)]


def test_a_coach_whose_store_turns_read_only_keeps_counting_and_writes_it_all_later(services, tmp_path):
    db = tmp_path / "w.sqlite3"
    svc, updates, pub = coach_with_publisher(services, db_path=str(db))
    stream = Stream("t").frames(20, "squat", "start", squat_frame(0.0)).squats(6)
    cut = 20 + 30 * 3 + 5
    assert sum(send_and_wait(svc, updates, pub, stream, cut).reps.values()) == 3
    svc.kill(signal.SIGKILL)
    make_read_only(db)   # while the coach was down (a running one keeps the file it opened)
    try:
        svc.start()
        assert svc.wait_beat(lambda b: b.stats.get("health") == "unhealthy", timeout=20), svc.last_beat
        reason = svc.last_beat.stats["health_reason"]
        assert "is read-only" in reason and str(db) in reason and "writes waiting in memory" in reason
        pub.close()
        pub = xpub(svc, svc.settings.classified, [b"classification"])
        for msg in stream.messages[cut:]:
            pub.send_multipart(busmod.encode(msg))
        last = wait_for(updates, lambda m: isinstance(m, CoachUpdate) and m.seq == stream.messages[-1].seq)
        # The counts were read back from the read-only file, and counting went on in the same set.
        assert last is not None and last.reps == {"squat": 6} and last.set_number == 1 and last.reps_in_set == 6
        assert svc.wait_beat(lambda b: b.stats.get("store_pending", 0) >= 3)
        assert rows(db, "SELECT reps FROM sets") == [(3,)]
    finally:
        make_writable(db)
    assert svc.wait_beat(lambda b: b.stats.get("health") == "ok" and b.stats.get("store_pending") == 0, timeout=20)
    assert rows(db, "SELECT number, reps FROM sets") == [(1, 6)]
    assert rows(db, "SELECT COUNT(*) FROM reps") == [(6,)]


def test_a_coach_started_on_a_damaged_store_counts_on_and_fills_a_fresh_one(services, tmp_path):
    from tests.test_store_faults import damage, history_with_a_set
    db = tmp_path / "w.sqlite3"
    history_with_a_set(db, session="last-week")
    damage(db)
    svc, updates, pub = coach_with_publisher(services, db_path=str(db))
    assert svc.wait_beat(lambda b: b.stats.get("health") == "unhealthy", timeout=20), svc.last_beat
    assert f"history store {db} is damaged" in svc.last_beat.stats["health_reason"]
    stream = Stream("today").frames(20, "squat", "start", squat_frame(0.0)).squats(4)
    last = send_and_wait(svc, updates, pub, stream)
    assert last.reps == {"squat": 4} and last.reps_in_set == 4   # the count never stopped
    assert svc.last_beat.stats.get("fault.handler_error") is None   # no handler failed: the store's trouble is
    os.rename(db, f"{db}.damaged")                                   # known and said once, not 600 times
    assert svc.wait_beat(lambda b: b.stats.get("health") == "ok" and b.stats.get("store_pending") == 0, timeout=20)
    assert rows(db, "SELECT session_id, number, reps FROM sets") == [("today", 1, 4)]
    assert svc.fault_lines("handler_error") == 0


def test_the_coach_keeps_at_most_max_sessions_and_closes_newcomers_first(tmp_path):
    store = HistoryWriter(tmp_path / "w.sqlite3")
    coach = CoachProcessor(store, Settings(), max_sessions=4)
    run(coach, Stream("trainee").frames(20, "squat", "start", squat_frame(0.0)).squats(1))
    closed = []
    for i in range(50):
        out = run(coach, Stream(f"stranger-{i}").frames(1, "none"))
        closed += [m.session for m in out if isinstance(m, SessionSummary)]
    assert len(coach.sessions) == 4 and "trainee" in coach.sessions
    assert len(closed) == 47 and all(s.startswith("stranger-") for s in closed)
    assert coach.stats["sessions_evicted"] == 47


def test_sessions_left_open_are_finished_even_when_the_store_was_read_only_at_the_restart(services, tmp_path):
    db = tmp_path / "w.sqlite3"
    svc, updates, pub = coach_with_publisher(services, db_path=str(db), session_idle_s=2.0)
    send_and_wait(svc, updates, pub, Stream("left").frames(20, "squat", "start", squat_frame(0.0)).squats(2))
    svc.kill(signal.SIGKILL)
    make_read_only(db)
    try:
        svc.start()   # the store can be read, not written: the open session is adopted all the same
        assert svc.wait_beat(lambda b: b.stats.get("health") == "unhealthy" and b.stats.get("store_pending", 0) >= 1,
                             timeout=30), svc.last_beat   # idle: its end is written as soon as the store takes it
        assert session_rows(db)["left"] == (None,)
    finally:
        make_writable(db)
    assert svc.wait_beat(lambda b: b.stats.get("health") == "ok" and b.stats.get("store_pending") == 0, timeout=20)
    assert session_rows(db)["left"][0] is not None
