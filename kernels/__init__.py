"""Local inference: GGUF models on the CPU, exposed to litellm as the `local/<model>` provider.

The application registers the provider with `register_litellm_provider()`; nothing here imports
Qt or `orgruntime`.
"""

from kernels._errors import GenerationError, KernelsError, ModelFetchError, ModelFileError, ModelNotFoundError
from kernels._gguf_file import GGUFFile, TensorInfo
from kernels._tiny_gguf import TinyModelSpec, write_tiny_llama_gguf

__all__ = [
    "GGUFFile",
    "GenerationError",
    "KernelsError",
    "ModelFetchError",
    "ModelFileError",
    "ModelNotFoundError",
    "TensorInfo",
    "TinyModelSpec",
    "write_tiny_llama_gguf",
]
