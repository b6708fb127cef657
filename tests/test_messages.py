"""Every message round-trips through msgpack and over real in-process ZeroMQ sockets; bad input is named."""
import dataclasses

import msgpack
import numpy as np
import pytest
import zmq

from common import bus
from common.config import Settings
from common.messages import (MESSAGE_TYPES, SCHEMA_VERSION, Audio, Classification, Frame, ProtocolError, decode,
                             encode)


def sample(cls):
    """An instance of cls with every field set to a non-default value of its type."""
    values = {}
    for f in dataclasses.fields(cls):
        t = f.type
        values[f.name] = {"int": 7, "float": 1.25, "str": f"x-{f.name}", "bool": False, "bytes": b"\x00\x01raw",
                          "dict": {"k": 1}, "list": ["a", 2], "float | None": 0.5}[t]
    return cls(**values)


@pytest.mark.parametrize("cls", list(MESSAGE_TYPES.values()), ids=list(MESSAGE_TYPES))
def test_every_message_round_trips(cls):
    msg = sample(cls)
    frames = encode(msg, now=123.0)
    assert frames[0] == cls.TYPE.encode()
    assert len(frames) == 2 + len(cls.BUFFERS)
    back = decode(frames)
    assert back == dataclasses.replace(msg, ts_sent=123.0)


def test_buffers_travel_outside_msgpack():
    jpeg = bytes(range(256)) * 100
    frames = encode(Frame(session="s", seq=1, jpeg=jpeg))
    assert frames[2] == jpeg
    assert jpeg not in frames[1]
    body = msgpack.unpackb(frames[1])
    assert "jpeg" not in body["b"] and body["h"]["v"] == SCHEMA_VERSION


def test_header_fields():
    body = msgpack.unpackb(encode(Classification(session="a", seq=3, ts_capture=2.5))[1])
    assert set(body["h"]) == {"v", "type", "session", "seq", "ts_capture", "ts_sent"}


def test_unknown_fields_are_ignored():
    frames = encode(Audio(session="s", text="hi", wav=b"RIFF"))
    data = msgpack.unpackb(frames[1])
    data["b"]["added_in_v1_1"] = [1, 2]
    back = decode([frames[0], msgpack.packb(data), frames[2]])
    assert back.text == "hi" and back.wav == b"RIFF"


@pytest.mark.parametrize("frames,kind", [
    ([b"frame"], "truncated"),
    ([b"frame", b"\xc1\xc1 not msgpack"], "malformed"),
    ([b"frame", msgpack.packb([1, 2, 3])], "malformed"),
    ([b"nope", msgpack.packb({"h": {"v": SCHEMA_VERSION, "type": "nope"}, "b": {}})], "unknown_type"),
    ([b"cue", msgpack.packb({"h": {"v": 99, "type": "cue"}, "b": {}})], "wrong_version"),
    ([b"cue", msgpack.packb({"h": {"v": SCHEMA_VERSION, "type": "cue", "seq": "one"}, "b": {}})], "bad_field"),
    ([b"frame", msgpack.packb({"h": {"v": SCHEMA_VERSION, "type": "frame"}, "b": {}})], "truncated"),
    ([b"cue", b"x" * (2 << 20)], "oversized"),
    ([b"\xff\xfe", msgpack.packb({"h": {"v": SCHEMA_VERSION, "type": "cue"}, "b": {}})], "malformed"),
])
def test_bad_input_names_its_fault(frames, kind):
    with pytest.raises(ProtocolError) as err:
        decode(frames)
    assert err.value.kind == kind


def test_fuzzed_bytes_never_raise_anything_but_protocol_error():
    rng = np.random.default_rng(0)
    good = encode(Classification(session="s", seq=1, landmarks=b"\x00" * 528))
    for _ in range(2000):
        frames = [bytearray(f) for f in good]
        i = rng.integers(len(frames))
        if len(frames[i]):
            frames[i][rng.integers(len(frames[i]))] = int(rng.integers(256))
        if rng.random() < 0.3:
            frames[i] = frames[i][: rng.integers(len(frames[i]) + 1)]
        try:
            decode([bytes(f) for f in frames])
        except ProtocolError:
            pass


def test_round_trip_over_real_sockets(tmp_path):
    settings = Settings()
    ctx = zmq.Context()
    b = bus.Bus(settings, ctx)
    try:
        pub = b.socket(zmq.PUB, "inproc://pub", bind=True)
        sub = b.socket(zmq.SUB, "inproc://pub", bind=False, subscribe=[b"frame"])
        router = b.socket(zmq.ROUTER, "inproc://router", bind=True)
        dealer = b.socket(zmq.DEALER, "inproc://router", bind=False, identity=b"worker-1")
        frame = Frame(session="s", seq=4, width=2, height=1, jpeg=b"\xff\xd8\xffdata")
        for _ in range(50):  # PUB/SUB joins asynchronously (slow joiner): resend until it arrives
            bus.send(pub, Audio(session="s", text="not subscribed", wav=b""))
            bus.send(pub, frame)
            if sub.poll(20):
                break
        _, got = bus.recv(sub)
        assert got.TYPE == "frame" and got.jpeg == frame.jpeg and got.seq == 4
        bus.send(dealer, frame)
        route, got = bus.recv(router, routed=True)
        assert route == [b"worker-1"] and got.jpeg == frame.jpeg
        bus.send(router, got, prefix=route)
        _, back = bus.recv(dealer)
        assert back.session == "s"
    finally:
        b.close()
        ctx.term()
