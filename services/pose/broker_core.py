"""Load-balancing broker logic: workers ask for frames, sessions are served round-robin, live frames latest-only."""
from __future__ import annotations

import logging
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field

from common.messages import Credit, EndOfStream, Envelope, Frame, FrameSkipped, Message

logger = logging.getLogger(__name__)


@dataclass
class _Session:
    source: bytes                      # routing id of the capture that sends this session's frames
    live: bool = True
    queue: deque = field(default_factory=deque)   # Frame messages waiting for a worker
    in_flight: int = 0
    end: EndOfStream | None = None     # held until every frame before it has left the broker
    last_seen: float = 0.0


@dataclass
class _Job:
    worker: bytes
    frame: Frame
    since: float


@dataclass
class Actions:
    """What the runner must do after a call; the core itself never touches a socket."""

    to_workers: list[tuple[bytes, Message]] = field(default_factory=list)   # frames (jobs) and end-of-stream
    to_sources: list[tuple[bytes, Message]] = field(default_factory=list)
    publish: list[Message] = field(default_factory=list)

    def extend(self, other: "Actions") -> None:
        self.to_workers += other.to_workers
        self.to_sources += other.to_sources
        self.publish += other.publish


class BrokerCore:
    """Dispatches frames of many sessions to idle workers.

    Fairness: sessions take turns (round-robin), so a session that sends fast cannot starve another.
    Live sessions keep only their newest waiting frame (older ones are skipped and announced, never queued
    behind a slow pool). Offline sessions (analyze) lose nothing: their sources hold a credit window, and a
    frame lost with a dead worker is re-queued.

    Affinity: a worker keeps a BlazePose tracker per session, and a tracker that sees only every other
    frame gives different (and less stable) landmarks. An offline session therefore stays on one worker
    (results identical to a single-tracker run, whatever the pool size; clips run in parallel on
    different workers). A live session prefers its last worker but takes any idle one rather than wait:
    for a camera, keeping up beats tracker continuity.
    """

    def __init__(self, worker_timeout_s: float = 3.0, live_queue: int = 1, session_idle_s: float = 300.0):
        self.worker_timeout_s = worker_timeout_s
        self.session_idle_s = session_idle_s
        self.live_queue = live_queue
        self.sessions: OrderedDict[str, _Session] = OrderedDict()
        self.idle: OrderedDict[bytes, float] = OrderedDict()   # worker -> last heard
        self.jobs: dict[bytes, _Job] = {}                       # busy worker -> its job
        self.owner: dict[str, bytes] = {}                       # session -> worker holding its tracker
        self.stats = {"frames_in": 0, "frames_out": 0, "dropped_live": 0, "requeued": 0, "results": 0,
                      "late_results": 0}

    # -------------------------------------------------------------------------------- inputs
    def on_source(self, source: bytes, msg: Message | Envelope, now: float) -> Actions:
        # A frame may come as an Envelope (header only, frames untouched): the runner forwards those unopened.
        if msg.TYPE == Frame.TYPE:
            return self._on_frame(source, msg, now)
        if isinstance(msg, EndOfStream):
            sess = self.sessions.setdefault(msg.session, _Session(source=source))
            sess.end = msg
            return self._maybe_finish(msg.session)
        return Actions()

    def _on_frame(self, source: bytes, frame: Frame, now: float) -> Actions:
        self.stats["frames_in"] += 1
        sess = self.sessions.get(frame.session)
        if sess is None:
            sess = self.sessions[frame.session] = _Session(source=source, live=frame.live)
        sess.source, sess.live, sess.last_seen = source, frame.live, now
        out = Actions()
        if sess.live:
            while len(sess.queue) >= self.live_queue:
                old = sess.queue.popleft()
                self.stats["dropped_live"] += 1
                out.publish.append(FrameSkipped(session=old.session, seq=old.seq, ts_capture=old.ts_capture,
                                                reason="dropped: workers busy"))
        sess.queue.append(frame)
        out.extend(self.dispatch(now))
        return out

    def on_worker_ready(self, worker: bytes, now: float) -> Actions:
        job = self.jobs.get(worker)
        if job is not None:
            # A worker that asks again without a result restarted: its frame is lost, give it to someone.
            self._requeue(self.jobs.pop(worker))
        self.idle[worker] = now
        self.idle.move_to_end(worker)
        return self.dispatch(now)

    def on_worker_result(self, worker: bytes, msg: Message, now: float) -> Actions:
        out = Actions()
        job = self.jobs.pop(worker, None)
        self.idle[worker] = now
        if job is None or job.frame.session != msg.session or job.frame.seq != msg.seq:
            # Result for a job we already gave away (worker presumed dead, came back): the re-queued
            # copy will produce the answer; publishing both would duplicate the frame downstream.
            self.stats["late_results"] += 1
        else:
            self.stats["results"] += 1
            out.publish.append(msg)
            sess = self.sessions.get(msg.session)
            if sess is not None:
                sess.in_flight -= 1
                if not sess.live:
                    out.to_sources.append((sess.source, Credit(session=msg.session, seq=msg.seq, credit=1)))
                out.extend(self._maybe_finish(msg.session))
        out.extend(self.dispatch(now))
        return out

    # -------------------------------------------------------------------------------- scheduling
    def dispatch(self, now: float) -> Actions:
        out = Actions()
        while self.idle:
            picked = self._next_job()
            if picked is None:
                break
            session, worker = picked
            del self.idle[worker]
            sess = self.sessions[session]
            frame = sess.queue.popleft()
            sess.in_flight += 1
            self.owner[session] = worker
            self.jobs[worker] = _Job(worker, frame, now)
            self.stats["frames_out"] += 1
            out.to_workers.append((worker, frame))
        return out

    def _next_job(self) -> tuple[str, bytes] | None:
        """The next session in round-robin order that has a frame and a worker it may use now."""
        for session in list(self.sessions):
            sess = self.sessions[session]
            if not sess.queue:
                continue
            worker = self._worker_for(session, sess)
            if worker is not None:
                self.sessions.move_to_end(session)   # round-robin: served sessions go to the back
                return session, worker
        return None

    def _worker_for(self, session: str, sess: _Session) -> bytes | None:
        owner = self.owner.get(session)
        if owner in self.idle:
            return owner
        if owner in self.jobs and not sess.live:
            return None   # wait for the worker that holds this session's tracker
        # A new home: the idle worker holding the fewest sessions, longest idle first.
        load = Counter(self.owner.values())
        return min(self.idle, key=lambda w: load[w])

    def undeliverable(self, worker: bytes) -> None:
        """The runner could not hand a job to its worker (peer gone): forget the worker, keep the frame."""
        job = self.jobs.pop(worker, None)
        self.idle.pop(worker, None)
        self._disown(worker)
        if job is not None:
            self._requeue(job)

    def _disown(self, worker: bytes) -> None:
        for session in [s for s, w in self.owner.items() if w == worker]:
            del self.owner[session]

    def _requeue(self, job: _Job) -> None:
        sess = self.sessions.get(job.frame.session)
        if sess is None:
            return
        sess.in_flight -= 1
        sess.queue.appendleft(job.frame)
        self.stats["requeued"] += 1

    def _maybe_finish(self, session: str) -> Actions:
        sess = self.sessions.get(session)
        out = Actions()
        if sess is not None and sess.end is not None and not sess.queue and sess.in_flight <= 0:
            out.publish.append(sess.end)
            del self.sessions[session]
            owner = self.owner.pop(session, None)
            if owner is not None:
                # The worker can free this session's tracker (~100 MB) now instead of when it is evicted.
                out.to_workers.append((owner, sess.end))
        return out

    def expire(self, now: float) -> Actions:
        """Forget workers not heard from within the timeout; their frames go back to the queue."""
        out = Actions()
        for worker, job in list(self.jobs.items()):
            if now - job.since > self.worker_timeout_s:
                logger.warning("pose worker %r silent for %.1f s: re-queueing its frame", worker,
                               now - job.since)
                del self.jobs[worker]
                self._disown(worker)
                self._requeue(job)
        for worker, last in list(self.idle.items()):
            if now - last > self.worker_timeout_s:
                del self.idle[worker]
                self._disown(worker)
        for session, sess in list(self.sessions.items()):
            # A source that vanished without end-of-stream must not keep its session forever.
            if not sess.queue and sess.in_flight <= 0 and now - sess.last_seen > self.session_idle_s:
                del self.sessions[session]
                self.owner.pop(session, None)
        out.extend(self.dispatch(now))
        return out

    @property
    def workers(self) -> int:
        return len(self.idle) + len(self.jobs)

    def snapshot(self) -> dict:
        return {**self.stats, "workers": self.workers, "busy": len(self.jobs),
                "sessions": len(self.sessions), "queued": sum(len(s.queue) for s in self.sessions.values())}
