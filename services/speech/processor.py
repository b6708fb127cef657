"""Cue -> Audio, one at a time per session: counts and set summaries first, hints after them, stale ones dropped.

What the trainee hears has an order. A set summary ("Set 1 done: 10 squats") and the count are facts about
what was just done and must not be pre-empted by advice; a hint (a form correction or setup advice) waits
behind them, is dropped once it is stale, and the same hint is never said twice within `HINT_REPEAT_S`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from common.messages import Audio, Cue

logger = logging.getLogger(__name__)

# A waiting cue older than this (receive time) is no longer worth saying: a count is stale quickly,
# a set summary or setup advice stays useful a little longer.
MAX_WAIT_S = {"count": 1.5, "hold": 2.0, "form": 3.0, "set": 8.0, "setup": 5.0}
DEFAULT_MAX_WAIT_S = 3.0
SUMMARIES = ("set",)            # every one is said, in order
LATEST_ONLY = ("count", "hold")  # only the newest is worth saying ("7" after "6" was missed)
HINT_REPEAT_S = 8.0             # the same hint is not said again within this long
HINTS_KEPT = 3                  # hints waiting at once; a newer one pushes out the oldest
SUMMARIES_KEPT = 4
GAP_S = 0.15            # silence between two cues, so they do not run into each other
FORGET_AFTER_S = 600.0  # a session without cues this long is forgotten


@dataclass
class _Waiting:
    cue: Cue
    since: float


@dataclass
class _Channel:
    playing_until: float = 0.0
    summaries: list[_Waiting] = field(default_factory=list)
    latest: _Waiting | None = None        # the newest count or hold announcement
    hints: list[_Waiting] = field(default_factory=list)
    hint_said: dict[str, float] = field(default_factory=dict)  # text -> when it was last said
    last_heard: float = 0.0

    def empty(self) -> bool:
        return not self.summaries and self.latest is None and not self.hints


def is_hint(cue: Cue) -> bool:
    return cue.kind not in SUMMARIES and cue.kind not in LATEST_ONLY


class SpeechProcessor:
    """`render(text) -> (wav, seconds)` is injected, and so is the clock (`now` on every call)."""

    def __init__(self, render: Callable[[str], tuple[bytes, float]] | None, hint_repeat_s: float = HINT_REPEAT_S):
        self.render = render
        self.hint_repeat_s = hint_repeat_s
        self.channels: dict[str, _Channel] = {}
        self.stats: dict[str, int] = {"cues": 0, "spoken": 0, "replaced": 0, "dropped_weaker": 0, "stale": 0,
                                      "repeated": 0, "render_failed": 0, "no_tts": 0}

    def process(self, cue: Cue, now: float) -> list[Audio]:
        self.stats["cues"] += 1
        if self.render is None:
            self.stats["no_tts"] += 1
            return []
        channel = self.channels.setdefault(cue.session, _Channel())
        channel.last_heard = now
        self._enqueue(channel, cue, now)
        return self._advance(channel, now)

    def tick(self, now: float) -> list[Audio]:
        """Play waiting cues whose turn has come; forget silent sessions."""
        out: list[Audio] = []
        for session, channel in list(self.channels.items()):
            out += self._advance(channel, now)
            if channel.empty() and now - channel.last_heard > FORGET_AFTER_S:
                del self.channels[session]
        return out

    # ------------------------------------------------------------------ queueing
    def _enqueue(self, channel: _Channel, cue: Cue, now: float) -> None:
        waiting = _Waiting(cue, now)
        if cue.kind in SUMMARIES:
            channel.summaries.append(waiting)
            if len(channel.summaries) > SUMMARIES_KEPT:
                channel.summaries.pop(0)
                self.stats["replaced"] += 1
            return
        if cue.kind in LATEST_ONLY:
            if channel.latest is not None:
                self.stats["replaced"] += 1
            channel.latest = waiting
            return
        if self._recently_said(channel, cue.text, now) or any(h.cue.text == cue.text for h in channel.hints):
            self.stats["repeated"] += 1
            return
        channel.hints.append(waiting)
        if len(channel.hints) > HINTS_KEPT:
            # The weakest (then the oldest) hint gives way.
            weakest = min(channel.hints, key=lambda h: (h.cue.priority, h.since))
            channel.hints.remove(weakest)
            self.stats["dropped_weaker"] += 1

    def _recently_said(self, channel: _Channel, text: str, now: float) -> bool:
        said = channel.hint_said.get(text)
        return said is not None and now - said < self.hint_repeat_s

    def _fresh(self, waiting: _Waiting, now: float) -> bool:
        if now - waiting.since > MAX_WAIT_S.get(waiting.cue.kind, DEFAULT_MAX_WAIT_S):
            self.stats["stale"] += 1
            return False
        return True

    def _next(self, channel: _Channel, now: float) -> Cue | None:
        """What to say now: the oldest set summary, then the newest count, then the strongest fresh hint."""
        while channel.summaries:
            waiting = channel.summaries.pop(0)
            if self._fresh(waiting, now):
                return waiting.cue
        if channel.latest is not None:
            waiting, channel.latest = channel.latest, None
            if self._fresh(waiting, now):
                return waiting.cue
        channel.hints = [h for h in channel.hints if self._fresh(h, now)]
        while channel.hints:
            best = max(channel.hints, key=lambda h: (h.cue.priority, h.since))
            channel.hints.remove(best)
            if not self._recently_said(channel, best.cue.text, now):
                return best.cue
            self.stats["repeated"] += 1
        return None

    def _advance(self, channel: _Channel, now: float) -> list[Audio]:
        while now >= channel.playing_until:
            cue = self._next(channel, now)
            if cue is None:
                return []
            out = self._play(channel, cue, now)
            if out:
                return out
        return []

    def _play(self, channel: _Channel, cue: Cue, now: float) -> list[Audio]:
        try:
            wav, seconds = self.render(cue.text)
        except Exception as exc:   # a phrase espeak cannot render must not stop the others
            self.stats["render_failed"] += 1
            if self.stats["render_failed"] == 1:
                logger.error("speech: cannot render %r: %s", cue.text, exc)
            return []
        channel.playing_until = now + seconds + GAP_S
        if is_hint(cue):
            channel.hint_said[cue.text] = now
            for text, when in list(channel.hint_said.items()):
                if now - when > self.hint_repeat_s:
                    del channel.hint_said[text]
        self.stats["spoken"] += 1
        return [Audio(session=cue.session, seq=cue.seq, ts_capture=cue.ts_capture, text=cue.text, kind=cue.kind,
                      duration_s=round(seconds, 3), wav=wav)]
