"""Provider API keys in the OS keyring (service "orgide"), never in the org, QSettings or the environment.

Before a run, `apply_keys()` hands the stored keys to litellm's in-memory per-provider settings
(`litellm.openai_key`, ...), so they reach model calls without ever being put in `os.environ`,
where tool subprocesses, git or the local server could inherit them.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICE = "orgide"


@dataclass(frozen=True)
class Provider:
    name: str  # the litellm model prefix
    title: str
    litellm_attribute: str  # where litellm looks for this provider's key in memory


PROVIDERS = (
    Provider("openai", "OpenAI", "openai_key"),
    Provider("anthropic", "Anthropic", "anthropic_key"),
    Provider("groq", "Groq", "groq_key"),
    Provider("openrouter", "OpenRouter", "openrouter_key"),
    Provider("xai", "xAI", "xai_key"),
)
PROVIDER_NAMES = tuple(p.name for p in PROVIDERS)


class SecretError(Exception):
    """The keyring refused (locked, no backend); the message says what to do."""


def _keyring():
    try:
        import keyring
    except ImportError as error:
        raise SecretError("the keyring package is not installed: API keys cannot be stored") from error
    return keyring


def _username(provider: str) -> str:
    if provider not in PROVIDER_NAMES:
        raise SecretError(f"unknown provider {provider!r}; known: {', '.join(PROVIDER_NAMES)}")
    return f"api-key:{provider}"


def get_key(provider: str) -> str | None:
    try:
        return _keyring().get_password(SERVICE, _username(provider))
    except SecretError:
        raise
    except Exception as error:  # keyring backends raise their own errors (locked, missing)
        raise SecretError(f"the keyring could not be read: {error}") from error


def set_key(provider: str, key: str | None) -> None:
    """Store `key` for `provider`; an empty key deletes the stored one."""
    username = _username(provider)
    keyring = _keyring()
    try:
        if key and key.strip():
            keyring.set_password(SERVICE, username, key.strip())
        elif keyring.get_password(SERVICE, username) is not None:
            keyring.delete_password(SERVICE, username)
    except Exception as error:
        raise SecretError(f"the keyring could not store the key: {error}") from error


def stored_providers() -> tuple[str, ...]:
    found = []
    for provider in PROVIDER_NAMES:
        try:
            if get_key(provider):
                found.append(provider)
        except SecretError:
            continue
    return tuple(found)


def apply_keys() -> tuple[str, ...]:
    """Give litellm the stored keys (in memory only); the providers that got one. Call off the UI thread."""
    import litellm

    applied = []
    for provider in PROVIDERS:
        try:
            key = get_key(provider.name)
        except SecretError:
            continue
        if key:
            setattr(litellm, provider.litellm_attribute, key)
            applied.append(provider.name)
    return tuple(applied)
