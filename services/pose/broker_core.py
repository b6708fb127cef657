"""Load-balancing broker logic: workers ask for frames, sessions are served round-robin, live frames latest-only."""
from __future__ import annotations

import logging
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field

from common.messages import Credit, EndOfStream, Envelope, Frame, FrameSkipped, Message

logger = logging.getLogger(__name__)
ACTIVE_S = 5.0   # a live session that sent a frame this recently is a trainee in the class (a closed tab is not)
# A frame whose worker is full of other sessions' trackers makes it let one go and build its own (~5 tracked frames'
# time). Served in turn, a class larger than the trackers would do that on nearly every frame (simulated, 10 trainees
# on 2 workers of 4 trackers: 2.0 frames/s each, 91 % of frames building a tracker). So a full worker builds at most
# one tracker in MISS_EVERY_S while it has frames of the sessions it holds, for the trainee kept waiting longest,
# and lets go of the tracker built longest ago: the trainees beyond the trackers take turns out, about a second each
# (simulated: 8.6-8.7 frames/s each, 2 % of frames building).
MISS_EVERY_S = 1.0
MIN_JOBS_BETWEEN_BUILDS = 8   # ... and after at least this many frames: on a slow worker, building stays a small share
STALE_S = 2.0    # a session whose tracker was not used this long goes first when a full worker must let one go
TRACKER_RELEASED = "tracker released: more trainees than trackers"

# A session that has had this many frames served (about a second of camera) is a trainee, no longer a newcomer:
# newcomers share one bounded queue and one worker turn in NEWCOMER_EVERY, so a flood of one-frame sessions cannot
# starve the trainees already counting (a newcomer's frame also costs a worker a new tracker, ~5x a tracked frame).
ESTABLISHED_FRAMES = 30
NEWCOMER_EVERY = 4
# An offline session's source keeps `offline_window` frames in flight; a source that ignores its credit is cut off
# at this many waiting frames.
OFFLINE_QUEUE_MAX = 32
# All waiting frames together, established sessions included, are capped at this multiple of max_queued.
TOTAL_QUEUE_FACTOR = 4


