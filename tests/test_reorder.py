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
