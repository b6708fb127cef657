"""`python -m services.ui`: the web UI (trainee, instructor, analytics pages) with its live hub."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from common.config import add_arguments, settings_from_args
from common.service import setup_logging
from services.ui.security import ListenRefused

logger = logging.getLogger(__name__)

SETTINGS = ("ui_host", "ui_port", "ui_token", "ui_max_sessions", "ui_frames_in_flight", "ui_session_idle_s",
            "capture_ingest", "capture_preview", "classified", "coach", "audio",
            "health_in", "health_out", "heartbeat_s", "db_path", "curve_dir")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ui",
        description="Web UI of the fitness trainer: the trainee page relays the browser camera to capture and "
                    "shows skeleton, counts and cues live; /instructor shows every live session; /analytics "
                    "shows the workout history. Listens on loopback unless given a token.")
    add_arguments(parser, *SETTINGS, "log_level")
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    setup_logging(settings.log_level)
    # One log line per request (every audio clip, every socket) would drown everything else.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from services.ui.server import UiServer  # after argument parsing, so --help stays instant
    try:
        server = UiServer(settings)
    except ListenRefused as exc:
        print(f"python -m services.ui: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def handle(signum, _frame):
        logger.info("ui: signal %d, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    server.start()
    print(f"fitness-trainer UI: {server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            if not server.hub.alive:
                logger.error("ui: the live hub thread died; exiting so the supervisor restarts the UI")
                server.stop()
                return 1
    finally:
        if stop.is_set():
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
