"""Every message the services exchange: typed, versioned, msgpack on the wire (see docs/PROTOCOL.md)."""
from __future__ import annotations

import dataclasses
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgpack

# Bump on any change a receiver of the previous version could misread.
# Adding an optional field is not such a change: receivers ignore unknown fields.
SCHEMA_VERSION = 3   # 3: the topic frame carries the session's shard slot ("pose/3f"); 2: CoachUpdate.events

# Refuse absurd messages before msgpack allocates for them.
MAX_BODY_BYTES = 1 << 20
MAX_BUFFER_BYTES = 16 << 20

# Sessions are spread over the instances of a scaled-out service by a stable hash of their id: every message of
# a session carries its slot (0..SHARD_SLOTS-1) in the topic frame, and instance i of n subscribes to the slots
# s with s % n == i, so a PUB socket sends each instance only its own sessions (see docs/PROTOCOL.md, "Shards").
SHARD_SLOTS = 256


class ProtocolError(ValueError):
    """A message that cannot be decoded; `kind` names the fault for counting and logging."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(kw_only=True)
class Message:
    """Base of every message; its fields form the header {v, type, session, seq, ts_capture, ts_sent}."""

    TYPE: ClassVar[str] = ""
    # Fields carried as extra ZeroMQ frames (raw bytes), never inside msgpack.
    BUFFERS: ClassVar[tuple[str, ...]] = ()

    session: str = ""
    seq: int = 0
    ts_capture: float = 0.0
    ts_sent: float = 0.0

    def header(self) -> dict[str, Any]:
        return {"v": SCHEMA_VERSION, "type": self.TYPE, "session": self.session, "seq": self.seq,
                "ts_capture": self.ts_capture, "ts_sent": self.ts_sent}

    def body(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _body_fields(type(self))}


# --------------------------------------------------------------------------- frames & poses

@dataclass(kw_only=True)
class Frame(Message):
    """One camera/video frame; the JPEG travels as its own ZeroMQ frame."""

    TYPE: ClassVar[str] = "frame"
    BUFFERS: ClassVar[tuple[str, ...]] = ("jpeg",)
    width: int = 0
    height: int = 0
    source: str = ""          # "file:<path>", "camera:<n>", "browser"
    live: bool = True         # live frames may be dropped; offline (analyze) frames never are
    chosen_exercise: str = ""  # the exercise the trainee picked ("": recognise it from the movement)
    jpeg: bytes = b""


@dataclass(kw_only=True)
class EndOfStream(Message):
    """The session's source ended; `seq` is one past its last frame. Flows down the whole pipeline in order."""

    TYPE: ClassVar[str] = "end_of_stream"
    reason: str = "eof"
    frames: int = 0           # frames the source produced
    fps: float = 0.0          # nominal rate of the source


@dataclass(kw_only=True)
class FrameSkipped(Message):
    """A frame that will never get a pose (dropped on purpose, undecodable, or lost with a worker)."""

    TYPE: ClassVar[str] = "frame_skipped"
    reason: str = ""


@dataclass(kw_only=True)
class PoseResult(Message):
    """BlazePose landmarks of one frame; `landmarks` is float32 [33, 4] = x, y, z, visibility (empty: no person)."""

    TYPE: ClassVar[str] = "pose"
    width: int = 0
    height: int = 0
    landmarks: bytes = b""
    dark_share: float = 0.0    # share of very dark pixels, for lighting checks
    bright_share: float = 0.0  # share of very bright (blown-out) pixels
    pose_ms: float = 0.0
    worker: str = ""
    source: str = ""           # the frame's source ("file:<path>", "camera:<n>", "browser")
    live: bool = True          # copied from the frame: offline frames are never dropped, so worth waiting for
    chosen_exercise: str = ""  # copied from the frame


