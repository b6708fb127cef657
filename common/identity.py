"""Who sent a heartbeat: each is signed with the key its supervisor gave the process (settings.health_key)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from common.messages import Heartbeat


def new_key() -> str:
    """A fresh per-process key (the supervisor hands one to each child in its environment)."""
    return secrets.token_hex(16)


def _digest(key: str, beat: Heartbeat) -> str:
    # The time is signed too: a heartbeat copied off the wire says nothing new once it is old.
    text = f"{beat.service}\n{beat.instance}\n{beat.pid}\n{beat.ts_capture!r}"
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]


def sign(key: str, beat: Heartbeat) -> Heartbeat:
    beat.signature = _digest(key, beat) if key else ""
    return beat


def signed_by(key: str, beat: Heartbeat) -> bool:
    return bool(key) and bool(beat.signature) and hmac.compare_digest(beat.signature, _digest(key, beat))
