"""The Flask app: pages, live streams, browser ingest and analytics exports.

Pages
    GET  /                               trainee page: camera, skeleton, count, timer, cues, reference, health
    GET  /watch/<session>                watch a file/camera session (MJPEG + skeleton + coach)
    GET  /instructor                     grid of every live session, updated live
    GET  /analytics                      history over time, session list, exports
    GET  /analytics/<session>            one session's end-of-workout report
JSON API (all answers JSON unless noted; errors are {"error": code, "message": text})
    GET  /healthz                        {"ok", "hub_alive"}: liveness of the UI itself
    GET  /api/state[?session=ID]         {"sessions": [card], "session": view|null, "health": {...}, "now"}
    GET  /api/health                     health panel data: {"services": [...], "report_age_s", "all_alive", "ui"}
    GET  /api/stream[?session=ID&poses=all|lite|none]
                                         Server-Sent Events: snapshot, session, pose, coach, cue, audio, ended,
                                         gone, health (data is JSON; see services/ui/state.py for the shapes)
    GET  /api/trainee/capacity           {"live", "max"}; 429 {"error": "full", "message"} when no tab may start
WebSocket
    /ws/trainee/<session>                one per trainee tab: binary frames up (header + JPEG), JSON answers and
                                         coach events down (services/ui/trainee_socket.py, services/ui/tabs.py);
                                         429 JSON before the upgrade when the UI serves ui_max_sessions already
    GET  /api/audio/<id>.wav             a rendered cue announced by an "audio" event (audio/wav)
    GET  /api/video/<session>            MJPEG (multipart/x-mixed-replace) of a file/camera session
    GET  /api/frame/<session>            the latest JPEG of a session
    GET  /api/sessions[.csv]             stored sessions (list_sessions), JSON or CSV
    GET  /api/sessions/<id>/report.json  one session's report; .../reps.csv and .../sets.csv as CSV
    GET  /api/history[.csv][?days=30]    daily totals per exercise
With a token configured every route needs it: header X-FT-Token (or Authorization: Bearer), ?token=, or the
cookie set after the first visit with ?token= (pages then redirect to the same address without it). Without a
token only loopback Host names are served (no DNS rebinding); POSTs and WebSockets from another origin are
refused. Pages (any path outside /api/, /ws/ and /healthz) answer refusals and 404s as HTML unless the client
prefers JSON; the rest answer JSON.
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, abort, jsonify, redirect, render_template, request
from flask_sock import Sock
from werkzeug.exceptions import HTTPException, NotFound

from common.exercises import CATALOGUE, EXERCISES, HOLDS, NONE, display_name
from common.features import POSE_CONNECTIONS
from common.history import HistoryReader
from common.topology import SERVICE_NAMES
from services.ui import analytics, trainee_socket
from services.ui.ingest import MAX_UPLOAD_BYTES
from services.ui.security import TOKEN_COOKIE, host_allowed, same_origin, supplied_token, token_ok, wants_html
from services.ui.sse import format_comment, format_sse


HERE = Path(__file__).resolve().parent
KEEPALIVE_S = 10.0
MJPEG_BOUNDARY = "ftframe"


class StoreUnavailable(RuntimeError):
    pass


# Werkzeug's own words for a URL no route matches (a route's abort(404, "...") says something better).
ROUTE_NOT_FOUND = NotFound.description


def _full_message(hub) -> str:
    return (f"The trainer is full: {hub.tabs.live} trainees are training now, the limit is {hub.tabs.max_sessions}. "
            f"Please try again in a few minutes.")


def open_store(db_path: str):
    """The coach's workout history (another service owns its schema; the UI only reads)."""
    try:
        from common.history import WorkoutStore
    except ImportError as exc:
        raise StoreUnavailable(f"the workout store is not available ({exc})") from None
    return WorkoutStore(db_path)


