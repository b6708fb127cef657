"""Workout history: one SQLite file, written by the coach as it happens, read by the UI (and offline tools).

A shared store with one writing service (docs/PROTOCOL.md, "Shared store"): `HistoryWriter` is opened only
by coach processes; everybody else opens a `HistoryReader`, whose connection is read-only at the SQLite
level. WAL journaling lets readers see a consistent snapshot while the coach writes.

Writer API (HistoryWriter; the coach): start_session, end_session, reopen_session, open_set, close_set, record_rep
(the rep row and its set's count in one transaction), start_hold / update_hold / delete_hold, record_cue. The coach
wraps it in common.history_buffer.BufferedHistory, which keeps writes in memory while the file fails.

check_store(path) raises StoreError (one line naming the file and what to do) unless the file can be used: its
folder writable, and the file, if there is one, readable, undamaged (PRAGMA quick_check) and writable.

Reader API (HistoryReader; also on the writer), all returning plain JSON-serialisable values:
  session_known(session_id) -> bool
  session_totals(session_id) -> {exercise: {reps, hold_seconds, sets}}
  restore(session_id) -> {started_at, ended_at, source, totals: {exercise: {reps, hold_seconds, sets}},
      last_set: {id, exercise, number, started_at, ended_at, reps, hold_seconds} | None} | None
      (what a restarted coach resumes a session from: its counts, and the set it may still be in)
  open_sessions() -> [{id, last_activity}]   (sessions never ended, most recent first: a coach killed mid-session)
  list_sessions(limit=100) -> [{id, started_at, ended_at, source, totals: {exercise: {reps, hold_seconds}}}]
  session_report(session_id) -> {id, started_at, ended_at, source, total_time_s, active_time_s, intensity,
      sets: [{exercise, number, started_at, ended_at, reps, hold_seconds}],
      reps: [{exercise, number, ts, duration_s, range_of_motion, form_score, cues}],
      cue_counts: {text: n}, totals: {exercise: {reps, hold_seconds, sets}}, insights: [str]}
      (None when the session is unknown)
  history(days=30) -> [{date, exercise, reps, hold_seconds, sessions}]   (date = local day the session began)
A reader of a file that does not exist yet sees an empty history. Times are seconds since the epoch.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from common.insights import insights


SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, started_at REAL, ended_at REAL, source TEXT);
CREATE TABLE IF NOT EXISTS sets (id INTEGER PRIMARY KEY, session_id TEXT, exercise TEXT, number INTEGER,
    started_at REAL, ended_at REAL, reps INTEGER DEFAULT 0, hold_seconds REAL DEFAULT 0);
CREATE TABLE IF NOT EXISTS reps (id INTEGER PRIMARY KEY, session_id TEXT, set_id INTEGER, exercise TEXT,
    number INTEGER, ts REAL, duration_s REAL, range_of_motion REAL, form_score REAL, cues TEXT);
CREATE TABLE IF NOT EXISTS holds (id INTEGER PRIMARY KEY, session_id TEXT, set_id INTEGER, exercise TEXT,
    started_at REAL, seconds REAL);
CREATE TABLE IF NOT EXISTS cue_events (id INTEGER PRIMARY KEY, session_id TEXT, ts REAL, exercise TEXT,
    kind TEXT, text TEXT);
CREATE INDEX IF NOT EXISTS sets_by_session ON sets(session_id);
CREATE INDEX IF NOT EXISTS reps_by_session ON reps(session_id);
CREATE INDEX IF NOT EXISTS holds_by_session ON holds(session_id);
CREATE INDEX IF NOT EXISTS cues_by_session ON cue_events(session_id);
CREATE INDEX IF NOT EXISTS sessions_by_start ON sessions(started_at);
"""


class StoreError(Exception):
    """The history store cannot be used; the message (one line) names the file and what to do about it."""


