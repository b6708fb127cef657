"""Ports for tests that need real TCP: below Linux's ephemeral range, so no outgoing connection can take one."""
import random
import socket

# Linux hands out source ports of outgoing connections from 32768-60999. A port picked with bind(0) comes from
# that range too, and while the services of a test start, one of their connections may take it before the
# service meant to listen there binds it ("Address already in use"). Ports below that range are never taken so.
LOW, HIGH = 20000, 32000


def free_port() -> int:
    for _ in range(200):
        port = random.randint(LOW, HIGH)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")
