"""Every message round-trips through msgpack and over real in-process ZeroMQ sockets; bad input is named."""
import dataclasses

import msgpack
import numpy as np
import pytest
import zmq

from common import bus
from common.config import Settings
from common.messages import (MESSAGE_TYPES, SCHEMA_VERSION, SHARD_SLOTS, Audio, Classification, Envelope, Frame,
                             Heartbeat, PoseResult, ProtocolError, decode, encode, peek, shard_of, shard_slot,
                             shard_topics)


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
    assert frames[0] == f"{cls.TYPE}/{shard_slot(msg.session):02x}".encode()
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


# ------------------------------------------------------------------------------------------------ shards and peek

def test_shard_slot_is_a_stable_hash_that_spreads_sessions():
    # CRC-32: the same in every process and on every machine (Python's hash() is salted per process).
    import zlib
    assert shard_slot("trainee-1") == zlib.crc32(b"trainee-1") % SHARD_SLOTS
    counts = [0, 0, 0]
    for i in range(3000):
        counts[shard_of(f"browser-{i:04d}", 3)] += 1
    assert all(900 <= c <= 1100 for c in counts), counts
    assert shard_of("anything", 1) == 0


def test_topic_carries_the_slot_and_decode_checks_it():
    msg = PoseResult(session="abc", seq=1)
    frames = encode(msg)
    assert frames[0] == f"pose/{shard_slot('abc'):02x}".encode()
    assert encode(Heartbeat(service="x"))[0] == b"heartbeat"   # no session, no slot
    assert decode([b"pose", *frames[1:]]).session == "abc"       # a bare type is still accepted
    wrong = f"pose/{(shard_slot('abc') + 1) % SHARD_SLOTS:02x}".encode()
    with pytest.raises(ProtocolError) as err:
        decode([wrong, *frames[1:]])
    assert err.value.kind == "malformed"
    with pytest.raises(ProtocolError):
        decode([b"frame/" + frames[0][5:], *frames[1:]])          # the type before the slot must match


def test_shard_topics_partition_every_slot_among_the_instances():
    for count in (1, 2, 3, 8, 256):
        owned = [shard_topics([PoseResult], i, count) for i in range(count)]
        if count == 1:
            assert owned == [[b"pose"]]
            continue
        flat = [t for topics in owned for t in topics]
        assert len(flat) == len(set(flat)) == SHARD_SLOTS
        for i, topics in enumerate(owned):
            # Every session whose topic an instance subscribes to is one shard_of assigns to it.
            for session in (f"s{k}" for k in range(300)):
                assert (encode(PoseResult(session=session))[0] in topics) == (shard_of(session, count) == i)
    with pytest.raises(ValueError):
        shard_topics([PoseResult], 2, 2)
    with pytest.raises(ValueError):
        shard_topics([PoseResult], 0, SHARD_SLOTS + 1)


def test_peek_reads_the_header_and_keeps_the_frames():
    frames = encode(Frame(session="s", seq=9, ts_capture=4.5, live=False, width=640, height=360, jpeg=b"JPEG"))
    env = peek(frames)
    assert isinstance(env, Envelope)
    assert (env.TYPE, env.session, env.seq, env.ts_capture, env.live) == ("frame", "s", 9, 4.5, False)
    assert env.frames == frames and env.frames[2] == b"JPEG"


@pytest.mark.parametrize("frames,kind", [
    ([b"frame"], "truncated"),
    ([b"frame", b"\xc1\xc1 not msgpack"], "malformed"),
    ([b"cue", msgpack.packb({"h": {"v": 99, "type": "cue"}, "b": {}})], "wrong_version"),
    ([b"cue", msgpack.packb({"h": {"v": SCHEMA_VERSION, "type": "cue", "seq": "one"}, "b": {}})], "bad_field"),
    ([b"frame", msgpack.packb({"h": {"v": SCHEMA_VERSION, "type": "frame"}, "b": {"live": "yes"}}), b""],
     "bad_field"),
    ([b"frame", msgpack.packb({"h": {"v": SCHEMA_VERSION, "type": "frame"}, "b": {}})], "truncated"),
    ([b"nope", msgpack.packb({"h": {"v": SCHEMA_VERSION, "type": "nope"}, "b": {}})], "unknown_type"),
])
def test_peek_names_header_faults_like_decode(frames, kind):
    with pytest.raises(ProtocolError) as err:
        peek(frames)
    assert err.value.kind == kind


def test_peek_does_not_check_body_fields_the_receiver_decodes():
    # A router forwards what it cannot route wrongly; the consumer's full decode rejects the bad field.
    head = {"v": SCHEMA_VERSION, "type": "pose", "session": "s", "seq": 1, "ts_capture": 0.0, "ts_sent": 0.0}
    frames = [b"pose", msgpack.packb({"h": head, "b": {"width": "wide"}})]
    assert peek(frames).session == "s"
    with pytest.raises(ProtocolError) as err:
        decode(frames)
    assert err.value.kind == "bad_field"


def test_sharded_subscribers_get_only_their_sessions_over_real_sockets():
    ctx = zmq.Context()
    b = bus.Bus(Settings(), ctx)
    try:
        pub = b.socket(zmq.PUB, "inproc://poses", bind=True)
        subs = [b.socket(zmq.SUB, "inproc://poses", bind=False, subscribe=shard_topics([PoseResult], i, 3))
                for i in range(3)]
        sessions = [f"trainee-{k}" for k in range(30)]
        got: list[set] = [set() for _ in subs]
        for _ in range(50):   # slow joiner: resend until every subscriber has heard something
            for s in sessions:
                bus.send(pub, PoseResult(session=s, seq=0))
            for i, sub in enumerate(subs):
                while sub.poll(5):
                    got[i].add(bus.recv(sub)[1].session)
            if all(len(g) for g in got) and sum(len(g) for g in got) == len(sessions):
                break
        for i, names in enumerate(got):
            assert names == {s for s in sessions if shard_of(s, 3) == i}
    finally:
        b.close()
        ctx.term()
