"""Who may use the UI: loopback without a token, anything wider only with one, on every route."""
import subprocess
import sys

import pytest

from common.config import PROJECT_ROOT, Settings
from services.ui.app import create_app
from services.ui.security import (TOKEN_COOKIE, ListenRefused, check_listen, host_allowed, is_loopback,
                                  same_origin, supplied_token, token_ok)


@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True),
                                        ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False),
                                        ("192.168.1.20", False), ("trainer.example", False), ("", False)])
def test_loopback_hosts(host, loop):
    assert is_loopback(host) is loop


def test_wide_listening_needs_a_token():
    check_listen("127.0.0.1", "")
    check_listen("0.0.0.0", "s3cret-token")
    with pytest.raises(ListenRefused) as err:
        check_listen("0.0.0.0", "")
    assert "token" in str(err.value) and "0.0.0.0" in str(err.value)


def test_token_sources_in_order_and_comparison():
    assert supplied_token({"X-FT-Token": "h"}, {"token": "q"}, {TOKEN_COOKIE: "c"}) == ("h", "header")
    assert supplied_token({"Authorization": "Bearer b"}, {}, {}) == ("b", "header")
    assert supplied_token({}, {"token": "q"}, {TOKEN_COOKIE: "c"}) == ("q", "query")
    assert supplied_token({}, {}, {TOKEN_COOKIE: "c"}) == ("c", "cookie")
    assert supplied_token({}, {}, {}) == ("", "")
    assert token_ok("", "") and token_ok("abc", "abc")
    assert not token_ok("abc", "") and not token_ok("abc", "abd") and not token_ok("abc", "abcd")


@pytest.fixture
def guarded(tmp_path):
    settings = Settings(ui_host="0.0.0.0", ui_token="tok-123", db_path=str(tmp_path / "w.sqlite3"))
    return create_app(settings).test_client()


@pytest.mark.parametrize("path", ["/", "/instructor", "/analytics", "/watch/x", "/api/state", "/api/sessions",
                                  "/api/history.csv", "/api/stream", "/api/audio/1.wav", "/api/video/x",
                                  "/static/style.css", "/healthz"])
def test_every_route_needs_the_token(guarded, path):
    r = guarded.get(path)
    assert r.status_code == 401
    r = guarded.get(path, headers={"X-FT-Token": "wrong"})
    assert r.status_code == 401


def test_pages_say_what_is_missing_and_api_answers_json(guarded):
    page = guarded.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 401 and b"Access token needed" in page.data
    api = guarded.get("/api/state")
    assert api.get_json() == {"error": "unauthorized", "message": "a valid token is required"}


def test_query_token_sets_a_cookie_that_then_suffices(guarded):
    r = guarded.get("/analytics?token=tok-123&days=7", headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["Location"] == "/analytics?days=7"  # token out of the address bar
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{TOKEN_COOKIE}=tok-123") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # The test client keeps the cookie: later requests need nothing else.
    assert guarded.get("/analytics").status_code == 200
    assert guarded.get("/healthz").get_json()["ok"] is True


def test_header_token_works_without_cookie(guarded):
    r = guarded.get("/healthz", headers={"X-FT-Token": "tok-123"})
    assert r.status_code == 200 and "Set-Cookie" not in r.headers


def test_open_on_loopback_without_token(tmp_path):
    client = create_app(Settings(db_path=str(tmp_path / "w.sqlite3"))).test_client()
    assert client.get("/").status_code == 200
    assert client.get("/healthz").get_json() == {"ok": True, "hub_alive": False}


def test_host_and_origin_checks():
    assert host_allowed("localhost:8000", "") and host_allowed("127.0.0.1", "") and host_allowed("[::1]:80", "")
    assert not host_allowed("evil.example:8000", "") and not host_allowed("", "")
    assert host_allowed("trainer.lan:8000", "tok")  # with a token, the token decides
    assert same_origin(None, "localhost:8000") and same_origin("http://localhost:8000", "localhost:8000")
    assert not same_origin("https://evil.example", "localhost:8000")


def test_rebinding_and_cross_site_posts_are_refused(tmp_path):
    client = create_app(Settings(db_path=str(tmp_path / "w.sqlite3"))).test_client()
    r = client.get("/api/sessions", headers={"Host": "evil.example:8000"})
    assert r.status_code == 403 and r.get_json()["error"] == "bad_host"
    r = client.post("/api/ingest/web-x", data=b"\xff\xd8\xff", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.get_json()["error"] == "cross_origin"
    assert client.get("/api/sessions").status_code == 200


def test_runner_refuses_to_listen_widely_without_token():
    proc = subprocess.run([sys.executable, "-m", "services.ui", "--ui-host", "0.0.0.0", "--ui-token", ""],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "refusing to listen on '0.0.0.0' without a token" in proc.stderr


def test_runner_help():
    proc = subprocess.run([sys.executable, "-m", "services.ui", "--help"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "--ui-token" in proc.stdout and "--capture-ingest" in proc.stdout


CHROMIUM_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
                   "application/signed-exchange;v=b3;q=0.7")


def test_a_browser_without_the_token_gets_the_page_that_says_so(guarded):
    # Chromium's Accept header lists application/signed-exchange too: still a page, not raw JSON.
    for path in ("/", "/instructor", "/analytics", "/nope"):
        page = guarded.get(path, headers={"Accept": CHROMIUM_ACCEPT})
        assert page.status_code == 401 and page.mimetype == "text/html" and b"Access token needed" in page.data
    assert guarded.get("/", headers={"Accept": "*/*"}).mimetype == "text/html"   # curl
    # Machine paths, and clients that ask for JSON, get JSON.
    for path, accept in (("/api/state", CHROMIUM_ACCEPT), ("/healthz", CHROMIUM_ACCEPT),
                         ("/analytics", "application/json")):
        r = guarded.get(path, headers={"Accept": accept})
        assert r.status_code == 401 and r.get_json()["error"] == "unauthorized"


def test_unknown_addresses_get_a_real_404(tmp_path):
    client = create_app(Settings(db_path=str(tmp_path / "w.sqlite3"))).test_client()
    page = client.get("/nope", headers={"Accept": CHROMIUM_ACCEPT})
    assert page.status_code == 404 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Page not found" in html and 'class="topbar"' in html and 'href="/"' in html
    api = client.get("/api/nope")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found" and "/api/nope" in api.get_json()["message"]


def test_watching_an_unknown_session_says_so_at_once(tmp_path):
    from common.history import HistoryWriter
    store = HistoryWriter(tmp_path / "w.sqlite3")
    store.start_session("web-done", 1000.0, "browser")
    store.end_session("web-done", 1010.0)
    store.close()
    client = create_app(Settings(db_path=str(tmp_path / "w.sqlite3"))).test_client()
    page = client.get("/watch/web-nobody", headers={"Accept": CHROMIUM_ACCEPT})
    assert page.status_code == 404 and b"No such session" in page.data
    ended = client.get("/watch/web-done")
    assert ended.status_code == 303 and ended.headers["Location"] == "/analytics/web-done"
