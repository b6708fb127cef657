"""Pose results put back in frame order; gaps waited for briefly, late ones dropped."""
from common.messages import EndOfStream, PoseResult
from services.classifier.reorder import ReorderBuffer


def pose(seq):
    return PoseResult(session="s", seq=seq)


def seqs(msgs):
    return [m.seq for m in msgs]


def test_out_of_order_results_come_out_in_order():
    buf = ReorderBuffer(timeout_s=1.0)
    assert seqs(buf.push(pose(1), 0.0)) == []
    assert seqs(buf.push(pose(2), 0.0)) == []
    assert seqs(buf.push(pose(0), 0.0)) == [0, 1, 2]
    assert seqs(buf.push(EndOfStream(session="s", seq=3), 0.0)) == [3]


def test_missing_frame_is_skipped_after_the_timeout():
    buf = ReorderBuffer(timeout_s=1.0)
    buf.push(pose(0), 0.0)
    assert seqs(buf.push(pose(2), 0.1)) == []
    assert seqs(buf.poll(0.5)) == []
    assert seqs(buf.poll(1.2)) == [2]
    assert buf.lost == 1
    assert seqs(buf.push(pose(1), 1.3)) == [] and buf.late == 1


def test_pile_up_forces_a_skip_without_waiting():
    buf = ReorderBuffer(timeout_s=100.0, max_pending=3)
    out = []
    for s in (1, 2, 3):
        out += buf.push(pose(s), 0.0)
    assert seqs(out) == [1, 2, 3]


def test_joining_mid_stream_starts_from_what_arrives():
    buf = ReorderBuffer(timeout_s=0.5)
    assert seqs(buf.push(pose(5000), 0.0)) == []
    assert seqs(buf.poll(0.6)) == [5000]
    assert seqs(buf.push(pose(5001), 0.7)) == [5001]


def test_a_burst_of_lost_frames_stalls_the_stream_once_not_once_per_frame():
    # Frames 1, 3, 5 ... never come (dropped unannounced while a queue was full); 2, 4, 6 ... arrive on time.
    buf = ReorderBuffer(timeout_s=1.0)
    out = buf.push(pose(0), 0.0)
    for k in range(1, 10):
        out += buf.push(pose(2 * k), k * 0.1)
    assert seqs(out) == [0]
    assert seqs(buf.poll(1.15)) == [2]                # waited its second for 1
    # Each later frame waits one second from its own arrival, never a second per gap before it.
    assert seqs(buf.poll(1.95)) == [4, 6, 8, 10, 12, 14, 16, 18] and buf.lost == 9
