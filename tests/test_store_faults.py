"""The history store checks itself, and a store that fails loses no count: real damaged, read-only and unreadable
files (as root, the code under test runs as `nobody`, since file permissions never bind root)."""
from __future__ import annotations

import os
import sqlite3
import time

import pytest

from common.history import HistoryWriter, StoreError, check_store
from common.history_buffer import BufferedHistory
from tests.unprivileged import as_stranger, open_dir  # noqa: F401 (open_dir: a fixture)

T0 = 1_760_000_000.0


def history_with_a_set(path, session="s1", reps=3) -> None:
    """A closed store file holding one session with one set of `reps` squats (and enough rows for several pages)."""
    store = HistoryWriter(path)
    store.start_session(session, T0, "live")
    set_id = store.open_set(session, "squat", 1, T0 + 1)
    for n in range(1, reps + 1):
        store.record_rep(session, set_id, "squat", n, T0 + 1 + 2 * n, 1.5, 90.0, 95.0, [])
    for i in range(200):
        store.record_cue(session, T0 + i, "squat", "form", "Keep your chest up " * 5)
    store.close()   # the last connection checkpoints the WAL into the file


def damage(path) -> None:
    """Garbage pages behind a valid header: the file still says it is a SQLite database."""
    size = os.path.getsize(path)
    assert size > 3 * 4096
    with open(path, "r+b") as fh:
        fh.seek(4096)
        fh.write(os.urandom(size - 4096))


def set_rows(path, session) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT exercise, number, reps FROM sets WHERE session_id = ? ORDER BY number",
                            (session,)).fetchall()
    finally:
        conn.close()


def rep_count(path, session) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM reps WHERE session_id = ?", (session,)).fetchone()[0]
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------ the start check

def test_a_new_or_sound_store_passes(tmp_path):
    check_store(tmp_path / "new" / "w.sqlite3")   # missing: it will be created
    history_with_a_set(tmp_path / "w.sqlite3")
    check_store(tmp_path / "w.sqlite3")


