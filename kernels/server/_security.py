"""Who may talk to the server: loopback Host headers only (against DNS rebinding), no cross-origin
browser requests (no CORS headers, preflights refused), and a bearer token on everything but /health."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from kernels.server._errors import APIError
from kernels.server._settings import ServerSettings, is_loopback_name

PUBLIC_PATHS = frozenset({"/health"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def split_host_header(value: str) -> str | None:
    """The host part of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`); None if malformed."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
    else:
        host, _, port = value.partition(":")
        rest = ":" + port if _ else ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and len(rest) <= 6):
        return None
    return host or None


def host_allowed(value: str | None, extra_names: frozenset[str]) -> bool:
    if not value:
        return False
    host = split_host_header(value)
    if host is None:
        return False
    return is_loopback_name(host) or host.rstrip(".").lower() in extra_names


def origin_allowed(origin: str, extra_names: frozenset[str]) -> bool:
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and host is not None and (is_loopback_name(host) or host in extra_names)


def bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def security_middleware(settings: ServerSettings) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    extra_names = settings.host_names()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), extra_names):
            raise APIError(403, "the Host header must name this machine's loopback address (localhost, 127.0.0.1, [::1])",
                           type="permission_error", code="host_not_allowed")  # fmt: skip
        if request.method == "OPTIONS":
            raise APIError(403, "cross-origin requests are not served", type="permission_error", code="cors_refused")
        origin = request.headers.get("Origin")
        if origin is not None and not origin_allowed(origin, extra_names):
            raise APIError(403, f"requests from the web origin {origin!r} are not served",
                           type="permission_error", code="origin_not_allowed")  # fmt: skip
        if request.path not in PUBLIC_PATHS and not bearer_matches(request.headers.get("Authorization"), settings.token):
            raise APIError(401, "a valid API token is required: send 'Authorization: Bearer <token>'",
                           type="authentication_error", code="invalid_api_key")  # fmt: skip
        return await handler(request)

    return guard
