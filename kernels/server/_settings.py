"""How the server listens: host, port, token, limits. Loopback unless the caller explicitly allows more."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass

from kernels.server._errors import ServerConfigError

TOKEN_ENV = "ORGIDE_API_TOKEN"
DEFAULT_BODY_LIMIT = 4 * 2**20  # bytes; a 4,096-token prompt as text or ids is far smaller
DEFAULT_MAX_RUNNING = 64


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_from_environment() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


def is_loopback_name(host: str) -> bool:
    """`localhost`, an address in 127.0.0.0/8, or ::1 (with or without IPv6 brackets)."""
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """`allow_remote` must be set to listen beyond loopback; `allowed_hosts` are extra Host names
    accepted besides the loopback ones (e.g. the machine's LAN name when serving remotely)."""

    token: str
    host: str = "127.0.0.1"
    port: int = 0
    allow_remote: bool = False
    allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_BODY_LIMIT
    max_running: int = DEFAULT_MAX_RUNNING

    def __post_init__(self) -> None:
        if not self.token or any(c.isspace() for c in self.token) or not self.token.isprintable():
            raise ServerConfigError("the API token must be a non-empty string without spaces or control characters")
        if not 0 <= self.port <= 65535:
            raise ServerConfigError(f"port {self.port} is outside 0..65535")
        if self.max_body_bytes < 1024 or self.max_running < 1:
            raise ServerConfigError("max_body_bytes must be at least 1024 and max_running at least 1")
        if not self.loopback and not self.allow_remote:
            raise ServerConfigError(
                f"{self.host} is not a loopback address; listening beyond this machine must be allowed explicitly "
                "(allow_remote; on the command line --allow-remote)"
            )

    @property
    def loopback(self) -> bool:
        return is_loopback_name(self.host)

    def host_names(self) -> frozenset[str]:
        """Non-loopback Host names accepted in requests: the bound address itself and `allowed_hosts`."""
        names = {name.strip().rstrip(".").lower() for name in self.allowed_hosts}
        if not self.loopback and self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host.lower())
        return frozenset(names)
