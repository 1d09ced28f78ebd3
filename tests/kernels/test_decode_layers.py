"""A decode step's layers in one compiled call (kernels/_decode_layers.py) give the per-layer path's bits."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as Q
from numba import njit

from kernels import LocalModel, SamplingParams, TinyModelSpec, write_tiny_llama_gguf
from kernels._decode_layers import DecodeAttention, _post
from kernels._gguf_file import GGUFFile
from kernels._kernel_jobs import NOTHING, WORKERS, set_threads
from kernels._kernel_threads import _wait
from kernels._model import LlamaModel
from tests.kernels.test_engine import together

# wide enough that every product splits over two threads (kernels/_linear.py's SPLIT_WORK) and heads of 64
SPLIT_SPEC = TinyModelSpec(hidden=256, heads=4, kv_heads=2, ffn=512, layers=3)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def kernel_threads(request: pytest.FixtureRequest) -> Iterator[int]:
    before = set_threads(request.param)
    yield request.param
    set_threads(before)


def load(tmp_path: Path, spec: TinyModelSpec, mode: str = "fused") -> LlamaModel:
    file = GGUFFile(write_tiny_llama_gguf(tmp_path / f"{spec.architecture}-{spec.weight_type.name}.gguf", spec))
    return LlamaModel.load(file, len(file.metadata["tokenizer.ggml.tokens"]), mode)  # type: ignore[arg-type]


def decode(model: LlamaModel, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy decode after a prompt: (every step's logits [steps, V], the first layer's keys after it)."""
    cache = model.new_cache(128)
    logits = model.forward(list(range(3, 40)), cache)
    rows = []
    for _ in range(steps):
        logits = model.forward([int(logits[-1].argmax())], cache)
        rows.append(logits)
    return torch.cat(rows), cache.keys[0][:, : cache.length].clone()


@pytest.mark.parametrize("architecture", ["llama", "qwen2", "qwen3"])  # plain, QKV bias, QK-norm
def test_one_call_gives_the_bits_of_the_per_layer_path(tmp_path: Path, architecture: str, kernel_threads: int) -> None:
    model = load(tmp_path, TinyModelSpec(**{**SPLIT_SPEC.__dict__, "architecture": architecture}))
    program = model.decode_layers
    assert program is not None
    fused_logits, fused_keys = decode(model, 12)
    model.decode_layers = None
    eager_logits, eager_keys = decode(model, 12)
    assert torch.equal(fused_logits, eager_logits)
    assert torch.equal(fused_keys, eager_keys)


MIXED = (("attn_v", Q.Q8_0), ("ffn_up", Q.Q8_0))  # bytes beside nibbles: qkv and gate_up of two parts each


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_linears_of_several_parts_give_the_bits_of_the_per_layer_path(tmp_path: Path, architecture: str, kernel_threads: int) -> None:
    model = load(tmp_path, TinyModelSpec(**{**SPLIT_SPEC.__dict__, "architecture": architecture, "tensor_types": MIXED}))
    assert [len(model.layers[0].qkv.parts), len(model.layers[0].gate_up.parts)] == [2, 2]
    assert model.decode_layers is not None
    fused_logits, fused_keys = decode(model, 12)
    model.decode_layers = None
    eager_logits, eager_keys = decode(model, 12)
    assert torch.equal(fused_logits, eager_logits)
    assert torch.equal(fused_keys, eager_keys)


def test_engine_decode_steps_of_many_rows_give_the_tokens_of_the_per_layer_path(tmp_path: Path, kernel_threads: int) -> None:
    local = LocalModel.load(write_tiny_llama_gguf(tmp_path / "split.gguf", SPLIT_SPEC))
    try:
        assert local.model.decode_layers is not None
        texts = [f"prompt number {i} " * (i + 1) for i in range(6)]
        params = [SamplingParams(max_tokens=10, ignore_eos=True)] * len(texts)
        fused = [r.token_ids for r in together(local, texts, params)]
        local.model.decode_layers = None
        eager = [r.token_ids for r in together(local, texts, params)]
        assert fused == eager
    finally:
        local.close()


@pytest.mark.parametrize(
    ("change", "mode"),
    [({"weight_type": Q.F32}, "fused"), ({}, "fallback"), ({"weight_type": Q.F16}, "fused")],
    ids=["float32-weights", "dequantising-fallback", "float16-weights"],
)
def test_layers_it_cannot_run_are_left_to_the_per_layer_path(tmp_path: Path, change: dict, mode: str) -> None:  # type: ignore[type-arg]
    spec = TinyModelSpec(**{**SPLIT_SPEC.__dict__, **change})
    model = load(tmp_path, spec, mode)
    assert model.decode_layers is None
    decode(model, 2)  # still decodes


def test_a_position_past_the_rotary_table_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    model = load(tmp_path, SPLIT_SPEC)
    program = model.decode_layers
    assert program is not None
    cache = model.new_cache(64)
    model.forward(list(range(3, 20)), cache)
    cache.reserve(18)
    with torch.inference_mode():  # the cache's tensors were made in it
        for store in (*cache.keys, *cache.values):
            store[:, cache.length :] = 0.0  # reserved memory is uninitialised: it may hold NaNs, never equal to themselves
    keys_before = [k.clone() for k in (*cache.keys, *cache.values)]
    position = np.array([model.max_positions], dtype=np.int64)  # one past the table
    x = model.embedding([5])
    with pytest.raises(ValueError, match="out of range"):
        program.run(x, position, np.array([17], dtype=np.int64), model.query_table, model.key_table, cache.keys, cache.values,
                    DecodeAttention.contiguous(18, model.score_scale))  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(keys_before, (*cache.keys, *cache.values), strict=True))


def test_mismatched_operands_are_refused(tmp_path: Path) -> None:
    model = load(tmp_path, SPLIT_SPEC)
    program = model.decode_layers
    assert program is not None
    cache = model.new_cache(64)
    cache.reserve(8)
    one = np.array([3], dtype=np.int64)
    attention = DecodeAttention.contiguous(4, model.score_scale)
    with pytest.raises(ValueError, match="x must be"):
        program.run(torch.zeros(1, 7), one, one, model.query_table, model.key_table, cache.keys, cache.values, attention)
    with pytest.raises(ValueError, match="keys and values"):
        program.run(torch.zeros(1, 256), one, one, model.query_table, model.key_table, [k[:1].contiguous() for k in cache.keys], cache.values, attention)
    with pytest.raises(ValueError, match="layers need keys and values"):
        program.run(torch.zeros(1, 256), one, one, model.query_table, model.key_table, cache.keys[:-1], cache.values, attention)
    with pytest.raises(ValueError, match="positions"):
        program.run(torch.zeros(1, 256), one.astype(np.int32), one, model.query_table, model.key_table, cache.keys, cache.values, attention)


@njit(nogil=True)
def _post_nothing(job_at):  # type: ignore[no-untyped-def]
    job = np.zeros(1, dtype=np.int64)
    job[0] = NOTHING
    return _post(job_at, job, 1)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_held_workers_answer_a_compiled_post_after_a_long_idle_then_sleep_again() -> None:
    with WORKERS.held(1) as slots:
        time.sleep(0.2)  # ~40 times the idle spin after which a worker not held goes to sleep
        posted = _post_nothing(slots[0])
        assert _wait(slots[0] + 8, posted, 500_000_000)  # done, with no wake-up token: it was still spinning
    time.sleep(0.1)  # let its idle spin run out
    before, start = cpu_seconds(), time.perf_counter()
    time.sleep(0.3)
    assert cpu_seconds() - before < 0.5 * (time.perf_counter() - start)  # asleep, not spinning