def test_a_damaged_store_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "w.sqlite3"
    history_with_a_set(path)
    damage(path)
    with pytest.raises(StoreError) as err:
        check_store(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "damaged" in message and f"mv {path}" in message
    path.write_bytes(os.urandom(8192))   # not even a SQLite header
    with pytest.raises(StoreError, match="damaged"):
        check_store(path)


def test_a_read_only_unreadable_or_locked_away_store_is_refused(open_dir):
    path = open_dir / "w.sqlite3"
    history_with_a_set(path)
    path.chmod(0o444)
    with as_stranger(), pytest.raises(StoreError) as err:
        check_store(path)
    assert "read-only" in str(err.value) and f"chmod u+w {path}" in str(err.value)
    for leftover in (f"{path}-wal", f"{path}-shm"):   # the read-only probe left them, read-only too
        if os.path.exists(leftover):
            os.remove(leftover)
    path.chmod(0o000)
    with as_stranger(), pytest.raises(StoreError) as err:
        check_store(path)
    assert "cannot be opened" in str(err.value) and "chmod u+rw" in str(err.value)
    folder = open_dir / "shut"
    folder.mkdir()
    folder.chmod(0o555)
    with as_stranger(), pytest.raises(StoreError, match=f"history folder {folder} is not writable"):
        check_store(folder / "w.sqlite3")


# ------------------------------------------------------------------------------------------------ at run time

def test_a_read_only_store_keeps_the_counts_in_memory_until_it_is_writable(open_dir):
    path = open_dir / "w.sqlite3"
    history_with_a_set(path, reps=3)
    path.chmod(0o444)
    with as_stranger():
        store = BufferedHistory(path)
        assert not store.healthy and "read-only" in store.describe()
        # A read-only file can still be read: the coach resumes the trainee's counts and set.
        restored = store.restore("s1")
        assert restored["totals"]["squat"]["reps"] == 3 and restored["last_set"]["reps"] == 3
        set_handle = restored["last_set"]["id"]
        for n in (4, 5):
            store.record_rep("s1", set_handle, "squat", n, T0 + 20 + n, 1.4, 88.0, 90.0, [])
        store.close_set(set_handle, T0 + 30)
        assert len(store.pending) == 3 and "3 writes waiting" in store.describe()
        store.retry(time.time())
        assert not store.healthy   # still read-only: nothing written, nothing lost
    # SQLite made the -wal and -shm files read-only like the database: the advice names them, the operator follows it.
    assert f"{path}-wal" in store.problem
    for name in (path, f"{path}-wal", f"{path}-shm"):
        os.chmod(name, 0o666)
    with as_stranger():
        store.retry(time.time() + 10)
        assert store.healthy and not store.pending and store.describe() is None
        store.close()
    assert set_rows(path, "s1") == [("squat", 1, 5)] and rep_count(path, "s1") == 5


def test_an_unreadable_store_loses_nothing_and_a_stop_saves_what_waits(open_dir):
    path = open_dir / "w.sqlite3"
    history_with_a_set(path, session="before")
    path.chmod(0o000)
    with as_stranger():
        store = BufferedHistory(path)
        assert "cannot be opened" in store.problem
        assert store.restore("s2") is None
        store.start_session("s2", T0 + 100, "live")
        set_handle = store.open_set("s2", "push_up", 1, T0 + 101)
        for n in (1, 2):
            store.record_rep("s2", set_handle, "push_up", n, T0 + 102 + n, 1.0, 70.0, 80.0, [])
        store.close()   # still unreadable: the waiting writes go to a fresh file beside it
    rescued = [p for p in open_dir.iterdir() if ".unsaved-" in p.name and p.name.endswith(".sqlite3")]
    assert len(rescued) == 1, list(open_dir.iterdir())
    assert set_rows(rescued[0], "s2") == [("push_up", 1, 2)]
    path.chmod(0o666)
    assert set_rows(path, "before") == [("squat", 1, 3)] and set_rows(path, "s2") == []


def test_a_store_damaged_under_the_coach_is_replaced_by_a_fresh_one_once_moved_aside(tmp_path):
    path = tmp_path / "w.sqlite3"
    history_with_a_set(path, session="old", reps=3)
    store = BufferedHistory(path, retry_s=0.0)
    store.start_session("s1", T0 + 50, "live")
    set_handle = store.open_set("s1", "squat", 1, T0 + 51)
    store.record_rep("s1", set_handle, "squat", 1, T0 + 53, 1.5, 90.0, 95.0, [])
    assert store.healthy
    store.store.close()
    checkpoint = sqlite3.connect(path)   # what SQLite does by itself now and then: the WAL's pages go to the file
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    checkpoint.close()
    damage(path)          # the next write opens a new connection, which meets the damaged pages
    store.record_rep("s1", set_handle, "squat", 2, T0 + 55, 1.5, 90.0, 95.0, [])
    assert not store.healthy and "damaged" in store.problem and f"mv {path}" in store.problem
    store.record_rep("s1", set_handle, "squat", 3, T0 + 57, 1.5, 90.0, 95.0, [])
    store.retry(time.time())
    assert not store.healthy and len(store.pending) == 2   # a damaged file is never written to
    os.rename(path, f"{path}.damaged")   # what the health panel tells the operator to do
    store.retry(time.time())
    assert store.healthy and not store.pending
    store.end_session("s1", T0 + 60)
    store.close()
    # The fresh file has the session and its set again, with the reps counted while the store was down.
    assert set_rows(path, "s1") == [("squat", 1, 2)] and rep_count(path, "s1") == 2
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT started_at, ended_at FROM sessions WHERE id = 's1'").fetchone() == (T0 + 50, T0 + 60)
    conn.close()


def test_a_write_the_store_itself_refuses_is_dropped_and_blocks_nothing_behind_it(tmp_path, monkeypatch):
    store = BufferedHistory(tmp_path / "w.sqlite3")
    store.start_session("s1", T0, "live")

    def refuse(*args):
        raise ValueError("a set needs an exercise")   # what a bug upstream meets
    monkeypatch.setattr(store.store, "close_set", refuse)
    set_handle = store.open_set("s1", "squat", 1, T0 + 1)
    store.close_set(set_handle, T0 + 2)
    store.record_rep("s1", set_handle, "squat", 1, T0 + 3, 1.0, 80.0, 90.0, [])
    assert store.healthy and not store.pending and store.stats["store_rejected"] == 1
    store.close()
    assert rep_count(tmp_path / "w.sqlite3", "s1") == 1
