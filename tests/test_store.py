"""The workout store: written as it happens, survives reopening, resumes totals, reports for the UI."""
from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from common.history import HistoryWriter

DAY = 86400.0
T0 = 1_760_000_000.0   # a fixed epoch time (2025-10-09)


def write_session(store: HistoryWriter, session: str = "s1", t0: float = T0) -> None:
    store.start_session(session, t0, "live")
    first = store.open_set(session, "squat", 1, t0 + 1)
    for n in range(1, 6):
        store.record_rep(session, first, "squat", n, t0 + 1 + 2 * n, 1.5, 90.0, 95.0, [])
    store.close_set(first, t0 + 11)
    second = store.open_set(session, "squat", 2, t0 + 40)
    for n in range(6, 11):
        # Shallower and slower: the insights should notice.
        store.record_rep(session, second, "squat", n, t0 + 40 + 3 * (n - 5), 2.4, 60.0, 70.0,
                         ["Keep your head up"])
        store.record_cue(session, t0 + 40 + 3 * (n - 5), "squat", "form", "Keep your head up")
    store.close_set(second, t0 + 55)
    plank = store.open_set(session, "plank", 1, t0 + 70)
    hold = store.start_hold(session, plank, "plank", t0 + 70)
    store.update_hold(hold, 12.0)
    store.update_hold(hold, 31.5)
    store.close_set(plank, t0 + 101.5)
    store.end_session(session, t0 + 120)


def test_schema_and_wal(tmp_path):
    path = tmp_path / "deep" / "dir" / "w.sqlite3"
    HistoryWriter(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "sets", "reps", "holds", "cue_events"} <= tables
    cols = [r[1] for r in conn.execute("PRAGMA table_info(reps)")]
    assert cols == ["id", "session_id", "set_id", "exercise", "number", "ts", "duration_s", "range_of_motion",
                    "form_score", "cues"]


def test_every_rep_is_committed_at_once(tmp_path):
    path = tmp_path / "w.sqlite3"
    store = HistoryWriter(path)
    store.start_session("s1", T0, "live")
    set_id = store.open_set("s1", "push_up", 1, T0)
    store.record_rep("s1", set_id, "push_up", 1, T0 + 2, 1.2, 80.0, 100.0, [])
    # Another connection (another process, say after a crash) already sees it.
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM reps").fetchone()[0] == 1
    assert other.execute("SELECT reps FROM sets WHERE id = ?", (set_id,)).fetchone()[0] == 1


def test_reopen_and_resume_totals(tmp_path):
    path = tmp_path / "w.sqlite3"
    store = HistoryWriter(path)
    write_session(store)
    store.close()
    again = HistoryWriter(path)
    assert again.session_known("s1") and not again.session_known("nope")
    assert again.session_totals("s1") == {"squat": {"reps": 10, "hold_seconds": 0.0, "sets": 2},
                                          "plank": {"reps": 0, "hold_seconds": 31.5, "sets": 1}}


def test_session_report_shape_and_insights(tmp_path):
    store = HistoryWriter(tmp_path / "w.sqlite3")
    write_session(store)
    report = store.session_report("s1")
    json.dumps(report)   # plain data for the UI
    assert set(report) == {"id", "started_at", "ended_at", "source", "total_time_s", "active_time_s", "intensity",
                           "sets", "reps", "cue_counts", "totals", "insights"}
    assert report["total_time_s"] == pytest.approx(120.0)
    assert report["active_time_s"] == pytest.approx(10 + 15 + 31.5)
    assert report["intensity"] == pytest.approx(56.5 / 120, abs=0.001)
    assert [(s["exercise"], s["number"], s["reps"], s["hold_seconds"]) for s in report["sets"]] == \
        [("squat", 1, 5, 0.0), ("squat", 2, 5, 0.0), ("plank", 1, 0, 31.5)]
    assert set(report["reps"][0]) == {"exercise", "number", "ts", "duration_s", "range_of_motion", "form_score",
                                      "cues"}
    assert report["reps"][-1]["cues"] == ["Keep your head up"]
    assert report["cue_counts"] == {"Keep your head up": 5}
    assert report["totals"]["squat"] == {"reps": 10, "hold_seconds": 0.0, "sets": 2}
    text = " ".join(report["insights"])
    assert "squat depth dropped in the last set" in text
    assert "tempo slowed down by 60 % in set 2" in text.lower()
    assert "Keep your head up" in text and "Longest plank: 32 seconds" in text
    assert store.session_report("unknown") is None


def test_list_sessions_and_history(tmp_path):
    store = HistoryWriter(tmp_path / "w.sqlite3")
    write_session(store, "old", T0 - 40 * DAY)
    write_session(store, "a", T0 - DAY)
    write_session(store, "b", T0)
    listed = store.list_sessions(limit=2)
    assert [s["id"] for s in listed] == ["b", "a"]
    assert listed[0]["totals"] == {"squat": {"reps": 10, "hold_seconds": 0.0},
                                   "plank": {"reps": 0, "hold_seconds": 31.5}}
    history = store.history(days=30, now=T0 + 10)
    assert {(h["exercise"], h["reps"], h["sessions"]) for h in history} == {("squat", 10, 1), ("plank", 0, 1)}
    assert len({h["date"] for h in history}) == 2 and len(history) == 4
    assert all(h["date"] for h in history)


def test_one_connection_per_thread(tmp_path):
    store = HistoryWriter(tmp_path / "w.sqlite3")
    write_session(store)
    seen = []

    def read():
        seen.append(store.list_sessions()[0]["id"])
    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["s1"] * 3
