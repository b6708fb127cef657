"""Every setting declared once, with help text; environment variables FT_<NAME> override defaults."""
from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class Settings:
    # --- endpoints (which service binds each: docs/PROTOCOL.md; the others connect) ----------------
    capture_ingest: str = _setting("tcp://127.0.0.1:5550",
                                   "Capture PULL: frames the UI relays from browsers")
    capture_preview: str = _setting("tcp://127.0.0.1:5551",
                                    "Capture PUB: every captured frame (JPEG) for the UI to show")
    broker_frontend: str = _setting("tcp://127.0.0.1:5552",
                                    "Broker ROUTER for capture sources (DEALER): frames in, credit out")
    broker_backend: str = _setting("tcp://127.0.0.1:5553",
                                   "Broker ROUTER for pose workers (DEALER): workers ask for frames here; "
                                   "remote workers point at this address")
    poses: str = _setting("tcp://127.0.0.1:5554", "Broker PUB: pose results, skips and end-of-stream")
    classified: str = _setting("tcp://127.0.0.1:5555", "Classifier PUB: voted exercise and phase per frame")
    coach: str = _setting("tcp://127.0.0.1:5556", "Coach PUB: coach updates, cues, session summaries")
    audio: str = _setting("tcp://127.0.0.1:5557", "Speech PUB: rendered WAV cues")
    health_in: str = _setting("tcp://127.0.0.1:5558", "Monitor SUB: heartbeats from every service")
    health_out: str = _setting("tcp://127.0.0.1:5559", "Monitor PUB: health report of all services")
    bind_host: str = _setting("", "If set, services bind on this host instead of the one in their endpoint "
                                  "(e.g. 0.0.0.0 inside containers)")
    # --- security ------------------------------------------------------------------------------
    curve_dir: str = _setting("", "Folder with CURVE keys (server.key_secret, client.key_secret, *.key): "
                                  "when set, every ZeroMQ link is authenticated and encrypted")
    ui_host: str = _setting("127.0.0.1", "Address the web UI listens on; anything but loopback needs ui_token")
    ui_port: int = _setting(8000, "Port of the web UI")
    ui_token: str = _setting("", "Access token required by the UI when it listens beyond loopback")
    ui_max_sessions: int = _setting(8, "Live trainee sessions (browser tabs streaming a camera) one UI serves at "
                                       "once; one more is refused with 429 and a message saying the trainer is full")
    ui_frames_in_flight: int = _setting(2, "Frames of a trainee tab between the UI and their pose results; the page "
                                           "sends the next when one is answered or dropped, extra ones are dropped. "
                                           "Tabs streaming at once share this out (at least 1 each)")
    ui_session_idle_s: float = _setting(30.0, "A trainee tab that sends no frame for this long is ended and "
                                              "disconnected (its workout is saved)")
    # --- capture -------------------------------------------------------------------------------
    source: str = _setting("webcam", "Frame source: 'webcam' (the browser's camera via the UI), a video FILE, "
                                     "or a camera index N")
    max_side: int = _setting(640, "Frames are resized so their longer side is at most this many pixels "
                                  "before JPEG (pose accuracy is flat above ~640, cost is not)")
    jpeg_quality: int = _setting(80, "JPEG quality of captured frames")
    exercise: str = _setting("", "The exercise done in front of a local source (file or camera), e.g. squat; empty: "
                                 "recognise it from the movement. Browser trainees pick theirs on the page")
    max_fps: float = _setting(0.0, "Send at most this many frames a second of a file source, as a slower camera (or a "
                                   "busy machine) would deliver them; 0 = every frame")
    realtime: bool = _setting(True, "Replay video files at their own frame rate (False: as fast as workers go, "
                                    "no frame dropped)")
    loop: bool = _setting(False, "Loop a video file source forever")
    # --- pose ----------------------------------------------------------------------------------
    pose_workers: int = _setting(2, "Pose worker processes started by `fitness-trainer up`")
    pose_sessions_per_worker: int = _setting(4, "Pose trackers a worker keeps (one per session, least recently "
                                                "used evicted); each is a BlazePose graph of ~130 MB")
    person_probe_frames: int = _setting(30, "Every this many frames (30: once a second) a pose worker looks for a "
                                            "second person (the tracked one masked out) and moves to them if they "
                                            "move through an exercise while the tracked one stands by (never away "
                                            "from someone on the floor: a plank is still); 0 = never")
    offline_window: int = _setting(8, "Offline frames per session in flight between capture and workers")
    worker_timeout_s: float = _setting(3.0, "A worker silent this long is presumed dead; its frame is re-queued")
    # --- classifier ----------------------------------------------------------------------------
    models_dir: str = _setting(str(PROJECT_ROOT / "models"), "Folder with the trained models")
    reorder_timeout_s: float = _setting(1.0, "How long the classifier waits for a missing frame before skipping it")
    # --- coach ---------------------------------------------------------------------------------
    db_path: str = _setting(str(PROJECT_ROOT / "var" / "workouts.sqlite3"),
                            "SQLite file of the workout history (sessions, sets, reps)")
    set_pause_s: float = _setting(8.0, "A pause this long without reps closes a set")
    cue_interval_s: float = _setting(4.0, "The same spoken cue is repeated at most this often")
    # --- speech --------------------------------------------------------------------------------
    speech_cache_dir: str = _setting(str(PROJECT_ROOT / "var" / "speech-cache"), "WAV cache, one file per phrase")
    speak_locally: bool = _setting(False, "Also play cues on this machine's speakers")
    voice_rate: int = _setting(175, "Speech rate in words per minute")
    # --- health --------------------------------------------------------------------------------
    heartbeat_s: float = _setting(1.0, "Seconds between heartbeats")
    stuck_after_s: float = _setting(10.0, "A service with no heartbeat this long is restarted")
    max_restarts: int = _setting(5, "Restarts of one service within restart_window_s before giving up")
    restart_window_s: float = _setting(300.0, "Window of the restart cap")
    log_level: str = _setting("INFO", "Logging level")
    log_dir: str = _setting(str(PROJECT_ROOT / "var" / "logs"), "Folder where `fitness-trainer up` writes each "
                                                               "service's log (one file per process)")
    # --- offline tools -----------------------------------------------------------------------------
    data_dir: str = _setting(str(PROJECT_ROOT.parent / "shared" / "data"),
                             "Folder of the shared real data (clips/labels.csv, seed/, landmarks/) that train, eval, "
                             "bench and the tests read; never copied into the project")
    # --- scaling out (docs/PROTOCOL.md, "Shards"; docs/DEPLOY.md) -------------------------------------------
    classified_in: str = _setting("tcp://127.0.0.1:5560", "Relay XSUB: every classifier instance publishes here "
                                                          "(the relay forwards it to `classified`)")
    coach_in: str = _setting("tcp://127.0.0.1:5561", "Relay XSUB: every coach instance publishes here (the relay "
                                                     "forwards it to `coach`)")
    classifiers: int = _setting(1, "Classifier instances; sessions are sharded over them by a stable hash of the "
                                   "session id (every classifier must be told the same number)")
    coaches: int = _setting(1, "Coach instances; sessions are sharded over them like the classifiers' (every coach "
                               "must be told the same number)")
    shard: str = _setting("0", "This classifier's or coach's shard, 0..N-1 (N: classifiers or coaches), or a name "
                               "ending in -<n> such as a Kubernetes StatefulSet pod's (coach-2 -> 2)")
    # --- bounds: what a stranger (or an accident) can add is capped -------------------------------
    frame_max_tries: int = _setting(3, "Pose workers a frame may be lost with (died, or silent for "
                                       "worker_timeout_s) before the broker skips it (frame_skipped)")
    broker_max_queued: int = _setting(64, "Frames of new sessions the broker holds for workers, all together; "
                                          "beyond it a new session's frame is skipped at once (sessions past "
                                          "their first second keep their own small queue)")
    broker_max_sessions: int = _setting(256, "Sessions the broker keeps; a new one beyond it replaces the least "
                                             "recently served idle one")
    max_sessions: int = _setting(128, "Sessions the classifier and the coach keep at once; a new one beyond it "
                                      "closes the one heard from longest ago")
    session_idle_s: float = _setting(120.0, "A session silent this long is closed and forgotten (broker, "
                                            "classifier, coach)")
    # --- identity on the health channel --------------------------------------------------------------
    health_key: str = _setting("", "Secret that signs heartbeats. `up` and `analyze` give each process they start "
                                   "its own; give `monitor`, every container and every remote pose worker the "
                                   "same one so only they reach the health report (or use curve_dir)")
    parent_pid: int = _setting(0, "Set by the supervisor for each process it starts: the process stops when "
                                  "that parent is gone (0: it runs on its own)")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        values = {}
        for f in dataclasses.fields(cls):
            raw = env.get("FT_" + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def bind_address(self, endpoint: str) -> str:
        """The address to bind for an endpoint others connect to."""
        if not self.bind_host or not endpoint.startswith("tcp://"):
            return endpoint
        port = endpoint.rsplit(":", 1)[1]
        return f"tcp://{self.bind_host}:{port}"

    def shard_index(self, count: int) -> int:
        """This instance's shard among `count`, from `shard`; a clear error for anything else."""
        head, _, tail = self.shard.rpartition("-")
        digits = tail if head else self.shard
        if not digits.isdigit() or int(digits) >= max(1, count):
            raise SystemExit(f"FT_SHARD={self.shard!r}: need a shard 0..{count - 1} of {count} (or a name ending in "
                             f"-<n>, e.g. a StatefulSet pod's)")
        return int(digits)

    def to_env(self) -> dict[str, str]:
        """The environment that makes a child process see these settings."""
        return {"FT_" + f.name.upper(): str(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _parse(ftype: str, raw: str, name: str):
    try:
        if ftype == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if ftype == "int":
            return int(raw)
        if ftype == "float":
            return float(raw)
        return raw
    except ValueError:
        raise SystemExit(f"FT_{name.upper()}={raw!r} is not a valid {ftype}") from None


def add_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """Expose some settings as --options with their declared help (defaults from env)."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    for name in names:
        f = fields[name]
        flag = "--" + name.replace("_", "-")
        if f.type == "bool":
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None,
                                help=f.metadata["help"])
        else:
            conv = {"int": int, "float": float}.get(f.type, str)
            parser.add_argument(flag, dest=name, type=conv, default=None,
                                help=f"{f.metadata['help']} (default: {f.default})")


def settings_from_args(args: argparse.Namespace) -> Settings:
    names = {f.name for f in dataclasses.fields(Settings)}
    return Settings.from_env(**{k: v for k, v in vars(args).items() if k in names})


# Settings that name a file or folder: a command resolves them where the user stands, before its children (started
# in the project folder) see them.
PATH_SETTINGS = ("models_dir", "db_path", "speech_cache_dir", "curve_dir", "data_dir", "log_dir")
LIVE_SOURCES = ("", "webcam", "browser")


def with_absolute_paths(settings: Settings, cwd: str | None = None) -> Settings:
    """The same settings with every relative path (and a file source) made absolute from `cwd`."""
    base = Path(cwd or os.getcwd())
    changes = {name: str(base / value) for name in PATH_SETTINGS
               if (value := getattr(settings, name)) and not Path(value).is_absolute()}
    source = settings.source
    if source not in LIVE_SOURCES and not source.isdigit() and not Path(source).is_absolute():
        changes["source"] = str(base / source)
    return dataclasses.replace(settings, **changes) if changes else settings
