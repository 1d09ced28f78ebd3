from __future__ import annotations

from pathlib import Path

import pytest

from kernels import TinyModelSpec, write_tiny_llama_gguf


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SmolLM2-like model: llama architecture, Q4_1 weights, Q8_0 tied embeddings."""
    return write_tiny_llama_gguf(tmp_path_factory.mktemp("tiny") / "tiny.gguf", TinyModelSpec())