@dataclass(kw_only=True)
class Classification(PoseResult):
    """Pose plus the cascade's voted answer for the frame."""

    TYPE: ClassVar[str] = "classification"
    exercise: str = "none"     # voted exercise, or "none"
    exercise_conf: float = 0.0
    phase: str = ""            # "start" / "end" (voted, with hysteresis) or "" when unknown
    phase_conf: float = 0.0
    raw_exercise: str = "none"  # level 1's latest window answer, before voting

    @classmethod
    def of(cls, pose: PoseResult, **answer) -> "Classification":
        """Every field of the pose (a field added to PoseResult travels on by itself) plus the answer."""
        return cls(**{name: getattr(pose, name) for name in _schema(PoseResult).allowed}, **answer)


# --------------------------------------------------------------------------- coach & speech

@dataclass(kw_only=True)
class CoachUpdate(Message):
    """The coach's view of a session after a frame: what the UI shows."""

    TYPE: ClassVar[str] = "coach_update"
    exercise: str = "none"
    phase: str = ""
    reps: dict = field(default_factory=dict)          # exercise -> reps this session
    hold_seconds: dict = field(default_factory=dict)  # exercise -> seconds held
    set_number: int = 0
    reps_in_set: int = 0
    holding: bool = False
    cues: list = field(default_factory=list)          # latest correction texts
    form_score: float | None = None                   # last rep's score, 0..100
    setup: list = field(default_factory=list)         # setup problems (lighting, framing)
    body_visible: bool = False
    events: list = field(default_factory=list)        # what this frame brought: "rep", "set_end", "hold_start",
                                                      # "hold_milestone", "hold_end" (usually none)
    rep_signal: float | None = None                   # the current exercise's rep signal (its own units) ...
    rep_bands: list = field(default_factory=list)     # ... and the levels a rep must cross: [leave start, be back]
                                                      # (None where not yet known): why a rep was counted


@dataclass(kw_only=True)
class Cue(Message):
    """Something the coach wants said aloud."""

    TYPE: ClassVar[str] = "cue"
    text: str = ""
    kind: str = "form"        # form | count | set | hold | setup
    priority: int = 1         # higher wins when cues compete


@dataclass(kw_only=True)
class Audio(Message):
    """A rendered cue; the WAV travels as its own ZeroMQ frame."""

    TYPE: ClassVar[str] = "audio"
    BUFFERS: ClassVar[tuple[str, ...]] = ("wav",)
    text: str = ""
    kind: str = "form"
    duration_s: float = 0.0
    wav: bytes = b""


@dataclass(kw_only=True)
class SessionSummary(Message):
    """Sent by the coach after EndOfStream: the whole session in the shape `analyze --json` prints."""

    TYPE: ClassVar[str] = "session_summary"
    summary: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- control & health

@dataclass(kw_only=True)
class WorkerReady(Message):
    """A pose worker asks the broker for work (sent on start and after every result)."""

    TYPE: ClassVar[str] = "worker_ready"
    worker: str = ""


@dataclass(kw_only=True)
class Credit(Message):
    """Broker -> capture: `credit` more offline frames of `session` may be sent (flow control)."""

    TYPE: ClassVar[str] = "credit"
    credit: int = 0


@dataclass(kw_only=True)
class Heartbeat(Message):
    """Every service says it is alive once a second, with its counters."""

    TYPE: ClassVar[str] = "heartbeat"
    service: str = ""
    instance: str = ""
    pid: int = 0
    stats: dict = field(default_factory=dict)     # counters, plus "health" ("ok" / "unhealthy") and "health_reason"
    signature: str = ""   # HMAC of the above with the key the supervisor gave the process (health_key)


@dataclass(kw_only=True)
class HealthReport(Message):
    """The supervisor's view of every service instance (what the UI shows as health)."""

    TYPE: ClassVar[str] = "health"
    services: list = field(default_factory=list)  # [{service, instance, pid, alive, health, reason, age_s,
                                                  #   restarts, stats}]
    monitor: dict = field(default_factory=dict)   # the monitor's own counters (heartbeats it ignored, by kind)


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls for cls in (Frame, EndOfStream, FrameSkipped, PoseResult, Classification, CoachUpdate,
                              Cue, Audio, SessionSummary, WorkerReady, Credit, Heartbeat, HealthReport)
}

