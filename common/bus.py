"""Thin ZeroMQ layer: socket options in one place, typed send/receive, optional CURVE security."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import zmq
import zmq.auth

from common.messages import Envelope, Message, decode, encode, peek

logger = logging.getLogger(__name__)

# Live data is worth nothing late: small queues, drop at the high-water mark instead of piling up.
DEFAULT_HWM = 100


class Bus:
    """Creates the sockets of one process; closes them all with linger=0."""

    def __init__(self, settings, context: zmq.Context | None = None):
        self.settings = settings
        self.ctx = context or zmq.Context.instance()
        self.sockets: list[zmq.Socket] = []
        self._curve = _load_curve(settings.curve_dir) if settings.curve_dir else None
        self._auth = None

    def socket(self, kind: int, endpoint: str, *, bind: bool, hwm: int = DEFAULT_HWM,
               subscribe: list[bytes] | None = None, identity: bytes | None = None,
               conflate: bool = False) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
        if identity is not None:
            sock.setsockopt(zmq.IDENTITY, identity)
        if conflate:
            sock.setsockopt(zmq.CONFLATE, 1)
        if kind == zmq.ROUTER:
            # An unknown peer identity must raise, not vanish silently.
            sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        if self._curve is not None and endpoint.startswith("tcp://"):
            self._apply_curve(sock, server=bind)
        if bind:
            sock.bind(self.settings.bind_address(endpoint))
        else:
            sock.connect(endpoint)
        if kind == zmq.SUB:
            for topic in subscribe if subscribe is not None else [b""]:
                sock.setsockopt(zmq.SUBSCRIBE, topic)
        self.sockets.append(sock)
        return sock

    def _apply_curve(self, sock: zmq.Socket, server: bool) -> None:
        keys = self._curve
        if server:
            if self._auth is None:
                from zmq.auth.thread import ThreadAuthenticator
                self._auth = ThreadAuthenticator(self.ctx)
                self._auth.start()
                # Only clients whose public key sits in the keys folder may connect.
                self._auth.configure_curve(domain="*", location=str(keys["public_dir"]))
            sock.curve_secretkey = keys["server_secret"]
            sock.curve_publickey = keys["server_public"]
            sock.curve_server = True
        else:
            sock.curve_secretkey = keys["client_secret"]
            sock.curve_publickey = keys["client_public"]
            sock.curve_serverkey = keys["server_public"]

    def close(self) -> None:
        for sock in self.sockets:
            # LINGER is 0 from creation; a socket that must flush a last message raises it first.
            sock.close()
        self.sockets.clear()
        if self._auth is not None:
            self._auth.stop()
            self._auth = None


def _load_curve(folder: str) -> dict:
    path = Path(folder)
    try:
        server_public, server_secret = zmq.auth.load_certificate(path / "server.key_secret")
        client_public, client_secret = zmq.auth.load_certificate(path / "client.key_secret")
    except (OSError, ValueError) as exc:
        raise SystemExit(f"CURVE keys in {folder} unusable ({exc}); run `fitness-trainer keys {folder}`") from None
    public_dir = path / "public"
    if not public_dir.is_dir():
        raise SystemExit(f"CURVE keys in {folder}: no public/ folder of allowed client keys")
    return {"server_public": server_public, "server_secret": server_secret,
            "client_public": client_public, "client_secret": client_secret, "public_dir": public_dir}


def make_curve_keys(folder: str) -> None:
    """Create a server and a client key pair; public/ holds the client keys the servers accept."""
    path = Path(folder)
    (path / "public").mkdir(parents=True, exist_ok=True)
    for name in ("server", "client"):
        public_file, _ = zmq.auth.create_certificates(str(path), name)
        if name == "client":
            os.replace(public_file, path / "public" / "client.key")
    os.chmod(path, 0o700)


def send(sock: zmq.Socket, msg: Message | Envelope, *, prefix: list[bytes] | None = None, block: bool = True) -> bool:
    """Send a message (after routing `prefix` frames); an Envelope goes out as the frames it came in.
    Returns False when dropped at the HWM (block=False)."""
    frames = (prefix or []) + (msg.frames if isinstance(msg, Envelope) else encode(msg))
    try:
        sock.send_multipart(frames, flags=0 if block else zmq.NOBLOCK, copy=False)
        return True
    except zmq.Again:
        return False


def recv(sock: zmq.Socket, *, routed: bool = False) -> tuple[list[bytes], Message]:
    """Receive one message; with routed=True the first frame is the peer identity (ROUTER).

    Returns (routing frames, message). Raises ProtocolError for anything undecodable.
    """
    frames = sock.recv_multipart()
    route, rest = (frames[:1], frames[1:]) if routed else ([], frames)
    if routed and rest and rest[0] == b"":  # tolerate REQ-style empty delimiter
        rest = rest[1:]
    return route, decode(rest)


def recv_envelope(sock: zmq.Socket, *, routed: bool = False) -> tuple[list[bytes], Envelope]:
    """Like recv, but only the header is decoded (common.messages.peek): for routers that forward messages."""
    frames = sock.recv_multipart()
    route, rest = (frames[:1], frames[1:]) if routed else ([], frames)
    if routed and rest and rest[0] == b"":
        rest = rest[1:]
    return route, peek(rest)


class FaultLog:
    """Counts faults by kind and logs the first of each kind (then every 1000th), never one line per message."""

    def __init__(self, service: str):
        self.service = service
        self.counts: dict[str, int] = {}

    def record(self, kind: str, detail: str = "") -> None:
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        if n == 1 or n % 1000 == 0:
            logger.warning("%s: %s (%d so far) %s", self.service, kind, n, detail)
