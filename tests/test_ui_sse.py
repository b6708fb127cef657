"""SSE wire format and the fan-out's promises: filters, throttling, bounded queues that drop the oldest."""
import json
import threading

import pytest

from services.ui.sse import Broadcaster, ClientQueue, format_comment, format_sse
from services.ui.state import Event


def parse(message: str) -> dict:
    assert message.endswith("\n\n")
    fields = {}
    for line in message[:-2].split("\n"):
        key, _, value = line.partition(": ")
        fields[key] = value
    return fields


def test_format_is_one_event_with_json_data():
    text = format_sse("coach", {"count": 3, "cues": ["Keep your\nchest up"]}, event_id=12)
    assert text == 'event: coach\nid: 12\ndata: {"count":3,"cues":["Keep your\\nchest up"]}\n\n'
    fields = parse(text)
    assert json.loads(fields["data"])["cues"] == ["Keep your\nchest up"]


def test_nan_becomes_null_and_bad_names_are_refused():
    fields = parse(format_sse("health", {"stats": {"fps": float("nan"), "ok": 1.5}, "xs": [float("inf")]}))
    assert json.loads(fields["data"]) == {"stats": {"fps": None, "ok": 1.5}, "xs": [None]}
    with pytest.raises(ValueError):
        format_sse("bad\nname", {})
    assert format_comment() == ": keepalive\n\n"


def test_client_filters_by_session_but_hears_everyone_wide_events():
    client = ClientQueue(session="a", poses="all")
    assert client.accepts(Event("coach", {}, "a"), now=0)
    assert not client.accepts(Event("coach", {}, "b"), now=0)
    assert client.accepts(Event("health", {}, ""), now=0)
    everyone = ClientQueue(session=None, poses="none")
    assert everyone.accepts(Event("coach", {}, "b"), now=0)
    assert not everyone.accepts(Event("pose", {}, "b"), now=0)


def test_lite_clients_get_a_few_poses_per_second_per_session():
    client = ClientQueue(session=None, poses="lite")
    times = [0.0, 0.05, 0.1, 0.21, 0.3, 0.45]
    accepted = [t for t in times if client.accepts(Event("pose", {}, "a"), now=t)]
    assert accepted == [0.0, 0.21, 0.45]
    # Each session has its own allowance.
    assert client.accepts(Event("pose", {}, "b"), now=0.46)
    with pytest.raises(ValueError):
        ClientQueue(poses="some")


def test_slow_client_loses_the_oldest_events_and_counts_them():
    client = ClientQueue(maxlen=3)
    for i in range(5):
        client.push(i, Event("coach", {"n": i}, "a"))
    got = client.take(timeout=0)
    assert [i for i, _ in got] == [2, 3, 4]
    assert client.dropped == 2
    assert client.take(timeout=0) == []


def test_broadcaster_fans_out_and_forgets_unsubscribed_clients():
    hub = Broadcaster(maxlen=10)
    a = hub.subscribe(session="a")
    everyone = hub.subscribe(session=None, poses="none")
    hub.publish(Event("coach", {"n": 1}, "a"), now=0)
    hub.publish(Event("coach", {"n": 2}, "b"), now=0)
    hub.publish(Event("pose", {"n": 3}, "a"), now=0)
    assert [e.data["n"] for _, e in a.take(0)] == [1, 3]
    assert [e.data["n"] for _, e in everyone.take(0)] == [1, 2]
    assert hub.client_count == 2
    hub.unsubscribe(a)
    assert a.closed and hub.client_count == 1
    hub.publish(Event("coach", {"n": 4}, "a"), now=0)
    assert a.take(0) == []
    ids = [i for i, _ in everyone.take(0)]
    assert ids == [4]  # ids count every published event, so a client can see what it missed


def test_a_waiting_reader_wakes_on_publish_and_on_close():
    hub = Broadcaster()
    client = hub.subscribe()
    got = []
    reader = threading.Thread(target=lambda: got.append(client.take(timeout=30)))
    reader.start()
    hub.publish(Event("cue", {"text": "hi"}, "s"), now=0)
    reader.join(30)
    assert not reader.is_alive() and got[0][0][1].data == {"text": "hi"}
    reader = threading.Thread(target=lambda: got.append(client.take(timeout=30)))
    reader.start()
    hub.close_all()
    reader.join(30)
    assert not reader.is_alive() and got[1] == []