_FIELD_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "bytes": (bytes,),
                "dict": (dict,), "list": (list,), "float | None": (int, float, type(None))}
_HEADER_FIELDS = ("session", "seq", "ts_capture", "ts_sent")


class _Schema:
    """What decoding a class needs, worked out once per class instead of once per message."""

    def __init__(self, cls: type[Message]):
        self.body = tuple(f.name for f in dataclasses.fields(cls) if f.name not in (*_HEADER_FIELDS, *cls.BUFFERS))
        # name -> allowed Python types (None: any), for header and body fields alike
        self.allowed: dict[str, tuple | None] = {}
        for f in dataclasses.fields(cls):
            ftype = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            self.allowed[f.name] = _FIELD_TYPES.get(ftype)


_SCHEMAS: dict[type, _Schema] = {}


def _schema(cls: type[Message]) -> _Schema:
    schema = _SCHEMAS.get(cls)
    if schema is None:
        schema = _SCHEMAS[cls] = _Schema(cls)
    return schema


def _body_fields(cls: type[Message]) -> tuple[str, ...]:
    return _schema(cls).body


def _check_type(cls: type[Message], name: str, value: Any) -> Any:
    allowed = _schema(cls).allowed.get(name)
    if allowed is None:
        return value
    if isinstance(value, bool) and bool not in allowed:
        raise ProtocolError("bad_field", f"{cls.TYPE}.{name} is a bool")
    if not isinstance(value, allowed):
        raise ProtocolError("bad_field", f"{cls.TYPE}.{name} has type {type(value).__name__}")
    if allowed == (int, float):
        return float(value)
    return value


# ------------------------------------------------------------------------------------------------ shards

def shard_slot(session: str) -> int:
    """The session's slot, 0..SHARD_SLOTS-1: CRC-32 of its id, the same in every process and on every machine."""
    return zlib.crc32(session.encode("utf-8", "surrogatepass")) % SHARD_SLOTS


def shard_of(session: str, count: int) -> int:
    """Which of `count` instances of a scaled-out service handles the session."""
    return shard_slot(session) % max(1, count)


def topic(msg_type: str, session: str) -> bytes:
    """The topic frame: the type, and for a message of a session "/" and its slot as two hex digits."""
    if not session:
        return msg_type.encode()
    return f"{msg_type}/{shard_slot(session):02x}".encode()


def shard_topics(types: list[type[Message]], index: int, count: int) -> list[bytes]:
    """The SUB prefixes of instance `index` of `count`: every message of the given types whose session's slot it
    owns (all of them when count is 1). Messages without a session have no slot and reach no sharded instance."""
    if not 0 <= index < count <= SHARD_SLOTS:
        raise ValueError(f"shard {index} of {count}: need 0 <= shard < count <= {SHARD_SLOTS}")
    if count == 1:
        return [cls.TYPE.encode() for cls in types]
    return [f"{cls.TYPE}/{slot:02x}".encode() for cls in types for slot in range(index, SHARD_SLOTS, count)]


# ------------------------------------------------------------------------------------------------ wire

def encode(msg: Message, now: float | None = None) -> list[bytes]:
    """Message -> ZeroMQ multipart [topic, msgpack {h, b}, *buffers]; stamps ts_sent."""
    msg.ts_sent = time.time() if now is None else now
    payload = msgpack.packb({"h": msg.header(), "b": msg.body()}, use_bin_type=True)
    return [topic(msg.TYPE, msg.session), payload, *(getattr(msg, name) for name in msg.BUFFERS)]


