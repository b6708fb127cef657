"""The relay forwards both channels from any number of publishers, subscriptions upstream, and idles quietly."""
import threading
import time

import zmq

from common import bus
from common.config import Settings
from common.messages import Classification, CoachUpdate, shard_topics
from services.relay.runner import RelayRunner


def _settings(tmp_path) -> Settings:
    return Settings(classified_in=f"ipc://{tmp_path}/cin", classified=f"ipc://{tmp_path}/c",
                    coach_in=f"ipc://{tmp_path}/kin", coach=f"ipc://{tmp_path}/k", health_in=f"ipc://{tmp_path}/h")


def _socket(ctx, kind, endpoint, subscribe=None):
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    for topic in subscribe or []:
        sock.setsockopt(zmq.SUBSCRIBE, topic)
    sock.connect(endpoint)
    return sock


def test_two_publishers_reach_a_shard_subscriber_with_only_its_sessions(tmp_path):
    settings = _settings(tmp_path)
    ctx = zmq.Context()
    relay = RelayRunner(settings, context=ctx)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    pubs = [_socket(ctx, zmq.PUB, settings.classified_in) for _ in range(2)]      # two classifiers
    shard1 = _socket(ctx, zmq.SUB, settings.classified, shard_topics([Classification], 1, 2))   # coach 1 of 2
    ui = _socket(ctx, zmq.SUB, settings.classified, [b"classification"])
    coach_pub = _socket(ctx, zmq.PUB, settings.coach_in)
    speech = _socket(ctx, zmq.SUB, settings.coach, [b"coach_update"])
    sessions = [f"s{k}" for k in range(20)]
    from common.messages import shard_of
    mine = {s for s in sessions if shard_of(s, 2) == 1}
    try:
        got_shard, got_ui, got_speech = set(), set(), set()
        deadline = time.time() + 20
        while time.time() < deadline and not (got_ui == set(sessions) and got_shard == mine and got_speech):
            for k, s in enumerate(sessions):
                bus.send(pubs[k % 2], Classification(session=s))
            bus.send(coach_pub, CoachUpdate(session="s0"))
            for sock, into in ((shard1, got_shard), (ui, got_ui), (speech, got_speech)):
                while sock.poll(20):
                    into.add(bus.recv(sock)[1].session)
        assert got_ui == set(sessions)
        assert got_shard == mine                       # the publishers filtered for it, through the relay
        assert got_speech == {"s0"}
        # Counted for the health panel (libzmq's proxy statistics).
        deadline = time.time() + 5
        while time.time() < deadline and not (relay.stats.get("classified.parts_in")
                                              and relay.stats.get("coach.parts_in")):
            time.sleep(0.1)
        assert relay.stats["classified.parts_in"] > 0 and relay.stats["coach.parts_in"] > 0
    finally:
        relay.stop.set()
        thread.join(5)
        assert not thread.is_alive()
        ctx.destroy(linger=0)


def test_a_runner_with_nothing_to_poll_sleeps_instead_of_spinning(tmp_path):
    settings = _settings(tmp_path)
    ctx = zmq.Context()
    relay = RelayRunner(settings, context=ctx)
    loops = []
    relay.every_loop(loops.append)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    time.sleep(0.5)
    relay.stop.set()
    thread.join(5)
    ctx.destroy(linger=0)
    # One loop per poll interval (50 ms), not millions: an empty zmq poll returns at once.
    assert 3 <= len(loops) <= 30, len(loops)