@dataclass
class _Session:
    source: bytes                      # routing id of the capture that sends this session's frames
    live: bool = True
    queue: deque = field(default_factory=deque)   # Frame messages waiting for a worker
    in_flight: int = 0
    end: EndOfStream | None = None     # held until every frame before it has left the broker
    last_seen: float = 0.0
    served: int = 0                    # frames handed to workers
    served_at: float = float("-inf")   # when it last was
    tries: dict = field(default_factory=dict)   # seq -> workers the frame was lost with

    @property
    def established(self) -> bool:
        return self.served >= ESTABLISHED_FRAMES

    @property
    def idle(self) -> bool:
        return not self.queue and self.in_flight <= 0


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
    different workers). A live session prefers its last worker; when that one is busy it takes an idle worker
    that already holds its tracker or has room for one more (`worker_trackers`, as the workers' LRU keeps them),
    and otherwise waits for its own (a frame's time at most) unless the move evens the load out (an idle worker
    holding at least two sessions fewer). A move onto a full worker costs a new tracker (~5 tracked frames) and
    evicts another trainee's: when live sessions took any idle worker, 8 trainees on 2 workers of 4 trackers spent
    80 ms of BlazePose a frame instead of 25, and got 1.4 frames/s each. A class larger than the trackers takes
    turns without one (MISS_EVERY_S).
    """

    def __init__(self, worker_timeout_s: float = 3.0, live_queue: int = 1, session_idle_s: float = 300.0,
                 max_tries: int = 3, max_queued: int = 64, max_sessions: int = 256, worker_trackers: int = 4):
        self.worker_timeout_s = worker_timeout_s
        self.session_idle_s = session_idle_s
        self.live_queue = live_queue
        self.max_tries = max_tries
        self.max_queued = max_queued          # frames of newcomer sessions waiting, all together
        self.max_sessions = max_sessions
        self.sessions: OrderedDict[str, _Session] = OrderedDict()
        self.idle: OrderedDict[bytes, float] = OrderedDict()   # worker -> last heard
        self.jobs: dict[bytes, _Job] = {}                       # busy worker -> its job
        self.owner: dict[str, bytes] = {}                       # session -> worker holding its tracker
        # worker -> the sessions whose trackers it holds, least recently served first (its LRU, mirrored), each
        # with the time its tracker was built
        self.trackers: dict[bytes, OrderedDict[str, float]] = {}
        self.worker_trackers = worker_trackers
        self.over_capacity = False  # more live sessions than the workers keep trackers for (see `expire`)
        self._last_miss: dict[bytes, float] = {}   # worker -> when it last built a tracker in place of one in use
        self._newcomers_build = False              # whose turn the next tracker a full worker builds is
        self._since_build: dict[bytes, int] = {}   # worker -> frames it was given since it last built a tracker
        self.queued = 0             # frames waiting, all sessions
        self.newcomer_queued = 0    # of which belong to sessions not yet established
        self._since_newcomer = 0    # established sessions served since a newcomer was
        self.stats = {"frames_in": 0, "frames_out": 0, "dropped_live": 0, "requeued": 0, "results": 0,
                      "late_results": 0, "skipped_after_tries": 0, "refused_busy": 0, "sessions_evicted": 0,
                      "trackers_released": 0}

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
        out = Actions()
        sess = self.sessions.get(frame.session)
        # A refused frame of a new session leaves no trace: the table is not churned by frames never served.
        if sess is None and self.newcomer_queued >= self.max_queued:
            return self._refuse(source, frame, "broker busy: too many new sessions")
        if sess is None and len(self.sessions) >= self.max_sessions and not self._evict_idle_session():
            return self._refuse(source, frame, "broker full: too many sessions")
        new = sess is None
        if new:
            sess = self.sessions[frame.session] = _Session(source=source, live=frame.live)
        sess.source, sess.live, sess.last_seen = source, frame.live, now
        if new and sess.live and not self.over_capacity:
            self._check_capacity(now)
        if sess.live:
            while len(sess.queue) >= self.live_queue:
                old = self._pop(sess)
                sess.tries.pop(old.seq, None)
                self.stats["dropped_live"] += 1
                out.publish.append(FrameSkipped(session=old.session, seq=old.seq, ts_capture=old.ts_capture,
                                                reason="dropped: workers busy"))
        refusal = self._refusal(sess)
        if refusal is not None:
            out.extend(self._refuse(source, frame, refusal))
            return out
        self._push(sess, frame)
        out.extend(self.dispatch(now))
        return out

    def _refusal(self, sess: _Session) -> str | None:
        if not sess.live and len(sess.queue) >= OFFLINE_QUEUE_MAX:
            return "over the session's credit"
        if not sess.established and self.newcomer_queued >= self.max_queued:
            return "broker busy: too many new sessions"
        if self.queued >= TOTAL_QUEUE_FACTOR * self.max_queued:
            return "broker busy: too many frames waiting"
        return None

    # Every frame enters and leaves a queue through these (and _forget), so the counts stay exact.
    def _push(self, sess: _Session, frame: Frame, front: bool = False) -> None:
        (sess.queue.appendleft if front else sess.queue.append)(frame)
        self.queued += 1
        if not sess.established:
            self.newcomer_queued += 1

    def _pop(self, sess: _Session) -> Frame:
        self.queued -= 1
        if not sess.established:
            self.newcomer_queued -= 1
        return sess.queue.popleft()

    def _refuse(self, source: bytes, frame: Frame, reason: str) -> Actions:
        """Skip a frame at the door; an offline one still returns its credit, or its source would stall."""
        self.stats["refused_busy"] += 1
        out = Actions(publish=[FrameSkipped(session=frame.session, seq=frame.seq, ts_capture=frame.ts_capture,
                                            reason=reason)])
        if not frame.live:
            out.to_sources.append((source, Credit(session=frame.session, seq=frame.seq, credit=1)))
        return out

    def _evict_idle_session(self) -> bool:
        """Forget a session with nothing waiting or in flight (it comes back if it sends): the least recently served
        newcomer, or else the established session heard from longest ago (a trainee loses its standing last)."""
        oldest = None
        for session, sess in self.sessions.items():
            if not sess.idle or sess.end is not None:
                continue
            if not sess.established:
                oldest = session
                break
            if oldest is None or sess.last_seen < self.sessions[oldest].last_seen:
                oldest = session
        if oldest is None:
            return False
        self._forget(oldest)
        self.stats["sessions_evicted"] += 1
        return True

    def _forget(self, session: str) -> None:
        sess = self.sessions.pop(session)
        self.queued -= len(sess.queue)
        if not sess.established:
            self.newcomer_queued -= len(sess.queue)
        self.owner.pop(session, None)

    def on_worker_ready(self, worker: bytes, now: float) -> Actions:
        out = Actions()
        job = self.jobs.get(worker)
        if job is not None:
            # A worker that asks again without a result restarted: its frame is lost, give it to someone.
            out.extend(self._requeue(self.jobs.pop(worker)))
            self.trackers.pop(worker, None)   # and its trackers with it
        self.idle[worker] = now
        self.idle.move_to_end(worker)
        out.extend(self.dispatch(now))
        return out

    def on_worker_result(self, worker: bytes, msg: Message, now: float) -> Actions:
        out = Actions()
        job = self.jobs.get(worker)
        if job is not None and (job.frame.session != msg.session or job.frame.seq != msg.seq):
            # The answer to a frame this worker had before its current job (its keepalive "ready" crossed that
            # frame, and the broker took it for a restart and gave the frame out again): the re-queued copy
            # answers for it. The worker is still busy with its current job: keep it, or every later answer of
            # this worker would be taken for the one before and dropped, and the stream would never end.
            self.stats["late_results"] += 1
            return out
        self.jobs.pop(worker, None)
        self.idle[worker] = now
        if job is None:
            # Result for a job we already gave away (worker presumed dead, came back): the re-queued
            # copy will produce the answer; publishing both would duplicate the frame downstream.
            self.stats["late_results"] += 1
        else:
            self.stats["results"] += 1
            out.publish.append(msg)
            sess = self.sessions.get(msg.session)
            if sess is not None:
                sess.in_flight -= 1
                sess.tries.pop(msg.seq, None)
                if not sess.live:
                    out.to_sources.append((sess.source, Credit(session=msg.session, seq=msg.seq, credit=1)))
                out.extend(self._maybe_finish(msg.session))
        out.extend(self.dispatch(now))
        return out

    # -------------------------------------------------------------------------------- scheduling
    def dispatch(self, now: float) -> Actions:
        out = Actions()
        while self.idle:
            picked = self._next_job(now)
            if picked is None:
                break
            session, worker = picked
            del self.idle[worker]
            sess = self.sessions[session]
            frame = self._pop(sess)
            sess.in_flight += 1
            sess.served += 1
            sess.served_at = now
            if sess.served == ESTABLISHED_FRAMES:
                self.newcomer_queued -= len(sess.queue)   # its waiting frames leave the newcomers' share
            self.owner[session] = worker
            held = self.trackers.setdefault(worker, OrderedDict())
            if self.over_capacity and self._evicts(session, worker):
                # The worker would evict its least recently served tracker, which in a class taking turns is
                # anyone's; the broker names the one to let go (see `_victim`) so that every trainee is out alike.
                victim = self._unused(held, now)
                if victim is None:   # a tracker in use: that is what MISS_EVERY_S paces
                    victim = self._victim(held)
                    self._last_miss[worker] = now
                    self._since_build[worker] = 0
                    self._newcomers_build = not self._newcomers_build
                del held[victim]
                out.to_workers.append((worker, EndOfStream(session=victim, seq=0, reason=TRACKER_RELEASED)))
                self.stats["trackers_released"] += 1
            self._since_build[worker] = self._since_build.get(worker, 0) + 1
            if session in held:
                held.move_to_end(session)
            else:
                held[session] = now
            while len(held) > self.worker_trackers:
                held.popitem(last=False)
            self.jobs[worker] = _Job(worker, frame, now)
            self.stats["frames_out"] += 1
            out.to_workers.append((worker, frame))
        return out

    def _full(self, worker: bytes) -> bool:
        return len(self.trackers.get(worker, ())) >= self.worker_trackers

    def _evicts(self, session: str, worker: bytes) -> bool:
        """Would this session's frame make the worker evict another session's tracker to build its own?"""
        return self._full(worker) and session not in self.trackers.get(worker, ())

    def _victim(self, held: OrderedDict) -> str:
        """The tracker in use a full worker lets go (when none is `_unused`): a newcomer's with no frame waiting (a
        flood of one-frame newcomers never costs a trainee its tracker), least recently served first; else the one
        built longest ago, so the trainees beyond the trackers take equal turns out."""
        for session in held:
            sess = self.sessions[session]
            if not sess.queue and not sess.established:
                return session
        return min(held, key=held.get)

    def _unused(self, held: OrderedDict, now: float) -> str | None:
        """A tracker nobody uses: of a session gone, or of one with no frame waiting that was not served for
        STALE_S (a closed tab); least recently served first."""
        for session in held:
            sess = self.sessions.get(session)
            if sess is None or not sess.queue and now - sess.served_at > STALE_S:
                return session
        return None

    def _may_build(self, worker: bytes, now: float) -> bool:
        """May this full worker build a tracker now? At once if it holds one nobody uses; in place of another
        session's, when `_paced` allows."""
        return self._unused(self.trackers.get(worker, OrderedDict()), now) is not None or self._paced(worker, now)

    def _paced(self, worker: bytes, now: float) -> bool:
        """At most one tracker in place of another session's every MISS_EVERY_S and MIN_JOBS_BETWEEN_BUILDS frames."""
        return (now - self._last_miss.get(worker, float("-inf")) >= MISS_EVERY_S
                and self._since_build.get(worker, MIN_JOBS_BETWEEN_BUILDS) >= MIN_JOBS_BETWEEN_BUILDS)

    def _next_job(self, now: float) -> tuple[str, bytes] | None:
        """The next session in round-robin order that has a frame and a worker it may use now.

        Newcomers get one turn in NEWCOMER_EVERY, established sessions the others (either takes a turn the other has
        no use for), so however many newcomers wait, the trainees already counting keep most of the workers' time.
        Over capacity, a frame that would evict a tracker in use waits while its worker has others to do (see
        MISS_EVERY_S).
        """
        newcomers_turn = self._since_newcomer >= NEWCOMER_EVERY - 1
        # Over capacity, a full worker that may build a tracker now builds the one of the session kept waiting
        # longest for one: the trainees beyond the trackers take turns, on any worker. Trainees and newcomers (not
        # yet established) take these turns alternately: a flood of newcomers never keeps a trainee out for long,
        # nor a class of trainees a newcomer.
        spare = [w for w in self.idle if self._full(w) and self._paced(w, now)
                 and self._unused(self.trackers[w], now) is None] if self.over_capacity else []
        if spare:
            tracked = set().union(*self.trackers.values())
            homeless = [(sess.served_at, i, session) for i, (session, sess) in enumerate(self.sessions.items())
                        if sess.live and sess.queue and sess.established != self._newcomers_build
                        and session not in tracked]
            if homeless:
                return self._take(min(homeless)[2], spare[0])
        fallback = deferred = None
        for session, sess in self.sessions.items():
            if not sess.queue:
                continue
            worker = self._worker_for(session, sess)
            if worker is None:
                continue
            if self.over_capacity and self._evicts(session, worker) and not self._may_build(worker, now):
                deferred = deferred or (session, worker)   # only if its worker has nothing else to do
                continue
            if sess.established != newcomers_turn:   # the kind of session whose turn it is
                picked = session, worker
                break
            if fallback is None:
                fallback = session, worker
        else:
            picked = fallback or deferred
        if picked is None:
            return None
        return self._take(*picked)

    def _take(self, session: str, worker: bytes) -> tuple[str, bytes]:
        # Round-robin within a kind: served sessions go to the back.
        self._since_newcomer = self._since_newcomer + 1 if self.sessions[session].established else 0
        self.sessions.move_to_end(session)
        return session, worker

    def _worker_for(self, session: str, sess: _Session) -> bytes | None:
        owner = self.owner.get(session)
        if owner in self.idle:
            return owner
        if owner in self.jobs and not sess.live:
            return None   # wait for the worker that holds this session's tracker
        # A new home (a new session, or its worker gone): the idle worker holding the fewest sessions, longest
        # idle first.
        load = Counter(self.owner.values())
        lightest = min(self.idle, key=lambda w: load[w])
        if owner in self.jobs:
            # Live: an idle worker that holds its tracker or has room for one (see the class's note) ...
            roomy = [w for w in self.idle if session in self.trackers.get(w, ())
                     or len(self.trackers.get(w, ())) < self.worker_trackers]
            if roomy:
                return min(roomy, key=lambda w: (session not in self.trackers.get(w, ()), load[w]))
            # ... else its own, unless moving evens the load out.
            return lightest if load[lightest] + 2 <= load[owner] else None
        return lightest

    def undeliverable(self, worker: bytes) -> Actions:
        """The runner could not hand a job to its worker (peer gone): forget the worker, keep the frame (the
        frame never reached a worker, so this is no try of its)."""
        job = self.jobs.pop(worker, None)
        self.idle.pop(worker, None)
        self._disown(worker)
        if job is not None:
            return self._requeue(job, lost=False)
        return Actions()

    def _disown(self, worker: bytes) -> None:
        """A worker gone: its trackers and its pacing go with it (a restarted worker comes back as a new one)."""
        self.trackers.pop(worker, None)
        self._last_miss.pop(worker, None)
        self._since_build.pop(worker, None)
        for session in [s for s, w in self.owner.items() if w == worker]:
            del self.owner[session]

    def _requeue(self, job: _Job, lost: bool = True) -> Actions:
        """Put a frame whose worker died (or fell silent) back at the head of its queue, unless it has now been
        lost with `max_tries` workers: a frame that kills every worker it meets is skipped, not retried forever."""
        sess = self.sessions.get(job.frame.session)
        if sess is None:
            return Actions()
        sess.in_flight -= 1
        frame = job.frame
        tries = sess.tries.get(frame.seq, 0) + (1 if lost else 0)
        if tries >= self.max_tries:
            sess.tries.pop(frame.seq, None)
            self.stats["skipped_after_tries"] += 1
            logger.warning("frame %d of %s lost with %d workers: skipped", frame.seq, frame.session, tries)
            out = Actions(publish=[FrameSkipped(session=frame.session, seq=frame.seq, ts_capture=frame.ts_capture,
                                                reason=f"lost with {tries} pose workers")])
            if not sess.live:
                out.to_sources.append((sess.source, Credit(session=frame.session, seq=frame.seq, credit=1)))
            out.extend(self._maybe_finish(frame.session))
            return out
        sess.tries[frame.seq] = tries
        self._push(sess, frame, front=True)
        self.stats["requeued"] += 1
        return Actions()

    def _maybe_finish(self, session: str) -> Actions:
        sess = self.sessions.get(session)
        out = Actions()
        if sess is not None and sess.end is not None and not sess.queue and sess.in_flight <= 0:
            out.publish.append(sess.end)
            owner = self.owner.get(session)
            self._forget(session)
            if owner is not None:
                # The worker can free this session's tracker (~100 MB) now instead of when it is evicted.
                out.to_workers.append((owner, sess.end))
                self.trackers.get(owner, {}).pop(session, None)
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
                out.extend(self._requeue(job))
        for worker, last in list(self.idle.items()):
            if now - last > self.worker_timeout_s:
                del self.idle[worker]
                self._disown(worker)
        for session, sess in list(self.sessions.items()):
            # A source that vanished without end-of-stream must not keep its session forever.
            if sess.idle and now - sess.last_seen > self.session_idle_s:
                self._forget(session)
        self._check_capacity(now)
        out.extend(self.dispatch(now))
        return out

    def _check_capacity(self, now: float) -> None:
        """Say so when the class outgrows the trackers: beyond workers x `worker_trackers` live sessions the
        trainees beyond them take turns out (see MISS_EVERY_S), each missing about a second of frames now and
        then, and everyone's frame rate drops with the tracker building."""
        live = sum(1 for sess in self.sessions.values()
                   if sess.live and sess.end is None and now - sess.last_seen <= ACTIVE_S)
        slots = self.workers * self.worker_trackers
        over = slots > 0 and live > slots
        if over and not self.over_capacity:
            logger.warning("%d live sessions for %d pose trackers (%d workers x %d): trainees take turns without a "
                           "tracker, about a second each; add pose workers or raise pose_sessions_per_worker (a "
                           "tracker is ~110-130 MB)", live, slots, self.workers, self.worker_trackers)
        elif self.over_capacity and not over:
            logger.info("%d live sessions for %d pose trackers: within capacity again", live, slots)
        self.over_capacity = over

    @property
    def workers(self) -> int:
        return len(self.idle) + len(self.jobs)

    def snapshot(self) -> dict:
        return {**self.stats, "workers": self.workers, "busy": len(self.jobs), "over_capacity": int(self.over_capacity),
                "sessions": len(self.sessions), "queued": sum(len(s.queue) for s in self.sessions.values()),
                "newcomers_queued": self.newcomer_queued}