def _unpack(frames: list) -> tuple[dict, dict, type[Message]]:
    """Checks common to decode and peek: frame count, size, msgpack, version, topic; -> (header, body, class)."""
    if len(frames) < 2:
        raise ProtocolError("truncated", f"{len(frames)} frame(s), need at least 2")
    if len(frames[1]) > MAX_BODY_BYTES:
        raise ProtocolError("oversized", f"body of {len(frames[1])} bytes")
    try:
        data = msgpack.unpackb(frames[1], raw=False, strict_map_key=True,
                               max_bin_len=MAX_BODY_BYTES, max_str_len=MAX_BODY_BYTES)
    except Exception as exc:  # msgpack raises many types for garbage
        raise ProtocolError("malformed", f"msgpack: {exc.__class__.__name__}") from None
    if not isinstance(data, dict) or not isinstance(data.get("h"), dict) or not isinstance(data.get("b", {}), dict):
        raise ProtocolError("malformed", "not a {h, b} map")
    head, body = data["h"], data.get("b", {})
    if head.get("v") != SCHEMA_VERSION:
        raise ProtocolError("wrong_version", f"schema v{head.get('v')!r}, this build speaks v{SCHEMA_VERSION}")
    mtype = head.get("type")
    try:
        name = bytes(frames[0]).decode()
    except UnicodeDecodeError:
        raise ProtocolError("malformed", "topic is not text") from None
    kind, _, slot = name.partition("/")
    if mtype != kind:
        raise ProtocolError("malformed", f"topic {name!r} != header type {mtype!r}")
    cls = MESSAGE_TYPES.get(mtype)
    if cls is None:
        raise ProtocolError("unknown_type", repr(mtype)[:40])
    if len(frames) != 2 + len(cls.BUFFERS):
        raise ProtocolError("truncated", f"{mtype} needs {2 + len(cls.BUFFERS)} frames, got {len(frames)}")
    session = head.get("session", "")
    if slot and (not isinstance(session, str) or slot != f"{shard_slot(session):02x}"):
        raise ProtocolError("malformed", f"topic {name!r} is not the slot of the session")
    return head, body, cls


def decode(frames: list[bytes]) -> Message:
    """ZeroMQ multipart -> Message. Raises ProtocolError naming what was wrong; never anything else."""
    head, body, cls = _unpack(frames)
    kwargs: dict[str, Any] = {}
    for name in _HEADER_FIELDS:
        if name in head:
            kwargs[name] = _check_type(cls, name, head[name])
    fields = _schema(cls).body
    for name, value in body.items():
        if name in fields:
            kwargs[name] = _check_type(cls, name, value)  # unknown fields: ignored (newer sender)
    for name, buf in zip(cls.BUFFERS, frames[2:]):
        if len(buf) > MAX_BUFFER_BYTES:
            raise ProtocolError("oversized", f"{cls.TYPE}.{name} of {len(buf)} bytes")
        kwargs[name] = bytes(buf)
    return cls(**kwargs)


@dataclass(slots=True)
class Envelope:
    """A message as a router sees it: its type, checked header fields and `live`, and its ZeroMQ frames untouched.

    `peek` builds it without decoding the body into a message (no per-field checks, no dataclass, no copy of
    the buffers): a broker routes on the header and forwards `frames` as they came; whoever consumes the
    message decodes it fully and rejects what is wrong in its body. `bus.send` sends an Envelope's frames.
    """

    TYPE: str
    session: str
    seq: int
    ts_capture: float
    live: bool
    frames: list


def peek(frames: list) -> Envelope:
    """ZeroMQ multipart -> Envelope: the checks of `decode` on everything but the body's fields (`live` is
    checked: routing reads it). Raises ProtocolError like decode."""
    head, body, cls = _unpack(frames)
    session = _check_type(cls, "session", head.get("session", ""))
    seq = _check_type(cls, "seq", head.get("seq", 0))
    ts_capture = _check_type(cls, "ts_capture", head.get("ts_capture", 0.0))
    live = body.get("live", True)
    if not isinstance(live, bool):
        raise ProtocolError("bad_field", f"{cls.TYPE}.live has type {type(live).__name__}")
    for buf in frames[2:]:
        if len(buf) > MAX_BUFFER_BYTES:
            raise ProtocolError("oversized", f"{cls.TYPE} buffer of {len(buf)} bytes")
    return Envelope(cls.TYPE, session, seq, ts_capture, live, list(frames))


def topic_of(cls: type[Message]) -> bytes:
    """Subscription prefix for a message type (every slot: SUB matches prefixes)."""
    return cls.TYPE.encode()
