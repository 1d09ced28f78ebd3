"""LLM access for the run engine: streaming chat calls through litellm, retries, costs, the scripted model."""

from orgruntime.llm._errors import (
    LLMError,
    LLMMalformedResponse,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    NetworkModelCallBlocked,
    ScriptError,
)
from orgruntime.llm._json_actions import ActionParseError, actions_schema, parse_answer
from orgruntime.llm._litellm import BLOCK_NETWORK_ENV, prepare, provider_of, stream_chat, supports_native_tools
from orgruntime.llm._retry import RetryPolicy, parse_retry_after, retry_delay
from orgruntime.llm._scripted import CALL_LOG_ENV, load_script
from orgruntime.llm._types import AssistantTurn, ChatRequest, ChatResult, ResultTurn, ToolCall, ToolSpec, Turn, UserTurn

__all__ = [
    "BLOCK_NETWORK_ENV",
    "CALL_LOG_ENV",
    "ActionParseError",
    "AssistantTurn",
    "ChatRequest",
    "ChatResult",
    "LLMError",
    "LLMMalformedResponse",
    "LLMRateLimited",
    "LLMRequestRejected",
    "LLMServerError",
    "LLMTimeout",
    "NetworkModelCallBlocked",
    "ResultTurn",
    "RetryPolicy",
    "ScriptError",
    "ToolCall",
    "ToolSpec",
    "Turn",
    "UserTurn",
    "actions_schema",
    "load_script",
    "parse_answer",
    "parse_retry_after",
    "prepare",
    "provider_of",
    "retry_delay",
    "stream_chat",
    "supports_native_tools",
]
