"""Put pose results from several workers back in frame order; skip a frame that never comes."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.messages import Message


@dataclass
class ReorderBuffer:
    """Releases messages of one session strictly by `seq`.

    Workers finish out of order; a frame can also be lost (worker killed, live drop announced late, or dropped
    unannounced when a queue was full). A gap is waited for at most `timeout_s` measured from when the first
    later frame arrived, or until `max_pending` later frames pile up; then the buffer skips ahead. Frames held
    behind one gap have waited already: a second gap right behind it costs no second wait, so a stream that lost
    many frames in a burst stalls once, not once per lost frame. Messages older than what was already released
    are late and dropped.
    """

    timeout_s: float = 1.0
    max_pending: int = 256
    next_seq: int = 0
    pending: dict[int, Message] = field(default_factory=dict)
    arrived: dict[int, float] = field(default_factory=dict)   # seq -> when it came
    late: int = 0
    lost: int = 0

    def push(self, msg: Message, now: float) -> list[Message]:
        if msg.seq < self.next_seq or msg.seq in self.pending:
            self.late += 1
            return []
        self.pending[msg.seq] = msg
        self.arrived[msg.seq] = now
        return self._release(now)

    def poll(self, now: float) -> list[Message]:
        return self._release(now)

    def _release(self, now: float) -> list[Message]:
        out: list[Message] = []
        while self.pending:
            msg = self.pending.pop(self.next_seq, None)
            if msg is not None:
                del self.arrived[self.next_seq]
                out.append(msg)
                self.next_seq += 1
                continue
            first_later = min(self.pending)
            if now - self.arrived[first_later] >= self.timeout_s or len(self.pending) >= self.max_pending:
                self.lost += first_later - self.next_seq
                self.next_seq = first_later
                continue
            break
        return out
