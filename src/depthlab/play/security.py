"""The guard in front of every request: a local server that trains on request is an attack surface.

- Host: the Host header must name this machine (``localhost``, ``127.0.0.1``, ``[::1]``, or the ``--host``
  given), so a page on another site cannot reach us through DNS rebinding.
- Token: every request carries the server's random token (``secrets.token_urlsafe``): in the query on first
  load, which sets a same-site HttpOnly cookie, then that cookie, an ``X-Depthlab-Token`` header or
  ``Authorization: token ...`` (as Jupyter does). Missing: 401; wrong: 403.
- Origin: a request that changes state (anything but GET/HEAD) must come from the page's own origin; any
  request whose Origin names another site is refused.
- Paths: no ``..`` segment, backslash or NUL in the decoded path, whatever the encoding; static files are
  served from the package's own folder only.
- Every response says: no scripts, styles, images or connections but our own (Content-Security-Policy),
  no framing, no referrer (the token is in the first URL), no sniffing.
"""

from __future__ import annotations

import json
import secrets
from http import cookies
from urllib.parse import parse_qs

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def new_token() -> str:
    return secrets.token_urlsafe(24)


def host_name(host_header: str) -> str:
    """``127.0.0.1:8000`` -> ``127.0.0.1``; ``[::1]:80`` -> ``::1``; lower-cased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def bad_path(path: str) -> bool:
    """A decoded path that could step outside its folder (``..`` segment, backslash, NUL, ``%``-escapes
    left after one decoding: a double-encoded ``..``)."""
    segments = path.split("/")
    return (
        ".." in segments or "\\" in path or "\x00" in path or "%2e" in path.lower() or "%2f" in path.lower()
    )


class Guard:
    """ASGI middleware enforcing the checks of the module docstring on every HTTP request."""

    def __init__(self, app, token: str, hosts: frozenset[str] = LOCAL_HOSTS, cookie: str = "depthlab_play"):
        self.app, self.token, self.hosts, self.cookie = app, token, frozenset(hosts), cookie

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                return await self.app(scope, receive, send)
            return  # no websockets here
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refused = self._refusal(scope, headers)
        if refused is not None:
            return await _respond(send, *refused)
        from_query = self._query_token(scope) is not None
        await self.app(scope, receive, self._secure_send(send, set_cookie=from_query))

    def _refusal(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            return 403, f"host {host!r} is not this machine (DNS rebinding?)"
        token = self._query_token(scope) or self._sent_token(headers)
        if not token:
            return 401, "a token is required: open the address depthlab play printed"
        if not secrets.compare_digest(token.encode(), self.token.encode()):
            return 403, "wrong token"
        origin = headers.get("origin")
        own = {f"http://{host}", f"https://{host}"}
        if origin is not None and origin not in own:
            return 403, f"origin {origin!r} is not this page"
        if scope["method"] not in SAFE_METHODS and origin is None:
            return 403, "a request that changes state needs the page's Origin"
        if bad_path(scope["path"]):
            return 404, "not found"
        return None

    def _query_token(self, scope) -> str | None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        return values[0] if values else None

    def _sent_token(self, headers: dict[str, str]) -> str | None:
        if headers.get("x-depthlab-token"):
            return headers["x-depthlab-token"]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("token "):
            return auth[6:].strip()
        jar = cookies.SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except cookies.CookieError:
            return None
        return jar[self.cookie].value if self.cookie in jar else None

    def _secure_send(self, send, set_cookie: bool):
        async def wrapped(message):
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if set_cookie:
                    value = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                    extra.append((b"set-cookie", value.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return wrapped


async def _respond(send, status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})
