"""One cue at a time per session, with an injected clock and the real renderer."""
from __future__ import annotations

import pytest

from common.messages import Cue
from services.speech.processor import GAP_S, SpeechProcessor
from services.speech.tts import SpeechRenderer, SpeechUnavailable


@pytest.fixture
def processor(tmp_path):
    renderer = SpeechRenderer(tmp_path / "cache")
    try:
        renderer.check()
    except SpeechUnavailable as exc:
        pytest.skip(f"no speech engine on this machine: {exc}")
    return SpeechProcessor(renderer.render)


def cue(text: str, kind: str = "form", priority: int = 3, session: str = "s1") -> Cue:
    return Cue(session=session, text=text, kind=kind, priority=priority)


def test_one_at_a_time_newer_replaces_waiting(processor):
    out = processor.process(cue("Set 1 done: 10 squats", "set", 2), now=100.0)
    assert [a.text for a in out] == ["Set 1 done: 10 squats"]
    duration = out[0].duration_s
    assert duration > 0.3 and out[0].wav[:4] == b"RIFF"
    # While it plays: a count waits, then a form cue (higher priority) replaces it, then a weaker one is dropped.
    assert processor.process(cue("3", "count", 1), now=100.2) == []
    assert processor.process(cue("Keep your head up", "form", 3), now=100.3) == []
    assert processor.process(cue("4", "count", 1), now=100.4) == []
    assert processor.tick(100.0 + duration / 2) == []           # still playing
    out = processor.tick(100.0 + duration + GAP_S + 0.01)
    assert [a.text for a in out] == ["Keep your head up"]
    assert processor.stats["replaced"] == 1 and processor.stats["dropped_weaker"] == 1


def test_equal_priority_replaces_and_stale_cues_are_dropped(processor):
    first = processor.process(cue("Set 1 done: 10 squats", "set", 2), now=0.0)[0]
    processor.process(cue("5", "count", 1), now=0.1)
    processor.process(cue("6", "count", 1), now=0.2)               # equal priority: the newer count wins
    assert processor.stats["replaced"] == 1
    # Nobody ticks until long after: the waiting count is stale and never said.
    assert processor.tick(first.duration_s + 10.0) == []
    assert processor.stats["stale"] == 1
    # Nothing playing now: the next cue goes straight out.
    assert [a.text for a in processor.process(cue("7", "count", 1), now=20.0)] == ["7"]


def test_sessions_do_not_wait_for_each_other(processor):
    a = processor.process(cue("Keep your head up", session="a"), now=0.0)
    b = processor.process(cue("Keep your head up", session="b"), now=0.1)
    assert len(a) == 1 and len(b) == 1 and b[0].session == "b"


def test_without_a_speech_engine_cues_are_counted_and_dropped():
    processor = SpeechProcessor(None)
    assert processor.process(cue("1", "count", 1), now=0.0) == []
    assert processor.stats["no_tts"] == 1
