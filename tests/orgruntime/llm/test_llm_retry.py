"""retry-after parsing and the backoff schedule."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from orgruntime.llm import RetryPolicy, parse_retry_after, retry_delay

NOW = 1_800_000_000.0


def test_delta_seconds_forms() -> None:
    assert parse_retry_after("0", now=NOW) == 0.0
    assert parse_retry_after("2.5", now=NOW) == 2.5
    assert parse_retry_after(" 7 ", now=NOW) == 7.0
    assert parse_retry_after("-3", now=NOW) is None
    assert parse_retry_after("nan", now=NOW) is None
    assert parse_retry_after("inf", now=NOW) is None
    assert parse_retry_after("", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after("Tuesday", now=NOW) is None


def test_http_date_forms() -> None:
    future = datetime.fromtimestamp(NOW, tz=timezone.utc) + timedelta(seconds=30)
    assert parse_retry_after(format_datetime(future, usegmt=True), now=NOW) == 30.0
    past = datetime.fromtimestamp(NOW, tz=timezone.utc) - timedelta(days=2)
    assert parse_retry_after(format_datetime(past, usegmt=True), now=NOW) == 0.0
    assert parse_retry_after("Wed, 32 Foo 2015 07:28:00 GMT", now=NOW) is None


def test_delay_honours_the_server_and_the_bounds() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=4.0, max_wait_s=60.0)
    assert [retry_delay(policy, attempt, None) for attempt in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert retry_delay(policy, 4, None) is None  # attempts used up
    assert retry_delay(policy, 1, "0") == 0.0
    assert retry_delay(policy, 1, "12") == 12.0  # longer than max_delay_s, still honoured
    assert retry_delay(policy, 1, "99999") is None  # longer than we may wait: give up now
    assert retry_delay(policy, 1, "-1") == 0.5  # unusable: our own backoff
    assert retry_delay(policy, 1, "garbage") == 0.5


@given(st.text(max_size=40))
def test_any_header_text_gives_a_finite_non_negative_delay_or_none(text: str) -> None:
    value = parse_retry_after(text, now=NOW)
    assert value is None or (value >= 0 and value != float("inf"))
    delay = retry_delay(RetryPolicy(), 1, text)
    assert delay is None or 0 <= delay <= RetryPolicy().max_wait_s


@given(st.integers(min_value=1, max_value=50))
def test_backoff_is_bounded(attempt: int) -> None:
    policy = RetryPolicy(max_attempts=100)
    delay = retry_delay(policy, attempt, None)
    assert delay is not None and 0 < delay <= policy.max_delay_s
