"""Local inference: GGUF models on the CPU, exposed to litellm as the `local/<model>` provider.

A `LocalModel` serves every caller through one batching engine (kernels/engine/): continuous
batching, a prefix cache shared across requests, constrained decoding (`SamplingParams`'s
`response_format` or `grammar`).

The application registers the provider with `register_litellm_provider()`; nothing here imports
Qt or `orgruntime`. `write_tiny_llama_gguf` is a shipped test fake: a tiny random model file.
"""

from kernels._errors import GenerationError, KernelsError, ModelFetchError, ModelFileError, ModelNotFoundError
from kernels._gguf_file import GGUFFile, TensorInfo
from kernels._local_model import GenerationResult, LocalModel, TextDelta
from kernels._provider import ModelPool, register_litellm_provider
from kernels._registry import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    ModelEntry,
    ModelSource,
    add_user_folder,
    cache_dir,
    list_models,
    pull,
    resolve_model,
    user_folders,
)
from kernels._sampling import SamplingParams
from kernels.engine import EngineConfig, EngineStats
from kernels._tiny_gguf import TinyModelSpec, write_tiny_llama_gguf

__all__ = [
    "DEFAULT_MODEL",
    "EngineConfig",
    "EngineStats",
    "KNOWN_MODELS",
    "GGUFFile",
    "GenerationError",
    "GenerationResult",
    "KernelsError",
    "LocalModel",
    "ModelEntry",
    "ModelFetchError",
    "ModelFileError",
    "ModelNotFoundError",
    "ModelPool",
    "ModelSource",
    "SamplingParams",
    "TensorInfo",
    "TextDelta",
    "TinyModelSpec",
    "add_user_folder",
    "cache_dir",
    "list_models",
    "pull",
    "register_litellm_provider",
    "resolve_model",
    "user_folders",
    "write_tiny_llama_gguf",
]
