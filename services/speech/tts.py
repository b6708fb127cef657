"""Text -> WAV bytes with pyttsx3 on espeak-ng (no sound card needed), cached on disk per phrase and rate."""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
import wave
from pathlib import Path

logger = logging.getLogger(__name__)

# pyttsx3 is slow to start and keeps global driver state: one engine per process, used under a lock.
_ENGINE = None
_ENGINE_RATE: int | None = None
_ENGINE_LOCK = threading.Lock()


class SpeechUnavailable(RuntimeError):
    """pyttsx3 or espeak-ng cannot be used on this machine."""


def wav_duration(data: bytes) -> float:
    """Length in seconds of a WAV held in memory."""
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnframes() / float(w.getframerate() or 1)


def _synthesise(engine, text: str, path: Path) -> None:
    # The espeak driver prints "Audio saved to ..." for every file; keep stdout for real output.
    with contextlib.redirect_stdout(io.StringIO()):
        engine.save_to_file(text, str(path))
        engine.runAndWait()


def _engine(rate: int, scratch: Path):
    """The process's engine. The espeak driver only takes a rate queued before its first run (later changes are
    ignored and upset the following syntheses), so the rate is fixed when the engine starts, with a throw-away
    phrase that also proves espeak-ng works."""
    global _ENGINE, _ENGINE_RATE
    if _ENGINE is None:
        try:
            import pyttsx3
            engine = pyttsx3.init("espeak")
            engine.setProperty("rate", rate)
            scratch.mkdir(parents=True, exist_ok=True)
            warm = scratch / f".warmup.{os.getpid()}.wav"
            _synthesise(engine, "ready", warm)
            warm.unlink(missing_ok=True)
        except Exception as exc:  # ImportError, missing libespeak-ng, driver errors
            raise SpeechUnavailable(f"pyttsx3 with espeak-ng is not usable: {exc}") from exc
        _ENGINE, _ENGINE_RATE = engine, rate
    elif rate != _ENGINE_RATE:
        logger.warning("speech: the voice already speaks at %s words/min in this process; %s is ignored",
                       _ENGINE_RATE, rate)
    return _ENGINE


class SpeechRenderer:
    """Renders phrases once; the cache file name is a hash of rate and text, so a new rate renders anew."""

    ATTEMPTS = 3   # the espeak driver now and then writes an empty file (it drops its last audio chunk)

    def __init__(self, cache_dir: str | Path, rate: int = 175):
        self.cache_dir = Path(cache_dir)
        self.rate = int(rate)
        self.stats = {"rendered": 0, "cache_hits": 0, "retries": 0}

    def check(self) -> None:
        """Start the engine now (raises SpeechUnavailable), so a broken setup shows at start-up."""
        with _ENGINE_LOCK:
            _engine(self.rate, self.cache_dir)

    def cache_path(self, text: str) -> Path:
        key = hashlib.sha1(f"{self.rate}|{text}".encode()).hexdigest()[:24]
        return self.cache_dir / f"{key}.wav"

    def render(self, text: str) -> tuple[bytes, float]:
        """-> (WAV bytes, duration in seconds). Raises SpeechUnavailable."""
        path = self.cache_path(text)
        if path.exists():
            data = path.read_bytes()
            self.stats["cache_hits"] += 1
            return data, wav_duration(data)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.wav")
        data = b""
        with _ENGINE_LOCK:
            engine = _engine(self.rate, self.cache_dir)
            for attempt in range(self.ATTEMPTS):
                self.stats["retries"] += 1 if attempt else 0
                try:
                    _synthesise(engine, text, tmp)
                    data = tmp.read_bytes()
                except Exception as exc:
                    tmp.unlink(missing_ok=True)
                    raise SpeechUnavailable(f"espeak-ng failed to render {text!r}: {exc}") from exc
                if data.startswith(b"RIFF") and wav_duration(data) > 0:
                    break
        if not data.startswith(b"RIFF") or wav_duration(data) <= 0:
            tmp.unlink(missing_ok=True)
            raise SpeechUnavailable(f"espeak-ng wrote no usable WAV for {text!r}")
        os.replace(tmp, path)   # atomic: another process never reads half a file
        self.stats["rendered"] += 1
        return data, wav_duration(data)
