"""The speech service over real sockets: a Cue in, an Audio with a WAV out; --help works."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import zmq

from common import bus
from common.config import PROJECT_ROOT, Settings
from common.messages import Audio, Cue
from services.speech.runner import SpeechRunner


def test_help():
    out = subprocess.run([sys.executable, "-m", "services.speech", "--help"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--speech-cache-dir" in out.stdout and "--voice-rate" in out.stdout


def test_cue_in_audio_out(tmp_path):
    settings = Settings(coach=f"ipc://{tmp_path}/coach", audio=f"ipc://{tmp_path}/audio",
                        health_in=f"ipc://{tmp_path}/health", speech_cache_dir=str(tmp_path / "cache"))
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(settings.coach)
    runner = SpeechRunner(settings, context=ctx)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"audio")
    sub.connect(settings.audio)
    try:
        audio = None
        deadline = time.time() + 15
        n = 0
        while audio is None and time.time() < deadline:
            # Distinct texts: each is new to the speech service, so whichever arrives first is spoken.
            bus.send(pub, Cue(session="s1", text=f"Set {n} done", kind="set", priority=2))
            n += 1
            if sub.poll(300):
                audio = bus.recv(sub)[1]
        assert isinstance(audio, Audio) and audio.session == "s1" and audio.text.startswith("Set ")
        if runner.processor.render is not None:
            assert audio.wav[:4] == b"RIFF" and audio.duration_s > 0.3
    finally:
        runner.stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive()
        ctx.destroy(linger=0)
