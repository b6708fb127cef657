"""The coach's history writer: a store that fails never stops the count, and no count made meanwhile is lost.

Every write goes to `HistoryWriter` at once while the file works. When a write fails (the file turned read-only,
unreadable, damaged, the disk is full), it and every later write wait in memory, in order, and the buffer
reports the problem (the coach turns unhealthy with it). Every `retry_s` it reopens the file and, if the file
passes `check_store`, writes what waited; the coach is healthy again.

Why memory and not a fresh file next to the old one: the failures seen (a file made read-only or unreadable, a
full disk, a lock) are fixed by the operator without a restart, and the history must end up in the one file the UI
and every tool read, not scattered over side files nobody merges; a folder that refuses the old file often
refuses a new one too (read-only mount, full disk). A damaged file comes back when the operator moves it aside: a
fresh file is made there, and the sets and sessions the waiting writes belong to are created in it again. Only
when the coach stops while the store is still down does the buffer write what waited to a fresh file beside it
(`<name>.unsaved-<time>.sqlite3`), as a last resort, and says where.

Ids handed out by open_set / start_hold are the buffer's own handles, valid across failures and file changes.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import deque
from pathlib import Path

from common.history import HistoryReader, HistoryWriter, StoreError, check_store, describe_failure

logger = logging.getLogger(__name__)

RETRY_S = 5.0
# Writes kept while the store is down: a day of a busy gym is far below this; beyond it cue events (the least
# valuable rows) are dropped first, and counted.
MAX_PENDING = 200_000
STORE_ERRORS = (sqlite3.Error, OSError, StoreError)


class BufferedHistory:
    """The HistoryWriter API (and the reads the coach needs), safe against a failing store."""

    def __init__(self, path: str | Path, retry_s: float = RETRY_S, max_pending: int = MAX_PENDING):
        self.path = Path(path)
        self.retry_s = retry_s
        self.max_pending = max_pending
        self.store: HistoryWriter | None = None
        self.problem: str | None = None
        self.pending: deque[tuple[str, tuple]] = deque()
        self.stats = {"store_failures": 0, "store_recoveries": 0, "store_dropped": 0, "store_rejected": 0}
        self._generation = 0          # bumped whenever the file behind `path` is another one
        self._file_id: tuple[int, int] | None = None
        self._rows: dict[int, tuple[int, int]] = {}      # handle -> (generation, row id)
        self._recipes: dict[int, tuple] = {}             # handle -> how to create its row again
        self._sessions: dict[str, tuple[float, str]] = {}  # session -> (started_at, source)
        self._session_gen: dict[str, int] = {}           # session -> generation its row was written in
        self._next_handle = 1
        self._next_retry = 0.0
        self._open()

    # ------------------------------------------------------------------ state
    @property
    def healthy(self) -> bool:
        return self.problem is None

    def _open(self) -> bool:
        """(Re)open the file if it passes the check; False (and the problem kept) if it does not."""
        if self.store is not None:
            return True
        try:
            if not self.path.exists():
                self._set_aside_orphans()
            check_store(self.path)
            store = HistoryWriter(self.path)
            stat = os.stat(self.path)
        except STORE_ERRORS as exc:
            self._down(exc)
            return False
        file_id = (stat.st_dev, stat.st_ino)
        if file_id != self._file_id:
            self._generation += 1
            self._file_id = file_id
        self.store = store
        return True

    def _set_aside_orphans(self) -> None:
        """A -wal / -shm left by a file moved aside would be replayed into the fresh file: move them along."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("-wal", "-shm"):
            orphan = Path(f"{self.path}{suffix}")
            if orphan.exists():
                orphan.rename(f"{orphan}.orphan-{stamp}")

    def _down(self, exc: BaseException) -> None:
        problem = describe_failure(self.path, exc)
        if self.problem is None:
            self.stats["store_failures"] += 1
            logger.error("%s; counts are kept in memory until it works again", problem)
        self.problem = problem
        if self.store is not None:
            try:
                self.store.close()
            except sqlite3.Error:
                pass
            self.store = None

    def retry(self, now: float) -> None:
        """While down: every retry_s, reopen the file and write what waited."""
        if self.store is not None and not self.pending:
            return
        if now < self._next_retry:
            return
        self._next_retry = now + self.retry_s
        waiting = len(self.pending)
        if self._open() and self._flush():
            if self.problem is not None:
                logger.warning("history store %s works again: %d waiting writes written", self.path, waiting)
                self.stats["store_recoveries"] += 1
            self.problem = None

    def describe(self) -> str | None:
        """The problem as the health panel shows it, with what is waiting."""
        if self.problem is None:
            return None
        return f"{self.problem}; {len(self.pending)} writes waiting in memory"

    # ------------------------------------------------------------------ writes
    def _do(self, op: str, *args) -> None:
        if len(self.pending) >= self.max_pending:
            self._make_room()
        self.pending.append((op, args))
        if self.store is not None and len(self.pending) == 1:
            self._flush()

    def _make_room(self) -> None:
        for i, (op, _) in enumerate(self.pending):
            if op == "cue":
                del self.pending[i]
                self.stats["store_dropped"] += 1
                return
        self.pending.popleft()
        self.stats["store_dropped"] += 1

    def _flush(self) -> bool:
        """Write waiting operations in order; False (store down) at the first that fails."""
        while self.pending:
            op, args = self.pending[0]
            try:
                self._apply(op, args)
            except STORE_ERRORS as exc:
                self._down(exc)
                return False
            except Exception as exc:   # the store refused this one write itself (a bug upstream): it must not
                self.stats["store_rejected"] += 1   # block every write behind it
                if self.stats["store_rejected"] == 1 or self.stats["store_rejected"] % 1000 == 0:
                    logger.error("history store %s refused a %s write (%d so far): %r", self.path, op,
                                 self.stats["store_rejected"], exc)
            self.pending.popleft()
        return True

    def _handle(self, recipe: tuple) -> int:
        handle = self._next_handle
        self._next_handle += 1
        self._recipes[handle] = recipe
        return handle

    def start_session(self, session_id: str, started_at: float, source: str = "") -> None:
        self._sessions[session_id] = (started_at, source)
        self._do("session", session_id)

    def reopen_session(self, session_id: str) -> None:
        self._do("reopen", session_id)

    def end_session(self, session_id: str, ended_at: float) -> None:
        self._do("end", session_id, ended_at)

    def open_set(self, session_id: str, exercise: str, number: int, started_at: float) -> int:
        handle = self._handle(("set", session_id, exercise, number, started_at))
        self._do("set", handle)
        return handle

    def close_set(self, set_id: int, ended_at: float) -> None:
        self._do("close_set", set_id, ended_at)

    def record_rep(self, session_id: str, set_id: int, exercise: str, number: int, ts: float, duration_s: float,
                   range_of_motion: float | None, form_score: float | None, cues: list[str]) -> None:
        self._do("rep", session_id, set_id, exercise, number, ts, duration_s, range_of_motion, form_score,
                 list(cues))

    def start_hold(self, session_id: str, set_id: int, exercise: str, started_at: float) -> int:
        handle = self._handle(("hold", session_id, set_id, exercise, started_at))
        self._do("hold", handle)
        return handle

    def update_hold(self, hold_id: int, seconds: float) -> None:
        self._do("update_hold", hold_id, seconds)

    def delete_hold(self, hold_id: int) -> None:
        self._do("delete_hold", hold_id)

    def record_cue(self, session_id: str, ts: float, exercise: str, kind: str, text: str) -> None:
        self._do("cue", session_id, ts, exercise, kind, text)

    # ------------------------------------------------------------------ applying one write
    def _apply(self, op: str, args: tuple) -> None:
        store = self.store
        if op == "session":
            self._ensure_session(args[0])
        elif op == "reopen":
            self._ensure_session(args[0])
            store.reopen_session(args[0])
        elif op == "end":
            self._ensure_session(args[0])
            store.end_session(*args)
            self._forget_session(args[0])
        elif op in ("set", "hold"):
            self._row(args[0])
        elif op == "close_set":
            store.close_set(self._row(args[0]), args[1])
        elif op == "rep":
            session_id, set_handle, *rest = args
            self._ensure_session(session_id)
            store.record_rep(session_id, self._row(set_handle), *rest)
        elif op == "update_hold":
            store.update_hold(self._row(args[0]), args[1])
        elif op == "delete_hold":
            store.delete_hold(self._row(args[0]))
            self._rows.pop(args[0], None)
            self._recipes.pop(args[0], None)
        elif op == "cue":
            self._ensure_session(args[0])
            store.record_cue(*args)

    def _ensure_session(self, session_id: str) -> None:
        """The session's row exists in the current file (written again into a fresh file)."""
        if self._session_gen.get(session_id) == self._generation:
            return
        started_at, source = self._sessions.get(session_id, (time.time(), ""))
        self.store.start_session(session_id, started_at, source)
        self._session_gen[session_id] = self._generation

    def _row(self, handle: int) -> int:
        """The row id of a set or hold in the current file, created (again) from its recipe if need be."""
        known = self._rows.get(handle)
        if known is not None and known[0] == self._generation:
            return known[1]
        recipe = self._recipes.get(handle)
        if recipe is None:
            raise StoreError(f"history store {self.path}: unknown set or hold {handle}")
        if recipe[0] == "set":
            _, session_id, exercise, number, started_at = recipe
            self._ensure_session(session_id)
            row = self.store.open_set(session_id, exercise, number, started_at)
        else:
            _, session_id, set_handle, exercise, started_at = recipe
            self._ensure_session(session_id)
            row = self.store.start_hold(session_id, self._row(set_handle), exercise, started_at)
        self._rows[handle] = (self._generation, row)
        return row

    def _forget_session(self, session_id: str) -> None:
        """An ended session's handles are not needed any more (keeps the maps as small as the open sessions)."""
        for handle in [h for h, r in self._recipes.items() if r[1] == session_id]:
            self._recipes.pop(handle, None)
            self._rows.pop(handle, None)
        self._sessions.pop(session_id, None)
        self._session_gen.pop(session_id, None)

    # ------------------------------------------------------------------ reads (the coach's resume)
    def restore(self, session_id: str) -> dict | None:
        """HistoryReader.restore, with the last set's id turned into one of our handles. While the store refuses
        writes it may still be read (a read-only file): the counts made before are resumed all the same."""
        if self.pending:
            return None   # the file is behind what this coach knows
        if self.store is not None:
            restored = self._read(lambda store: store.restore(session_id), None)
        else:
            restored = self._read_only(session_id)
        if restored is None:
            return None
        self._sessions[session_id] = (restored["started_at"] or time.time(), restored["source"] or "")
        self._session_gen[session_id] = self._generation
        last = restored.get("last_set")
        if last is not None:
            handle = self._handle(("set", session_id, last["exercise"], last["number"], last["started_at"]))
            self._rows[handle] = (self._generation, last["id"])
            restored["last_set"] = {**last, "id": handle}
        return restored

    def session_known(self, session_id: str) -> bool:
        return self._read(lambda store: store.session_known(session_id), False)

    def session_totals(self, session_id: str) -> dict[str, dict]:
        return self._read(lambda store: store.session_totals(session_id), {})

    def open_sessions(self) -> list[dict]:
        """HistoryReader.open_sessions; while the store refuses writes it may still be read (a read-only file)."""
        if self.store is not None:
            return self._read(lambda store: store.open_sessions(), [])
        reader = HistoryReader(self.path)
        try:
            return reader.open_sessions()
        except STORE_ERRORS:
            return []
        finally:
            reader.close()

    def _read_only(self, session_id: str) -> dict | None:
        reader = HistoryReader(self.path)
        try:
            restored = reader.restore(session_id)
            stat = os.stat(self.path)
        except STORE_ERRORS:
            return None
        finally:
            reader.close()
        if self._file_id != (stat.st_dev, stat.st_ino):
            # The row ids read belong to this file: the generation it gets once it takes writes again.
            self._file_id = (stat.st_dev, stat.st_ino)
            self._generation += 1
        return restored

    def _read(self, query, default):
        if self.store is None:
            return default
        try:
            return query(self.store)
        except STORE_ERRORS as exc:
            self._down(exc)
            return default

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Write what waited; if the store is still down, to a fresh file beside it (and say where)."""
        if self.pending:
            self._next_retry = 0.0
            self.retry(time.time())
        if self.pending:
            self._rescue()
        if self.store is not None:
            self.store.close()
            self.store = None

    def _rescue(self) -> None:
        rescue = self.path.with_name(f"{self.path.name}.unsaved-{time.strftime('%Y%m%d-%H%M%S')}.sqlite3")
        waiting = len(self.pending)
        try:
            self.store = HistoryWriter(rescue)
            self._generation += 1
            self._file_id = None
            flushed = self._flush()
        except STORE_ERRORS:
            flushed = False
        if flushed:
            logger.error("history store %s still failing at stop: %d waiting writes saved to %s (merge them with "
                         "`sqlite3 %s .dump`)", self.path, waiting, rescue, rescue)
        else:
            logger.error("history store %s still failing at stop, and %s cannot be written either: %d writes lost",
                         self.path, rescue, len(self.pending))
