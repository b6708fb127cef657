"""A bad frame is answered as bad, never retried forever: real pose worker and broker processes."""
from __future__ import annotations

import time

import psutil
import zmq

from common import bus as busmod
from common.messages import Credit, EndOfStream, Frame, FrameSkipped, PoseResult, WorkerReady
from offline.soak_faults import SMALL_JPEG, crafted_frames
from tests.procs import pose_worker_behind_us, services, wait_for  # noqa: F401 (services: a fixture)


def test_a_pose_worker_answers_every_crafted_frame_as_bad_and_stays_healthy(services):
    svc, broker, who = pose_worker_behind_us(services)
    crafted = crafted_frames()
    # A good frame (the session's tracker is made), each bad kind, 300 more of the frame that froze the count (a
    # JPEG declaring 65500x65500), and a good one again.
    jobs = ([("good", SMALL_JPEG)] + list(crafted.items()) + [("bad_size", crafted["bad_size"])] * 300
            + [("good", SMALL_JPEG)])
    answers = {}
    rss_before = None
    for seq, (kind, jpeg) in enumerate(jobs):
        broker.send_multipart([who, *busmod.encode(Frame(session="crafted", seq=seq, width=64, height=48,
                                                         jpeg=jpeg))])
        answer = wait_for(broker, lambda m: isinstance(m, (FrameSkipped, PoseResult)) and m.seq == seq, timeout=10)
        assert answer is not None, f"frame {seq} ({kind}) got no answer:\n{svc.tail()}"
        answers[seq] = answer
        rss_before = rss_before or psutil.Process(svc.proc.pid).memory_info().rss
    for seq, (kind, _) in enumerate(jobs):
        if kind == "good":
            assert isinstance(answers[seq], PoseResult), answers[seq]
        else:
            assert isinstance(answers[seq], FrameSkipped) and answers[seq].reason == f"bad frame: {kind}", answers[seq]
    # Counted by kind, each kind logged once; the worker never allocated for 65500x65500 (12 GB) and is healthy.
    want = {f"fault.bad_frame.{kind}": (301 if kind == "bad_size" else 1) for kind in crafted}
    assert svc.wait_beat(lambda b: all(b.stats.get(k) == n for k, n in want.items()), timeout=10), svc.last_beat
    assert svc.last_beat.stats["health"] == "ok" and svc.last_beat.stats["undecodable"] == 305
    for kind in crafted:
        assert svc.fault_lines(f"bad_frame.{kind}") == 1, svc.tail()
    assert psutil.Process(svc.proc.pid).memory_info().rss - rss_before < 50 * 2 ** 20


def test_the_broker_skips_a_frame_lost_with_k_workers(services):
    svc = services("broker", "services.pose.broker", frame_max_tries=3, worker_timeout_s=0.5)
    poses = svc.socket(zmq.SUB, svc.settings.poses, subscribe=b"frame_skipped")
    source = svc.socket(zmq.DEALER, svc.settings.broker_frontend)
    time.sleep(0.3)   # our SUB joins before anything is published
    busmod.send(source, Frame(session="clip", seq=0, live=False, width=64, height=48, jpeg=SMALL_JPEG))
    started = time.time()
    for k in range(3):
        if k:   # the broker gave up on the last worker and put the frame back
            assert svc.wait_beat(lambda b: b.stats.get("requeued") == k and b.stats.get("queued") == 1), svc.tail()
        # A worker that takes the frame and is never heard of again (killed by it, say).
        doomed = svc.socket(zmq.DEALER, svc.settings.broker_backend, identity=f"doomed-{k}".encode())
        busmod.send(doomed, WorkerReady(worker=f"doomed-{k}"))
        job = wait_for(doomed, lambda m: isinstance(m, Frame), timeout=10)
        assert job is not None and job.seq == 0, svc.tail()
        doomed.close()
    skipped = wait_for(poses, lambda m: isinstance(m, FrameSkipped) and m.session == "clip", timeout=10)
    assert skipped is not None and skipped.seq == 0 and skipped.reason == "lost with 3 pose workers", svc.tail()
    assert time.time() - started < 10
    credit = wait_for(source, lambda m: isinstance(m, Credit), timeout=5)
    assert credit is not None and credit.session == "clip" and credit.credit == 1
    # The session goes on with a worker that answers, and ends.
    worker = svc.socket(zmq.DEALER, svc.settings.broker_backend, identity=b"good")
    busmod.send(worker, WorkerReady(worker="good"))
    busmod.send(source, Frame(session="clip", seq=1, live=False, width=64, height=48, jpeg=SMALL_JPEG))
    job = wait_for(worker, lambda m: isinstance(m, Frame), timeout=10)
    assert job is not None and job.seq == 1
    busmod.send(source, EndOfStream(session="clip", seq=2, frames=2))
    ends = svc.socket(zmq.SUB, svc.settings.poses, subscribe=b"end_of_stream")
    time.sleep(0.3)
    busmod.send(worker, PoseResult(session="clip", seq=1, worker="good"))
    assert wait_for(ends, lambda m: isinstance(m, EndOfStream) and m.session == "clip", timeout=10) is not None
    assert svc.wait_beat(lambda b: b.stats.get("skipped_after_tries") == 1 and b.stats.get("requeued") == 2)
