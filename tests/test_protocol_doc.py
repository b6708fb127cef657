"""docs/PROTOCOL.md lists every message, field and endpoint the code uses."""
import dataclasses
import re

from common.config import PROJECT_ROOT, Settings
from common.messages import MESSAGE_TYPES, SCHEMA_VERSION, Message

DOC = (PROJECT_ROOT / "docs" / "PROTOCOL.md").read_text()
HEADER = {f.name for f in dataclasses.fields(Message)}


def _table_rows():
    rows = {}
    for line in DOC.splitlines():
        m = re.match(r"\| `(\w+)` \| ([^|]*)\| ([^|]*)\|$", line)
        if m and m.group(1) in MESSAGE_TYPES:
            rows[m.group(1)] = ({x.strip() for x in m.group(2).split(",") if x.strip()},
                                {x.strip() for x in m.group(3).split(",") if x.strip()})
    return rows


def test_doc_states_the_schema_version():
    assert f"schema version {SCHEMA_VERSION}" in DOC


def test_every_message_and_field_is_documented():
    rows = _table_rows()
    assert set(rows) == set(MESSAGE_TYPES)
    for name, cls in MESSAGE_TYPES.items():
        fields = {f.name for f in dataclasses.fields(cls)} - HEADER
        body, buffers = rows[name]
        assert buffers == set(cls.BUFFERS), name
        assert body == fields - set(cls.BUFFERS), name


def test_every_endpoint_is_documented():
    endpoints = [f.name for f in dataclasses.fields(Settings) if str(f.default).startswith("tcp://")]
    assert len(endpoints) >= 10
    for name in endpoints:
        assert f"| `{name}` |" in DOC, name
