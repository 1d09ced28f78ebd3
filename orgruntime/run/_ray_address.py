"""Ray cluster addresses, read before anything connects: `HOST:PORT` (a cluster's head, e.g. 10.0.0.5:6379) or
`ray://HOST:PORT` (a Ray client server). Pure: imports no ray."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
CLIENT_SCHEME = "ray://"
EXAMPLE = "HOST:PORT, e.g. 10.0.0.5:6379, or ray://HOST:PORT"


@dataclass(frozen=True)
class RayAddress:
    host: str
    port: int
    client: bool = False  # ray://: a Ray client server, not a head's GCS

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{CLIENT_SCHEME if self.client else ''}{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_ray_address(text: str) -> RayAddress:
    """The address in `text`, or ValueError saying what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"an empty Ray address (give {EXAMPLE})")
    rest = text.strip()
    client = rest.startswith(CLIENT_SCHEME)
    if client:
        rest = rest[len(CLIENT_SCHEME) :]
    elif "://" in rest:
        raise ValueError(f"{text!r} is not a Ray address: only ray:// may come before the host (give {EXAMPLE})")
    if rest.startswith("["):  # [IPv6]:port
        host, bracket, port_text = rest[1:].partition("]")
        if not bracket or not port_text.startswith(":"):
            raise ValueError(f"{text!r} is not a Ray address (give {EXAMPLE})")
        port_text = port_text[1:]
    else:
        host, colon, port_text = rest.rpartition(":")
        if not colon or not host:
            raise ValueError(f"{text!r} is not a Ray address: it needs a host and a port (give {EXAMPLE})")
        if ":" in host:
            raise ValueError(f"{text!r} is not a Ray address: an IPv6 host goes in brackets, e.g. [::1]:6379")
    if not _is_host(host):
        raise ValueError(f"{text!r} is not a Ray address: {host!r} is not a host name or IP address")
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r} is not a Ray address: the port must be a number from 1 to 65535")
    return RayAddress(host, int(port_text), client)


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host)) and not host.replace(".", "").isdigit()
