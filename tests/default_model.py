"""The real default model (SmolLM2-135M-Instruct) for the tests that need it: they run when it is cached."""

from __future__ import annotations

import pytest

from kernels import KNOWN_MODELS, cache_dir

SOURCE = KNOWN_MODELS["smollm2-135m-instruct"]
MODEL_PATH = cache_dir() / SOURCE.file_name
needs_default_model = pytest.mark.skipif(
    not (MODEL_PATH.is_file() and MODEL_PATH.stat().st_size == SOURCE.size),
    reason="SmolLM2 is not cached: run `python -m ide models pull smollm2-135m-instruct`",
)
