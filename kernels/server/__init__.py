"""An OpenAI-compatible HTTP server for the local engine (`orgide serve`).

Routes: POST /v1/chat/completions and /v1/completions (whole or streamed as server-sent events,
with usage), GET /v1/models, GET /health (no token), GET /stats (counters). It listens on
127.0.0.1 unless told otherwise, wants `Authorization: Bearer <token>` on every route but
/health, refuses Host headers that do not name a loopback address, and sends no CORS headers.
"""

from kernels.server._app import RunningServer, build_app, start_server
from kernels.server._background import BackgroundServer
from kernels.server._errors import APIError, ServerConfigError
from kernels.server._settings import TOKEN_ENV, ServerSettings, is_loopback_name, new_token, token_from_environment

__all__ = [
    "TOKEN_ENV",
    "APIError",
    "BackgroundServer",
    "RunningServer",
    "ServerConfigError",
    "ServerSettings",
    "build_app",
    "is_loopback_name",
    "new_token",
    "start_server",
    "token_from_environment",
]