def describe_failure(path: str | Path, exc: BaseException) -> str:
    """One line: what is wrong with the store, and what the operator can do about it."""
    text = str(exc)
    if isinstance(exc, StoreError):
        return text
    if "readonly" in text or "read-only" in text:
        # SQLite gives its -wal and -shm files the mode of the database: they need the fix as well.
        files = " ".join(str(p) for p in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())
        return (f"history store {path} is read-only ({text}): make it writable (chmod u+w {files or path}; and its "
                f"folder) or choose another --db-path")
    if "malformed" in text or "not a database" in text or "quick_check" in text:
        return (f"history store {path} is damaged ({text}): move it aside (mv {path} {path}.damaged) and a fresh "
                f"one is made; `sqlite3 {path}.damaged .recover` may rescue its rows")
    if "unable to open" in text or isinstance(exc, PermissionError) or not _may(path, os.R_OK):
        return (f"history store {path} cannot be opened ({text}): give this user read and write access "
                f"(chmod u+rw {path}) or choose another --db-path")
    if "full" in text:
        return f"history store {path}: the disk is full ({text}); free some space"
    if "locked" in text:
        return f"history store {path} is locked by another program ({text}); stop it or choose another --db-path"
    return f"history store {path} failed ({exc.__class__.__name__}: {text})"


def _may(path: str | Path, mode: int) -> bool:
    """os.access as the effective user (who will open the file)."""
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def check_store(path: str | Path) -> None:
    """Raise StoreError unless the coach can keep the history in `path` (a missing file is fine: it is created)."""
    path = Path(path)
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"history store {path}: {folder} is not a folder; choose another --db-path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"history folder {folder} cannot be created ({exc.strerror}); choose another --db-path") \
            from None
    if not _may(folder, os.W_OK | os.X_OK):
        raise StoreError(f"history folder {folder} is not writable (the store writes {path.name}-wal beside the "
                         f"file): make it writable (chmod u+w {folder}) or choose another --db-path")
    if not path.exists():
        return
    if not path.is_file():
        raise StoreError(f"history store {path} is not a file; choose another --db-path")
    try:
        conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            if rows != [("ok",)]:
                raise sqlite3.DatabaseError(f"quick_check: {rows[0][0] if rows else 'no answer'}"[:200])
            # A write that is rolled back: the only sure test that this user may write the file.
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sessions'").fetchone():
                    conn.execute("INSERT INTO sessions (id) VALUES ('__write_check__')")
                else:
                    conn.execute("CREATE TABLE __write_check__ (x)")
            finally:
                conn.execute("ROLLBACK")
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(describe_failure(path, exc)) from None


