"""How long to wait before retrying a model call: bounded exponential backoff that honours retry-after."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """`max_attempts` counts the first try. A server asking for a longer wait than `max_wait_s` is not retried."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_wait_s: float = 60.0
    request_timeout_s: float = 120.0
    first_token_timeout_s: float = 60.0
    idle_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a retry-after header (delta-seconds or HTTP-date); None when absent or unusable.

    Negative, non-finite and garbage values are unusable; a date in the past means "now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_http_date(text, time.time() if now is None else now)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _seconds_until_http_date(text: str, now: float) -> float | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def backoff_delay(policy: RetryPolicy, attempt: int) -> float:
    """Delay after failed attempt number `attempt` (1-based) when the server said nothing."""
    return min(policy.max_delay_s, policy.base_delay_s * (2 ** (attempt - 1)))


def retry_delay(policy: RetryPolicy, attempt: int, retry_after: str | None) -> float | None:
    """Seconds to wait before the next attempt, or None when no further attempt may be made."""
    if attempt >= policy.max_attempts:
        return None
    asked = parse_retry_after(retry_after)
    if asked is None:
        return backoff_delay(policy, attempt)
    if asked > policy.max_wait_s:
        return None
    return asked
