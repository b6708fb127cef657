"""Runs the UI: live hub thread, frame relay, and the threaded web server, stopped in layers."""
from __future__ import annotations

import logging
import threading

import zmq
from werkzeug.serving import make_server

from services.ui.app import create_app
from services.ui.hub import LiveHub
from services.ui.ingest import IngestRelay
from services.ui.security import check_listen

logger = logging.getLogger(__name__)


class UiServer:
    """Everything `python -m services.ui` runs; tests start one on port 0 and read `.port`."""

    def __init__(self, settings, context: zmq.Context | None = None, instance: str | None = None):
        check_listen(settings.ui_host, settings.ui_token)
        self.settings = settings
        self.hub = LiveHub(settings, context, instance=instance)
        self.relay = IngestRelay(settings, context)
        self.hub.extra_stats.append(lambda: dict(self.relay.stats))
        self.app = create_app(settings, self.hub, self.relay)
        try:
            self.http = make_server(settings.ui_host, settings.ui_port, self.app, threaded=True)
        except OSError as exc:
            self.hub.stop()
            self.relay.close()
            raise SystemExit(f"cannot listen on {settings.ui_host}:{settings.ui_port}: {exc}") from None
        # Request threads must not keep the process alive after the server is told to stop.
        self.http.daemon_threads = True
        self.port = self.http.server_port
        self._thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="ui-http", daemon=True)

    @property
    def url(self) -> str:
        host = self.settings.ui_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def start(self) -> "UiServer":
        self.hub.start()
        self._thread.start()
        logger.info("web UI on %s", self.url)
        return self

    def stop(self) -> None:
        # Outermost first: stop taking requests, end open streams, then the bus thread, then the relay.
        self.app.extensions["ft_stopping"].set()
        self.hub.broadcaster.close_all()
        self.hub.frames.wake_all()
        self.http.shutdown()
        self.http.server_close()
        self.hub.stop()
        self.relay.close()
        logger.info("web UI stopped")
