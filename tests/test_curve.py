"""CURVE: with keys, ZeroMQ links between machines are authenticated and encrypted; a stranger gets nothing."""
import time

import pytest
import zmq
import zmq.auth

from common import bus
from common.config import Settings
from common.messages import Cue
from offline.local_system import free_port


def receive_within(sock, pub, msg, seconds=3.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        bus.send(pub, msg)
        if sock.poll(50):
            return bus.recv(sock)[1]
    return None


@pytest.fixture
def keys(tmp_path):
    bus.make_curve_keys(str(tmp_path / "keys"))
    return tmp_path / "keys"


def test_keys_folder_layout(keys):
    assert (keys / "server.key_secret").is_file() and (keys / "client.key_secret").is_file()
    assert (keys / "public" / "client.key").is_file()


def test_clients_with_the_keys_talk_and_strangers_are_refused(keys, tmp_path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    settings = Settings(curve_dir=str(keys))
    server, client = bus.Bus(settings, zmq.Context()), bus.Bus(settings, zmq.Context())
    stranger_ctx = zmq.Context()
    try:
        pub = server.socket(zmq.PUB, endpoint, bind=True)
        sub = client.socket(zmq.SUB, endpoint, bind=False)
        got = receive_within(sub, pub, Cue(session="s", text="secret"))
        assert got is not None and got.text == "secret"
        # A client with its own key pair, unknown to the server, is never let in.
        public, secret = zmq.auth.create_certificates(str(tmp_path), "stranger")
        stranger_pub, stranger_secret = zmq.auth.load_certificate(secret)
        server_public, _ = zmq.auth.load_certificate(keys / "server.key_secret")
        spy = stranger_ctx.socket(zmq.SUB)
        spy.curve_secretkey, spy.curve_publickey, spy.curve_serverkey = stranger_secret, stranger_pub, server_public
        spy.setsockopt(zmq.SUBSCRIBE, b"")
        spy.setsockopt(zmq.LINGER, 0)
        spy.connect(endpoint)
        # And a plain-text client gets nothing either.
        plain = stranger_ctx.socket(zmq.SUB)
        plain.setsockopt(zmq.SUBSCRIBE, b"")
        plain.setsockopt(zmq.LINGER, 0)
        plain.connect(endpoint)
        assert receive_within(spy, pub, Cue(session="s", text="secret"), 1.5) is None
        assert receive_within(plain, pub, Cue(session="s", text="secret"), 1.0) is None
        spy.close()
        plain.close()
    finally:
        server.close()
        client.close()
        stranger_ctx.term()


def test_unusable_keys_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="CURVE keys"):
        bus.Bus(Settings(curve_dir=str(tmp_path / "nothing-here")), zmq.Context())
