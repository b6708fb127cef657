"""Put pose results from several workers back in frame order; skip a frame that never comes."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.messages import Message


@dataclass
class ReorderBuffer:
    """Releases messages of one session strictly by `seq`.

    Workers finish out of order; a frame can also be lost (worker killed, live drop announced late). A gap
    is waited for at most `timeout_s` (measured from when the first later frame arrived), or until
    `max_pending` later frames pile up; then the buffer skips ahead. Messages older than what was already
    released are late and dropped.
    """

    timeout_s: float = 1.0
    max_pending: int = 256
    next_seq: int = 0
    pending: dict[int, Message] = field(default_factory=dict)
    waiting_since: float | None = None
    late: int = 0
    lost: int = 0

    def push(self, msg: Message, now: float) -> list[Message]:
        if msg.seq < self.next_seq or msg.seq in self.pending:
            self.late += 1
            return []
        self.pending[msg.seq] = msg
        return self._release(now)

    def poll(self, now: float) -> list[Message]:
        return self._release(now)

    def _release(self, now: float) -> list[Message]:
        out: list[Message] = []
        while self.pending:
            msg = self.pending.pop(self.next_seq, None)
            if msg is not None:
                out.append(msg)
                self.next_seq += 1
                self.waiting_since = None
                continue
            if self.waiting_since is None:
                self.waiting_since = now
            if now - self.waiting_since >= self.timeout_s or len(self.pending) >= self.max_pending:
                skip_to = min(self.pending)
                self.lost += skip_to - self.next_seq
                self.next_seq = skip_to
                self.waiting_since = None
                continue
            break
        return out
