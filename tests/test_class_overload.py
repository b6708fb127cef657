"""A class on one laptop, simulated on the broker's logic: overload thins every trainee's frames alike, and what
is served is always that trainee's newest frame (issue #12). Simulated time, no sockets. Each simulated worker
keeps 4 trackers, least recently used evicted, as a pose worker does, and frees one the broker lets go; a frame
whose tracker it does not hold costs a new one (~5 tracked frames)."""
from collections import Counter, OrderedDict, defaultdict

import pytest

from common.messages import EndOfStream, Frame, PoseResult
from services.pose.broker_core import BrokerCore

TRACKERS, NEW_TRACKER_COST = 4, 5.0
FPS, POSE_S = 30.0, 0.021     # each trainee's camera; BlazePose time per (tracked) frame


@pytest.mark.parametrize("trainees,workers", [(4, 2), (8, 2), (16, 4)])
def test_overload_is_shared_fairly_and_newest_first(trainees, workers):
    seconds = 20.0
    core, served, ages, seq = simulate(trainees, workers, seconds)
    counts = [len(served[f"t{k}"]) for k in range(trainees)]
    mean = sum(counts) / trainees
    # Every worker busy all the time on tracked frames (the pool's capacity, nothing lost to scheduling or to
    # trackers made again) ...
    assert sum(counts) >= 0.95 * workers * seconds / POSE_S
    # ... shared alike: every trainee within ±10 % of the mean ...
    assert max(abs(c - mean) for c in counts) <= 0.10 * mean, counts
    # ... and never an old frame: what a worker starts is the trainee's newest frame (or the one just before it,
    # when the next arrived while the worker was being handed this one), at most two frame periods old.
    assert all(age <= 1 for age in ages), Counter(ages)
    # Every frame not served was dropped on purpose and counted (none is left waiting but the newest).
    waiting = sum(len(s.queue) for s in core.sessions.values())
    assert waiting <= trainees
    assert core.stats["dropped_live"] == sum(seq.values()) - sum(counts) - waiting


@pytest.mark.parametrize("trainees", [9, 10])
def test_a_class_larger_than_the_trackers_takes_turns_instead_of_rebuilding_them(trainees):
    """More trainees than trackers (2 workers of 4): served in turn, every frame would evict the tracker the next
    one needs (10 trainees got 2.0 frames/s each, 91 % of frames building a tracker). The trainees beyond the
    trackers take turns out instead, about a second each, alike."""
    workers, start, end = 2, 10.0, 30.0
    core, served, ages, _ = simulate(trainees, workers, end)
    steady = [[t for t in served[f"t{k}"] if t >= start] for k in range(trainees)]
    rates = [len(times) / (end - start) for times in steady]
    mean = sum(rates) / trainees
    assert mean >= 0.85 * workers / POSE_S / trainees, rates          # most of the pool's time on tracked frames
    assert max(abs(r - mean) for r in rates) <= 0.10 * mean, rates    # shared alike
    assert max(b - a for times in steady for a, b in zip(times, times[1:])) <= 1.5   # out a second at a time
    assert all(age <= 1 for age in ages), Counter(ages)
    assert core.stats["trackers_released"] <= 1.2 * workers * end     # at most about one a second a worker


def simulate(trainees: int, workers: int, seconds: float):
    """-> (broker core, session -> times its frames were handed out, ages of those frames, frames per session)."""
    core = BrokerCore(worker_trackers=TRACKERS)
    busy: dict[bytes, tuple[float, Frame]] = {}  # worker -> (done at, frame)
    trackers: dict[bytes, OrderedDict] = {}
    for w in range(workers):
        core.on_worker_ready(f"w{w}".encode(), 0.0)
        trackers[f"w{w}".encode()] = OrderedDict()
    served, newest, ages = defaultdict(list), {}, []
    # Each trainee's camera runs at 30 frame/s, the cameras out of phase with each other.
    next_frame = {f"t{k}": k / (FPS * trainees) for k in range(trainees)}
    seq = Counter()
    t, step = 0.0, 0.0005
    while t < seconds:
        for name, due in next_frame.items():
            if due <= t:
                frame = Frame(session=name, seq=seq[name], ts_capture=due, live=True, jpeg=b"\xff\xd8\xff")
                newest[name] = frame.seq
                seq[name] += 1
                next_frame[name] = due + 1.0 / FPS
                _dispatch(core.on_source(b"ui", frame, t), busy, trackers, t, newest, served, ages)
        for worker, (done, frame) in list(busy.items()):
            if done <= t:
                del busy[worker]
                out = core.on_worker_result(worker, PoseResult(session=frame.session, seq=frame.seq), t)
                _dispatch(out, busy, trackers, t, newest, served, ages)
        t += step
    return core, served, ages, seq


def _dispatch(actions, busy, trackers, t, newest, served, ages):
    for worker, frame in actions.to_workers:
        held = trackers[worker]
        if isinstance(frame, EndOfStream):   # the broker lets a tracker go: the worker frees it
            held.pop(frame.session, None)
            continue
        cost = POSE_S if frame.session in held else NEW_TRACKER_COST * POSE_S
        held.pop(frame.session, None)
        held[frame.session] = None
        while len(held) > TRACKERS:
            held.popitem(last=False)
        busy[worker] = (t + cost, frame)
        served[frame.session].append(t)
        ages.append(newest[frame.session] - frame.seq)
