"""The aiohttp application and its lifetime: build, bind, serve, stop.

`start_server` binds the socket itself (so `port=0` yields the port the system chose) and serves
on the running event loop; `BackgroundServer` does the same on a thread of its own.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kernels._local_model import LocalModel
from kernels.server._errors import APIError, ServerConfigError
from kernels.server._handlers import Routes, ServedModel
from kernels.server._security import security_middleware
from kernels.server._settings import ServerSettings
from kernels.server._stats import ServerStats

SHUTDOWN_SECONDS = 3.0
log = logging.getLogger("kernels.server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HTTP_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 413: "invalid_request_error"}


def _error_response(error: APIError) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="orgide"'} if error.status == 401 else None
    return web.json_response(error.body(), status=error.status, headers=headers)


@web.middleware
async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal as OpenAI's error object: {"error": {"message", "type", "param", "code"}}."""
    try:
        return await handler(request)
    except APIError as error:
        return _error_response(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(error.status)
        message = error.text if error.status != 404 else f"no route for {request.method} {request.path}"
        return _error_response(APIError(error.status, message or error.reason,
                                        type=HTTP_ERROR_TYPES.get(error.status, "invalid_request_error"), code=code))  # fmt: skip
    except Exception:
        log.exception("the server failed on %s %s", request.method, request.path)
        return _error_response(APIError(500, "the server failed on this request", type="server_error", code="internal_error"))


def build_app(model: LocalModel, settings: ServerSettings, *, model_name: str | None = None) -> tuple[web.Application, ServerStats]:
    stats = ServerStats()
    app = web.Application(client_max_size=settings.max_body_bytes,
                          middlewares=[openai_errors, security_middleware(settings)])  # fmt: skip
    Routes(ServedModel.of(model, model_name), stats, settings.max_running).install(app)
    return app, stats


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port (IPv4 preferred for names that have both)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ServerConfigError(f"cannot resolve the host {host!r}: {error}") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, kind, protocol, _, address = infos[0]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise ServerConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class RunningServer:
    """A server serving on the current event loop until `await stop()`."""

    def __init__(self, runner: web.AppRunner, sock: socket.socket, stats: ServerStats, settings: ServerSettings) -> None:
        self.runner = runner
        self.sock = sock
        self.stats = stats
        self.settings = settings
        self.url = url_of(sock)
        self.port: int = sock.getsockname()[1]

    @property
    def base_url(self) -> str:
        """Where OpenAI clients point (`base_url` / `api_base`)."""
        return self.url + "/v1"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_server(model: LocalModel, settings: ServerSettings, *, model_name: str | None = None,
                       **runner_options: Any) -> RunningServer:  # fmt: skip
    app, stats = build_app(model, settings, model_name=model_name)
    # handler_cancellation: a client that disconnects cancels its handler, which cancels its sequence
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=SHUTDOWN_SECONDS, access_log=None, **runner_options)
    await runner.setup()
    sock = bind(settings.host, settings.port)
    try:
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return RunningServer(runner, sock, stats, settings)
