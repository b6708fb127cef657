"""Who may use the UI: loopback by default; anything wider needs a token (header, ?token= or cookie)."""
from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit


TOKEN_COOKIE = "ft_token"
TOKEN_HEADER = "X-FT-Token"


class ListenRefused(SystemExit):
    """Raised at start-up: the UI would be reachable from the network without a token."""


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, token: str) -> None:
    """Refuse to serve beyond this machine without a token: camera pictures of people are private."""
    if not is_loopback(host) and not token:
        raise ListenRefused(
            f"refusing to listen on {host!r} without a token: the UI shows camera pictures and workout "
            f"history. Set --ui-token (or FT_UI_TOKEN) to a long random string, or listen on 127.0.0.1.")


def host_allowed(host_header: str, token: str) -> bool:
    """Without a token only loopback names may be asked for: a web page on a domain re-pointed at 127.0.0.1
    (DNS rebinding) must not read the camera or the history. With a token, the token decides."""
    if token:
        return True
    host = (host_header or "").strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return is_loopback(host)


def same_origin(origin: str | None, host_header: str) -> bool:
    """A POST from another site's page (its Origin differs from our Host) is refused; no Origin is a non-browser."""
    if not origin:
        return True
    return urlsplit(origin).netloc.lower() == (host_header or "").lower()


def supplied_token(headers, args, cookies) -> tuple[str, str]:
    """(token, where) from a request's header, Bearer authorization, query or cookie; ("", "") if none."""
    header = headers.get(TOKEN_HEADER, "")
    if header:
        return header, "header"
    auth = headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[len("Bearer "):].strip(), "header"
    if args.get("token"):
        return args.get("token", ""), "query"
    if cookies.get(TOKEN_COOKIE):
        return cookies.get(TOKEN_COOKIE, ""), "cookie"
    return "", ""


def token_ok(expected: str, given: str) -> bool:
    """Constant-time comparison; no token configured means no check (loopback only, see check_listen)."""
    if not expected:
        return True
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


# Paths that are machine interfaces: refusals and errors there are JSON whatever the client accepts.
API_PREFIXES = ("/api/", "/ws/")
API_PATHS = ("/healthz",)


def wants_html(path: str, accept) -> bool:
    """Whether a refusal or an error should be a page: pages are HTML unless the client prefers JSON outright.

    `accept` is the request's werkzeug MIMEAccept. Browsers list many types (Chromium puts
    application/signed-exchange among them), so the question is HTML-or-JSON, not the single best type."""
    if path.startswith(API_PREFIXES) or path in API_PATHS or path.startswith("/static/"):
        return False
    return accept.best_match(["text/html", "application/json"], default="text/html") == "text/html"
