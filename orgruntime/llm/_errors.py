"""Errors of LLM access.

LLMError                      root: a model call that could not produce a usable answer
├── LLMTimeout                no answer, or no progress in the stream, within the time allowed
├── LLMRateLimited            429 after every allowed retry, or a retry-after longer than we may wait
├── LLMServerError            5xx, a reset connection or a stream cut short, after every allowed retry
├── LLMRequestRejected        400/401/403/404/422: the request itself is wrong; never retried
├── LLMMalformedResponse      an answer that is not a valid chat completion (HTML page, broken JSON)
├── NetworkModelCallBlocked   a call to a non-local model while the network guard is on (tests)
└── ScriptError               the scripted model's script is missing, invalid or exhausted
"""

from __future__ import annotations

from orgruntime._errors import OrgError


class LLMError(OrgError):
    """Root of the errors raised by orgruntime.llm."""

    retryable = False


class LLMTimeout(LLMError):
    retryable = True


class LLMRateLimited(LLMError):
    retryable = True

    def __init__(self, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMServerError(LLMError):
    retryable = True


class LLMRequestRejected(LLMError):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class LLMMalformedResponse(LLMError):
    retryable = True


class NetworkModelCallBlocked(LLMError):
    pass


class ScriptError(LLMError):
    pass
