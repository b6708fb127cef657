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


def fake_render(text: str) -> tuple[bytes, float]:
    """One second of speech per phrase, so the tests control exactly when the voice is free."""
    return b"RIFF" + text.encode(), 1.0


def texts(audios) -> list[str]:
    return [a.text for a in audios]


def test_one_at_a_time_with_the_real_voice(processor):
    out = processor.process(cue("Set 1 done: 10 squats", "set", 2), now=100.0)
    assert texts(out) == ["Set 1 done: 10 squats"]
    duration = out[0].duration_s
    assert duration > 0.3 and out[0].wav[:4] == b"RIFF"
    assert processor.process(cue("Keep your head up"), now=100.2) == []   # waits while the summary plays
    assert processor.tick(100.0 + duration / 2) == []
    assert texts(processor.tick(100.0 + duration + GAP_S + 0.01)) == ["Keep your head up"]


def test_set_summary_is_said_before_a_setup_warning():
    speech = SpeechProcessor(fake_render)
    assert texts(speech.process(cue("10", "count", 1), now=0.0)) == ["10"]
    # While "10" plays the set closes and a setup problem appears (the coach ranks setup advice higher).
    assert speech.process(cue("Set 1 done: 10 squats", "set", 2), now=0.5) == []
    assert speech.process(cue("Too much light behind you. Face the light instead.", "setup", 4), now=0.6) == []
    assert texts(speech.tick(1.2)) == ["Set 1 done: 10 squats"]
    assert texts(speech.tick(2.4)) == ["Too much light behind you. Face the light instead."]


def test_counts_go_before_hints_and_only_the_newest_count():
    speech = SpeechProcessor(fake_render)
    speech.process(cue("Set 1 done: 3 squats", "set", 2), now=0.0)
    speech.process(cue("Keep your head up", "form", 3), now=0.2)
    speech.process(cue("3", "count", 1), now=0.3)
    speech.process(cue("4", "count", 1), now=0.8)                  # "3" was never said: only "4" is worth it
    assert texts(speech.tick(1.2)) == ["4"]
    assert texts(speech.tick(2.4)) == ["Keep your head up"]
    assert speech.stats["replaced"] == 1


def test_stale_hints_are_dropped():
    speech = SpeechProcessor(fake_render)
    speech.process(cue("Set 1 done: 10 squats", "set", 2), now=0.0)
    speech.process(cue("Keep your head up", "form", 3), now=0.1)
    assert speech.tick(5.0) == []                                   # nobody ticked for 5 s: too late to say
    assert speech.stats["stale"] == 1


def test_a_hint_is_never_repeated_within_a_few_seconds():
    speech = SpeechProcessor(fake_render, hint_repeat_s=8.0)
    assert texts(speech.process(cue("Keep your head up", "form", 3), now=0.0)) == ["Keep your head up"]
    assert speech.process(cue("Keep your head up", "form", 3), now=3.0) == []
    assert speech.process(cue("Keep your head up", "form", 3), now=6.0) == []
    assert speech.stats["repeated"] == 2
    assert texts(speech.process(cue("Keep your head up", "form", 3), now=9.0)) == ["Keep your head up"]
    # Counts are facts: the same number may well come again (a new set starts at 1).
    assert texts(speech.process(cue("1", "count", 1), now=20.0)) == ["1"]
    assert texts(speech.process(cue("1", "count", 1), now=22.0)) == ["1"]


def test_sessions_do_not_wait_for_each_other(processor):
    a = processor.process(cue("Keep your head up", session="a"), now=0.0)
    b = processor.process(cue("Keep your head up", session="b"), now=0.1)
    assert len(a) == 1 and len(b) == 1 and b[0].session == "b"


def test_without_a_speech_engine_cues_are_counted_and_dropped():
    processor = SpeechProcessor(None)
    assert processor.process(cue("1", "count", 1), now=0.0) == []
    assert processor.stats["no_tts"] == 1
