"""Real speech rendering with pyttsx3 / espeak-ng: a proper WAV, cached per phrase and rate."""
from __future__ import annotations

import io
import wave

import pytest

from services.speech.tts import SpeechRenderer, SpeechUnavailable, wav_duration


@pytest.fixture
def renderer(tmp_path):
    r = SpeechRenderer(tmp_path / "cache", rate=175)
    try:
        r.check()
    except SpeechUnavailable as exc:
        pytest.skip(f"no speech engine on this machine: {exc}")
    return r


def test_renders_a_real_wav(renderer):
    wav, seconds = renderer.render("Set 2 done: 10 squats")
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    assert seconds > 0.3 and seconds == pytest.approx(wav_duration(wav))
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getnframes() > 0
        samples = w.readframes(w.getnframes())
    assert any(samples)   # not silence


def test_cached_per_phrase_and_rate(renderer, tmp_path):
    first, _ = renderer.render("Keep your head up")
    path = renderer.cache_path("Keep your head up")
    assert path.exists() and path.read_bytes() == first
    again, _ = renderer.render("Keep your head up")
    assert again == first and renderer.stats["rendered"] == 1 and renderer.stats["cache_hits"] == 1
    # Another rate is another file (the engine's rate is fixed per process, so it is not rendered here).
    assert SpeechRenderer(tmp_path / "cache", rate=120).cache_path("Keep your head up") != path


def test_every_phrase_the_coach_says_renders(renderer):
    for text in ("1", "10", "Set 1 done: 1 push-up", "20 seconds", "Keep your knees behind your toes",
                 "Step back so I can see your feet.", "Lift your hips, don't let them sag"):
        wav, seconds = renderer.render(text)
        assert wav[:4] == b"RIFF" and seconds > 0.2, text
