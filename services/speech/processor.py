"""Cue -> Audio, one at a time per session: while one plays a newer cue waits (replacing a weaker one)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from common.messages import Audio, Cue

logger = logging.getLogger(__name__)

# A waiting cue older than this (receive time) is no longer worth saying: a count is stale quickly,
# a set summary or setup advice stays useful a little longer.
MAX_WAIT_S = {"count": 1.5, "hold": 2.0, "form": 3.0, "set": 5.0, "setup": 5.0}
DEFAULT_MAX_WAIT_S = 3.0
GAP_S = 0.15            # silence between two cues, so they do not run into each other
FORGET_AFTER_S = 600.0  # a session without cues this long is forgotten


@dataclass
class _Waiting:
    cue: Cue
    since: float


@dataclass
class _Channel:
    playing_until: float = 0.0
    waiting: _Waiting | None = None
    last_heard: float = 0.0


class SpeechProcessor:
    """`render(text) -> (wav, seconds)` is injected, and so is the clock (`now` on every call)."""

    def __init__(self, render: Callable[[str], tuple[bytes, float]] | None):
        self.render = render
        self.channels: dict[str, _Channel] = {}
        self.stats: dict[str, int] = {"cues": 0, "spoken": 0, "replaced": 0, "dropped_weaker": 0, "stale": 0,
                                      "render_failed": 0, "no_tts": 0}

    def process(self, cue: Cue, now: float) -> list[Audio]:
        self.stats["cues"] += 1
        if self.render is None:
            self.stats["no_tts"] += 1
            return []
        channel = self.channels.setdefault(cue.session, _Channel())
        channel.last_heard = now
        out = self._advance(cue.session, channel, now)
        if now >= channel.playing_until and channel.waiting is None:
            return out + self._play(channel, cue, now)
        if channel.waiting is None or cue.priority >= channel.waiting.cue.priority:
            if channel.waiting is not None:
                self.stats["replaced"] += 1
            channel.waiting = _Waiting(cue, now)
        else:
            self.stats["dropped_weaker"] += 1
        return out

    def tick(self, now: float) -> list[Audio]:
        """Play waiting cues whose turn has come; forget silent sessions."""
        out: list[Audio] = []
        for session, channel in list(self.channels.items()):
            out += self._advance(session, channel, now)
            if channel.waiting is None and now - channel.last_heard > FORGET_AFTER_S:
                del self.channels[session]
        return out

    def _advance(self, session: str, channel: _Channel, now: float) -> list[Audio]:
        if channel.waiting is None or now < channel.playing_until:
            return []
        waiting, channel.waiting = channel.waiting, None
        if now - waiting.since > MAX_WAIT_S.get(waiting.cue.kind, DEFAULT_MAX_WAIT_S):
            self.stats["stale"] += 1
            return []
        return self._play(channel, waiting.cue, now)

    def _play(self, channel: _Channel, cue: Cue, now: float) -> list[Audio]:
        try:
            wav, seconds = self.render(cue.text)
        except Exception as exc:   # a phrase espeak cannot render must not stop the others
            self.stats["render_failed"] += 1
            if self.stats["render_failed"] == 1:
                logger.error("speech: cannot render %r: %s", cue.text, exc)
            return []
        channel.playing_until = now + seconds + GAP_S
        self.stats["spoken"] += 1
        return [Audio(session=cue.session, seq=cue.seq, ts_capture=cue.ts_capture, text=cue.text, kind=cue.kind,
                      duration_s=round(seconds, 3), wav=wav)]
