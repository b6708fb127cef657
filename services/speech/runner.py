"""Speech runner: SUB coach (cues) -> SpeechProcessor (pyttsx3 WAVs) -> PUB audio, optional local playback."""
from __future__ import annotations

import argparse
import logging
import time

import zmq

from common.config import Settings
from common.messages import Cue
from common.service import ServiceRunner, service_main
from services.speech.playback import LocalPlayer
from services.speech.processor import SpeechProcessor
from services.speech.tts import SpeechRenderer, SpeechUnavailable

logger = logging.getLogger(__name__)

SETTINGS = ("coach", "audio", "health_in", "speech_cache_dir", "speak_locally", "voice_rate", "bind_host",
            "curve_dir")


class SpeechRunner(ServiceRunner):
    def __init__(self, settings: Settings, **kwargs):
        super().__init__("speech", settings, **kwargs)
        self.renderer = SpeechRenderer(settings.speech_cache_dir, settings.voice_rate)
        render = self.renderer.render
        try:
            self.renderer.check()
        except SpeechUnavailable as exc:
            # Keep running: the rest of the trainer works without a voice; cues are dropped and counted.
            logger.error("speech: %s -- cues will not be spoken (install espeak-ng and pyttsx3)", exc)
            render = None
        self.processor = SpeechProcessor(render)
        self.player = LocalPlayer() if settings.speak_locally else None
        self.sub = self.bus.socket(zmq.SUB, settings.coach, bind=False, hwm=1000, subscribe=[b"cue"])
        self.pub = self.bus.socket(zmq.PUB, settings.audio, bind=True, hwm=100)
        self.on(self.sub, self._on_cue)
        self.every_loop(self._tick)

    def _on_cue(self, sock: zmq.Socket) -> None:
        got = self.receive(sock)
        if got is not None and isinstance(got[1], Cue):
            self._publish(self.processor.process(got[1], time.time()))

    def _tick(self, now: float) -> None:
        self._publish(self.processor.tick(now))
        self.stats.update(self.processor.stats)
        self.stats.update({f"tts.{k}": v for k, v in self.renderer.stats.items()})
        if self.player is not None:
            self.player.reap()
            self.stats.update({f"local.{k}": v for k, v in self.player.stats.items()})

    def _publish(self, audios) -> None:
        self.publish(self.pub, audios)
        if self.player is not None:
            for audio in audios:
                self.player.play(audio.wav)

    def close(self) -> None:
        if self.player is not None:
            self.player.close()
        super().close()


def build(settings: Settings, _args: argparse.Namespace) -> SpeechRunner:
    return SpeechRunner(settings)


def main(argv=None) -> int:
    return service_main("speech", "Speech: renders the coach's cues to WAV (pyttsx3 / espeak-ng)", SETTINGS,
                        build, argv=argv)