class HistoryReader:
    """Read-only access to the history file, each thread with its own connection."""

    writable = False

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        # mode=ro: the UI can never write, whatever a bug or a crafted request would make it do.
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10.0)
        conn.execute("PRAGMA query_only=1")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def _absent(self) -> bool:
        """Nothing written yet (the coach has not started): an empty history, not an error."""
        return not self.writable and not self.path.exists()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------------ reading
    def session_known(self, session_id: str) -> bool:
        if self._absent():
            return False
        return self._conn().execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None

    def session_totals(self, session_id: str) -> dict[str, dict]:
        """{exercise: {reps, hold_seconds, sets}} so far: what a restarted coach resumes from."""
        totals: dict[str, dict] = {}
        if self._absent():
            return totals
        for row in self._conn().execute(
                "SELECT exercise, SUM(reps) AS reps, SUM(hold_seconds) AS hold, COUNT(*) AS n, MAX(number) AS top "
                "FROM sets WHERE session_id = ? GROUP BY exercise", (session_id,)):
            totals[row["exercise"]] = {"reps": int(row["reps"] or 0), "hold_seconds": float(row["hold"] or 0.0),
                                       "sets": int(row["top"] or row["n"])}
        return totals

    def restore(self, session_id: str) -> dict | None:
        """What a restarted coach resumes a session from; None when the session is unknown."""
        if self._absent():
            return None
        conn = self._conn()
        head = conn.execute("SELECT started_at, ended_at, source FROM sessions WHERE id = ?",
                            (session_id,)).fetchone()
        if head is None:
            return None
        last = conn.execute("SELECT id, exercise, number, started_at, ended_at, reps, hold_seconds FROM sets "
                            "WHERE session_id = ? ORDER BY started_at DESC, id DESC LIMIT 1", (session_id,)).fetchone()
        return {"started_at": head[0], "ended_at": head[1], "source": head[2],
                "totals": self.session_totals(session_id),
                "last_set": None if last is None else {
                    "id": int(last[0]), "exercise": last[1], "number": int(last[2]), "started_at": float(last[3]),
                    "ended_at": float(last[4] if last[4] is not None else last[3]), "reps": int(last[5] or 0),
                    "hold_seconds": float(last[6] or 0.0)}}

    def open_sessions(self) -> list[dict]:
        if self._absent():
            return []
        rows = self._conn().execute(
            "SELECT s.id AS id, MAX(COALESCE(s.started_at, 0), COALESCE(MAX(st.ended_at), 0)) AS last "
            "FROM sessions s LEFT JOIN sets st ON st.session_id = s.id WHERE s.ended_at IS NULL "
            "GROUP BY s.id ORDER BY last DESC").fetchall()
        return [{"id": r["id"], "last_activity": float(r["last"] or 0.0)} for r in rows]

    def list_sessions(self, limit: int = 100) -> list[dict]:
        if self._absent():
            return []
        conn = self._conn()
        rows = conn.execute("SELECT * FROM sessions ORDER BY started_at DESC LIMIT ?", (int(limit),)).fetchall()
        out = []
        for row in rows:
            totals = {ex: {"reps": t["reps"], "hold_seconds": round(t["hold_seconds"], 2)}
                      for ex, t in self.session_totals(row["id"]).items()}
            out.append({"id": row["id"], "started_at": row["started_at"], "ended_at": row["ended_at"],
                        "source": row["source"], "totals": totals})
        return out

    def session_report(self, session_id: str) -> dict | None:
        if self._absent():
            return None
        conn = self._conn()
        head = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if head is None:
            return None
        sets = [{"exercise": r["exercise"], "number": r["number"], "started_at": r["started_at"],
                 "ended_at": r["ended_at"], "reps": r["reps"], "hold_seconds": round(r["hold_seconds"] or 0.0, 2)}
                for r in conn.execute("SELECT * FROM sets WHERE session_id = ? ORDER BY started_at, id",
                                      (session_id,))]
        reps = [{"exercise": r["exercise"], "number": r["number"], "ts": r["ts"], "duration_s": r["duration_s"],
                 "range_of_motion": r["range_of_motion"], "form_score": r["form_score"],
                 "cues": json.loads(r["cues"] or "[]"), "set_id": r["set_id"]}
                for r in conn.execute("SELECT * FROM reps WHERE session_id = ? ORDER BY ts, id", (session_id,))]
        cue_counts: dict[str, int] = {}
        for r in conn.execute("SELECT text, COUNT(*) AS n FROM cue_events WHERE session_id = ? AND kind = 'form' "
                              "GROUP BY text ORDER BY n DESC", (session_id,)):
            cue_counts[r["text"]] = int(r["n"])
        totals = self.session_totals(session_id)
        for t in totals.values():
            t["hold_seconds"] = round(t["hold_seconds"], 2)
        last = max([head["started_at"] or 0.0] + [s["ended_at"] or 0.0 for s in sets] + [r["ts"] for r in reps])
        ended = head["ended_at"] if head["ended_at"] is not None else last
        total_time = max(0.0, (ended or 0.0) - (head["started_at"] or 0.0))
        active_time = sum(max(0.0, (s["ended_at"] or s["started_at"]) - s["started_at"]) for s in sets)
        set_ids = {r["id"]: i for i, r in enumerate(conn.execute(
            "SELECT id FROM sets WHERE session_id = ? ORDER BY started_at, id", (session_id,)))}
        for rep in reps:  # which set (by position in `sets`) a rep belongs to, for the insights
            rep["set_index"] = set_ids.get(rep.pop("set_id"))
        report = {"id": head["id"], "started_at": head["started_at"], "ended_at": head["ended_at"],
                  "source": head["source"], "total_time_s": round(total_time, 2),
                  "active_time_s": round(active_time, 2),
                  "intensity": round(min(1.0, active_time / total_time), 3) if total_time > 0 else 0.0,
                  "sets": sets, "reps": reps, "cue_counts": cue_counts, "totals": totals}
        report["insights"] = insights(sets, reps, cue_counts)
        for rep in reps:
            rep.pop("set_index", None)
        return report

    def history(self, days: int = 30, now: float | None = None) -> list[dict]:
        if self._absent():
            return []
        since = (time.time() if now is None else now) - days * 86400.0
        rows = self._conn().execute(
            "SELECT date(s.started_at, 'unixepoch', 'localtime') AS day, st.exercise AS exercise, "
            "SUM(st.reps) AS reps, SUM(st.hold_seconds) AS hold, COUNT(DISTINCT s.id) AS sessions "
            "FROM sessions s JOIN sets st ON st.session_id = s.id WHERE s.started_at >= ? "
            "GROUP BY day, st.exercise ORDER BY day, st.exercise", (since,)).fetchall()
        return [{"date": r["day"], "exercise": r["exercise"], "reps": int(r["reps"] or 0),
                 "hold_seconds": round(float(r["hold"] or 0.0), 2), "sessions": int(r["sessions"])} for r in rows]


