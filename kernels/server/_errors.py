"""Errors of the local server. Both derive from `kernels.KernelsError`:

    KernelsError
    ├── ServerConfigError   the server cannot start as asked (a remote host without consent, a taken port, ...)
    └── APIError            one request is refused; it becomes an OpenAI-shaped JSON error response
"""

from __future__ import annotations

from typing import Any

from kernels._errors import KernelsError


class ServerConfigError(KernelsError):
    """The server settings are unusable; the message says which and why."""


class APIError(KernelsError):
    """A refused request: HTTP status, OpenAI error type, a short machine code and the message."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> None:  # noqa: A002 - OpenAI's field name  # fmt: skip
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, *, param: str | None = None, code: str | None = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)
