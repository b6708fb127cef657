"""Optional playback of rendered cues on this machine's speakers through aplay or paplay."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile

logger = logging.getLogger(__name__)

PLAYERS = (("aplay", ["-q"]), ("paplay", []))


class LocalPlayer:
    """Starts the player without waiting for it; finished players and their temp files are reaped later."""

    def __init__(self):
        self.command: list[str] | None = None
        for name, args in PLAYERS:
            path = shutil.which(name)
            if path:
                self.command = [path, *args]
                break
        self._running: list[tuple[subprocess.Popen, str]] = []
        self._warned = False
        self.stats = {"played": 0, "failed": 0}

    def play(self, wav: bytes) -> bool:
        self.reap()
        if self.command is None:
            if not self._warned:
                logger.warning("speech: speak_locally is on but neither aplay nor paplay is installed")
                self._warned = True
            return False
        fd, path = tempfile.mkstemp(prefix="ft-cue-", suffix=".wav")
        with os.fdopen(fd, "wb") as fh:
            fh.write(wav)
        try:
            proc = subprocess.Popen([*self.command, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            os.unlink(path)
            self.stats["failed"] += 1
            if self.stats["failed"] == 1:
                logger.warning("speech: local playback failed: %s", exc)
            return False
        self._running.append((proc, path))
        self.stats["played"] += 1
        return True

    def reap(self) -> None:
        still = []
        for proc, path in self._running:
            if proc.poll() is None:
                still.append((proc, path))
            else:
                if proc.returncode and self.stats["failed"] == 0:
                    logger.warning("speech: %s exited with %d (no sound device?)", self.command[0], proc.returncode)
                self.stats["failed"] += 1 if proc.returncode else 0
                os.unlink(path)
        self._running = still

    def close(self) -> None:
        for proc, path in self._running:
            proc.terminate()
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                proc.kill()
            os.unlink(path)
        self._running = []