class HistoryWriter(HistoryReader):
    """The coach's access: creates the file and its tables, and writes every rep, set, hold and cue at once."""

    writable = True

    def __init__(self, path: str | Path):
        super().__init__(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn().executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0)
        # WAL: the UI reads while the coach writes; NORMAL sync still survives a crash of the process.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def start_session(self, session_id: str, started_at: float, source: str = "") -> None:
        with self._conn() as conn:
            conn.execute("INSERT OR IGNORE INTO sessions (id, started_at, source) VALUES (?, ?, ?)",
                         (session_id, started_at, source))

    def end_session(self, session_id: str, ended_at: float) -> None:
        with self._conn() as conn:
            conn.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (ended_at, session_id))
            # A set left open by a crash ends with its last rep or hold.
            conn.execute("UPDATE sets SET ended_at = COALESCE(ended_at, started_at) WHERE session_id = ?",
                         (session_id,))

    def reopen_session(self, session_id: str) -> None:
        """A session closed by a stop whose trainee goes on after the restart is open again."""
        with self._conn() as conn:
            conn.execute("UPDATE sessions SET ended_at = NULL WHERE id = ?", (session_id,))

    def open_set(self, session_id: str, exercise: str, number: int, started_at: float) -> int:
        if not exercise or exercise == "none":
            raise ValueError(f"a set needs an exercise, not {exercise!r}")
        with self._conn() as conn:
            cur = conn.execute("INSERT INTO sets (session_id, exercise, number, started_at, ended_at) "
                               "VALUES (?, ?, ?, ?, ?)", (session_id, exercise, number, started_at, started_at))
            return int(cur.lastrowid)

    def close_set(self, set_id: int, ended_at: float) -> None:
        with self._conn() as conn:
            conn.execute("UPDATE sets SET ended_at = ? WHERE id = ?", (ended_at, set_id))

    def record_rep(self, session_id: str, set_id: int, exercise: str, number: int, ts: float, duration_s: float,
                   range_of_motion: float | None, form_score: float | None, cues: list[str]) -> None:
        """One counted rep, committed at once together with its set's count."""
        with self._conn() as conn:
            conn.execute("INSERT INTO reps (session_id, set_id, exercise, number, ts, duration_s, range_of_motion, "
                         "form_score, cues) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (session_id, set_id, exercise, number, ts, duration_s, range_of_motion, form_score,
                          json.dumps(cues)))
            conn.execute("UPDATE sets SET reps = reps + 1, ended_at = MAX(ended_at, ?) WHERE id = ?", (ts, set_id))

    def start_hold(self, session_id: str, set_id: int, exercise: str, started_at: float) -> int:
        with self._conn() as conn:
            cur = conn.execute("INSERT INTO holds (session_id, set_id, exercise, started_at, seconds) "
                               "VALUES (?, ?, ?, ?, 0)", (session_id, set_id, exercise, started_at))
            return int(cur.lastrowid)

    def update_hold(self, hold_id: int, seconds: float) -> None:
        """The hold's length so far (called as it grows, so a crash loses at most the last update)."""
        with self._conn() as conn:
            row = conn.execute("SELECT set_id, started_at FROM holds WHERE id = ?", (hold_id,)).fetchone()
            if row is None:
                return
            conn.execute("UPDATE holds SET seconds = ? WHERE id = ?", (seconds, hold_id))
            conn.execute("UPDATE sets SET hold_seconds = (SELECT COALESCE(SUM(seconds), 0) FROM holds "
                         "WHERE set_id = ?), ended_at = MAX(ended_at, ?) WHERE id = ?",
                         (row["set_id"], row["started_at"] + seconds, row["set_id"]))

    def delete_hold(self, hold_id: int) -> None:
        """A hold that turned out too short to count."""
        with self._conn() as conn:
            conn.execute("DELETE FROM holds WHERE id = ?", (hold_id,))

    def record_cue(self, session_id: str, ts: float, exercise: str, kind: str, text: str) -> None:
        with self._conn() as conn:
            conn.execute("INSERT INTO cue_events (session_id, ts, exercise, kind, text) VALUES (?, ?, ?, ?, ?)",
                         (session_id, ts, exercise, kind, text))
