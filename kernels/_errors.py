"""The errors of `kernels`. Every error the package raises on purpose derives from `KernelsError`:

    KernelsError
    ├── ModelFileError        a GGUF file is missing, truncated, corrupt, hostile or unsupported
    ├── ModelNotFoundError    a model name is neither cached, nor in a user folder, nor a GGUF path
    ├── ModelFetchError       `models pull` could not fetch or verify a model
    ├── GenerationError       a request to the engine is invalid (empty prompt, context overflow, ...)
    ├── server.ServerConfigError   `orgide serve` cannot start as asked (host, port, token)
    ├── server.APIError            an HTTP request to the local server is refused (OpenAI-shaped error)
    ├── triton.KernelInputError    a Triton kernel got tensors of the wrong shape, dtype or device
    └── triton.TritonUnavailable   Triton or a GPU is missing for the Triton path
"""

from __future__ import annotations

from pathlib import Path


class KernelsError(Exception):
    """Root of every error `kernels` raises on purpose."""


class ModelFileError(KernelsError):
    """A model file cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelNotFoundError(KernelsError):
    """A model name that resolves to no file."""


class ModelFetchError(KernelsError):
    """Fetching or verifying a model failed."""


class GenerationError(KernelsError):
    """A generation request the engine cannot serve."""