def create_app(settings, hub=None, relay=None) -> Flask:
    """The web app; `hub` (LiveHub) and `relay` (IngestRelay) are optional so analytics work without a bus."""
    app = Flask("services.ui", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES + 4096
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 300
    # One frame message is a small header plus a JPEG: anything larger is refused by the WebSocket layer itself.
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": MAX_UPLOAD_BYTES + 4096, "ping_interval": 20,
                                         "receive_bytes": 65536}   # a frame in a few reads, not a dozen
    sock = Sock(app)
    stopping = threading.Event()
    app.extensions["ft_stopping"] = stopping

    def need_hub():
        if hub is None:
            abort(503, "live data is not connected")
        return hub

    def with_store(fn):
        store = HistoryReader(settings.db_path)
        try:
            return fn(store)
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"the workout history {settings.db_path} cannot be read ({exc})") from None
        finally:
            store.close()

    # ------------------------------------------------------------------ security & errors
    @app.before_request
    def guard():
        if not host_allowed(request.host, settings.ui_token):
            return jsonify(error="bad_host", message="this UI answers to localhost / 127.0.0.1 only"), 403
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if (request.method == "POST" or websocket) and not same_origin(request.headers.get("Origin"), request.host):
            return jsonify(error="cross_origin", message="uploads are accepted from this UI's own pages only"), 403
        if settings.ui_token:
            given, where = supplied_token(request.headers, request.args, request.cookies)
            if not token_ok(settings.ui_token, given):
                if wants_html(request.path, request.accept_mimetypes):
                    return render_template("denied.html", page=""), 401
                return jsonify(error="unauthorized", message="a valid token is required"), 401
            request.environ["ft.token_where"] = where
            if where == "query" and request.method == "GET" and wants_html(request.path, request.accept_mimetypes):
                # Keep the token out of the address bar, history and screenshots: the cookie carries it from now on.
                args = {k: v for k, v in request.args.items(multi=True) if k != "token"}
                return redirect(request.path + ("?" + urlencode(args) if args else ""), code=303)
        if websocket and request.path.startswith("/ws/trainee/") and hub is not None and hub.tabs.full():
            # Refused before the upgrade, so any client sees the status; the page asks /api/trainee/capacity first.
            return jsonify(error="full", message=_full_message(hub)), 429
        return None


    @app.after_request
    def remember_token(response):
        if settings.ui_token and request.environ.get("ft.token_where") == "query":
            response.set_cookie(TOKEN_COOKIE, settings.ui_token, httponly=True, samesite="Strict",
                                max_age=30 * 86400)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {413: "too_large", 404: "not_found", 405: "method_not_allowed", 503: "unavailable",
                400: "bad_request", 429: "full"}.get(exc.code, "error")
        if exc.code == 404:
            message = f"Nothing is served at {request.path}." if exc.description == ROUTE_NOT_FOUND else exc.description
        elif exc.code == 413:
            message = f"uploads are limited to {MAX_UPLOAD_BYTES} bytes"
        else:
            message = exc.description
        if not wants_html(request.path, request.accept_mimetypes):
            return jsonify(error=code, message=message), exc.code
        title = {404: "Page not found", 503: "Not available right now"}.get(exc.code, exc.name)
        return render_template("message.html", page="", title=title, message=message, back="/",
                               back_text="Back to training"), exc.code

    @app.errorhandler(StoreUnavailable)
    def store_missing(exc: StoreUnavailable):
        if request.path.startswith("/api/"):
            return jsonify(error="store_unavailable", message=str(exc)), 503
        return render_template("message.html", page="analytics", title="History unavailable",
                               message=str(exc)), 503

    @app.context_processor
    def page_globals():
        return {"exercise_names": {name: display_name(name) for name in (*EXERCISES, NONE)}, "exercises": EXERCISES,
                "camera_advice": {name: e.camera_advice for name, e in CATALOGUE.items()},
                "services": SERVICE_NAMES, "holds": sorted(HOLDS),
                "connections": POSE_CONNECTIONS}

    # ------------------------------------------------------------------ pages
    @app.get("/")
    def trainee():
        return render_template("trainee.html", page="trainee")

    @app.get("/watch/<path:session>")
    def watch(session: str):
        if hub is not None:
            with hub.lock:
                known = hub.state.get(session) is not None
            if known:
                return render_template("watch.html", page="watch", session=session)
        if with_store(lambda store: store.session_known(session)):
            return redirect(f"/analytics/{session}", code=303)   # it has ended: its report is what there is to see
        return render_template("message.html", page="instructor", title="No such session",
                               message=f"There is no live session {session!r}. It may have ended, or the address "
                                       f"is mistyped: the instructor page lists every live session.",
                               back="/instructor", back_text="Instructor page"), 404

    @app.get("/instructor")
    def instructor():
        return render_template("instructor.html", page="instructor")

    @app.get("/analytics")
    def analytics_page():
        def build(store):
            return analytics.overview(store.list_sessions(limit=100), store.history(days=30), date.today(), 30)
        return render_template("analytics.html", page="analytics", view=with_store(build))

    @app.get("/analytics/<path:session>")
    def analytics_session(session: str):
        report = with_store(lambda store: store.session_report(session))
        if not report:
            return render_template("message.html", page="analytics", title="Session not found",
                                   message=f"No stored session {session!r}. It appears here once it has ended."), 404
        return render_template("session.html", page="analytics", view=analytics.session_details(report))

    # ------------------------------------------------------------------ live JSON and streams
    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True, hub_alive=bool(hub and hub.alive))

    @app.get("/api/state")
    def state():
        return jsonify(need_hub().snapshot(request.args.get("session") or None))

    @app.get("/api/health")
    def health():
        live = need_hub()
        view = live.snapshot()["health"]
        view["ui"] = {"hub_alive": live.alive, "sse_clients": live.broadcaster.client_count,
                      "tabs.live": live.tabs.live, "tabs.max": live.tabs.max_sessions, **live.tabs.stats,
                      **(relay.stats if relay else {})}
        return jsonify(view)

    @app.get("/api/stream")
    def stream():
        live = need_hub()
        session = request.args.get("session") or None
        poses = request.args.get("poses", "all" if session else "none")
        if poses not in ("all", "lite", "none"):
            return jsonify(error="bad_request", message="poses must be all, lite or none"), 400
        client, snapshot = live.subscribe(session, poses)

        def generate():
            try:
                yield "retry: 2000\n\n" + format_sse("snapshot", snapshot)
                while not stopping.is_set() and not client.closed:
                    batch = client.take(KEEPALIVE_S)
                    yield "".join(format_sse(e.name, e.data, i) for i, e in batch) if batch else format_comment()
            finally:
                live.broadcaster.unsubscribe(client)

        return Response(generate(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/audio/<int:clip_id>.wav")
    def audio(clip_id: int):
        clip = need_hub().audio.get(clip_id)
        if clip is None:
            abort(404, "that cue is no longer kept")
        return Response(clip[1], mimetype="audio/wav", headers={"Cache-Control": "private, max-age=600"})

    @app.get("/api/frame/<path:session>")
    def frame(session: str):
        _, jpeg = need_hub().frames.latest(session)
        if jpeg is None:
            abort(404, "no frame of that session")
        return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/video/<path:session>")
    def video(session: str):
        live = need_hub()

        def generate():
            # Browsers show a part only once the next part's headers have arrived, so every frame is followed
            # at once by the next boundary and headers (no Content-Length: the boundary delimits the part).
            part_head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n".encode()
            yield part_head
            seen = 0
            while not stopping.is_set():
                version, jpeg = live.frames.wait_newer(session, seen, KEEPALIVE_S)
                if jpeg is None:
                    with live.lock:
                        if live.state.get(session) is None:
                            return  # the session is gone: end the stream
                    continue
                seen = version
                yield jpeg + b"\r\n" + part_head

        return Response(generate(), mimetype=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
                        headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------------ trainee tabs
    @app.get("/api/trainee/capacity")
    def trainee_capacity():
        live = need_hub()
        if live.tabs.full():
            return jsonify(error="full", message=_full_message(live), live=live.tabs.live,
                           max=live.tabs.max_sessions), 429
        return jsonify(live=live.tabs.live, max=live.tabs.max_sessions)

    @sock.route("/ws/trainee/<session>")
    def trainee_ws(ws, session: str):
        trainee_socket.serve(ws, session, hub, relay, settings, stopping)

    # ------------------------------------------------------------------ history exports
    def csv_response(text: str, name: str) -> Response:
        return Response(text, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/sessions")
    def sessions_json():
        return jsonify(with_store(lambda store: store.list_sessions(limit=_int_arg("limit", 100, 1, 10000))))

    @app.get("/api/sessions.csv")
    def sessions_csv():
        rows = with_store(lambda store: store.list_sessions(limit=_int_arg("limit", 1000, 1, 10000)))
        return csv_response(analytics.sessions_csv(rows), "sessions.csv")

    def _report(session: str) -> dict:
        report = with_store(lambda store: store.session_report(session))
        if not report:
            abort(404, f"no stored session {session!r}")
        return report

    @app.get("/api/sessions/<path:session>/report.json")
    def session_json(session: str):
        return jsonify(_report(session))

    @app.get("/api/sessions/<path:session>/reps.csv")
    def session_reps_csv(session: str):
        return csv_response(analytics.reps_csv(_report(session)), f"{_safe_name(session)}-reps.csv")

    @app.get("/api/sessions/<path:session>/sets.csv")
    def session_sets_csv(session: str):
        return csv_response(analytics.sets_csv(_report(session)), f"{_safe_name(session)}-sets.csv")

    def _history() -> list:
        return with_store(lambda store: store.history(days=_int_arg("days", 30, 1, 3650)))

    @app.get("/api/history")
    def history_json():
        return jsonify(_history())

    @app.get("/api/history.csv")
    def history_csv():
        return csv_response(analytics.history_csv(_history()), "history.csv")

    @app.get("/favicon.ico")
    def favicon():
        return redirect("/static/icon.svg")

    return app


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        abort(400, f"{name} must be a whole number")
    return max(low, min(high, value))


def _safe_name(session: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in session)[:80] or "session"
