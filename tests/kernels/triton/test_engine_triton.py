"""The whole engine on the Triton path (DeviceModel + TritonOps) against the CPU path, on tiny random models.

Without a GPU the kernels run in Triton's interpreter on CPU tensors (device "interpreter"; slow,
so prompts are short and few tokens are generated); with one, on the GPU (device "cuda").

Batched greedy generation is compared token for token with the float64 reference forward
(tests/kernels/reference_forward.py), not with the CPU path: the CPU path's linears take bfloat16
inputs, and on one of these prompts that flips a near-tie the float computation does not (logits
2.907 vs 2.888 in float64; the Triton path, float32 in the interpreter, picks as float64 does).
Logits are compared with the CPU path by cosine. The random models are untied: a tied random model
just repeats its last token, which any path gets right.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from gguf import GGMLQuantizationType as Q

import kernels.triton as kt
from kernels import LocalModel, SamplingParams, TinyModelSpec, write_tiny_llama_gguf
from kernels._model import LlamaModel
from kernels.engine import DeviceModel, EngineConfig, default_device, resolve_backend
from kernels.engine._sequence import Sequence
from tests.kernels.reference_forward import ReferenceModel
from tests.kernels.triton.support import ON_GPU, needs_triton

TRITON_DEVICE = "cuda" if ON_GPU else "interpreter"
SPECS = {
    "llama-q4_1-untied": TinyModelSpec(tied_embeddings=False),  # Q4_1 linears and head, Q8_0 embedding
    "qwen2-q8_0-bias-tied": TinyModelSpec(architecture="qwen2", weight_type=Q.Q8_0, seed=1),  # neox rope, q/k/v bias
    "qwen3-q4_0-f16-embedding": TinyModelSpec(architecture="qwen3", weight_type=Q.Q4_0, embedding_type=Q.F16, seed=2),  # QK-norm; dense head
    "llama-f16-untied": TinyModelSpec(weight_type=Q.F16, tied_embeddings=False, seed=3),  # no fused kernel: dense, q/k/v stacked
}


@pytest.fixture(scope="module")
def gguf_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("triton-engine")
    return {name: write_tiny_llama_gguf(folder / f"{name}.gguf", spec) for name, spec in SPECS.items()}


def triton_config(dtype: torch.dtype | None = torch.float32) -> EngineConfig:
    """float32 unless asked: exact token comparisons need it (a GPU's default is bfloat16)."""
    return EngineConfig(device=TRITON_DEVICE, page_size=4, dtype=dtype)


@pytest.fixture
def pair(request: pytest.FixtureRequest, gguf_files: dict[str, Path]) -> Iterator[tuple[LocalModel, LocalModel]]:
    """(the CPU path, the Triton path) on one file; request.param: (file name, the Triton path's dtype)."""
    name, dtype = getattr(request, "param", ("llama-q4_1-untied", torch.float32))
    cpu = LocalModel.load(gguf_files[name], engine=EngineConfig(device="cpu"))
    triton = LocalModel.load(gguf_files[name], engine=triton_config(dtype))
    yield cpu, triton
    cpu.close()
    triton.close()


def prefill_then_decode_logits(model: LocalModel, ids: list[int], then: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [V] of the prompt's last position (a prefill step), then of `then` after it (a decode step),
    through the engine's own scheduler, pages and runner (the engine thread never starts)."""
    engine = model.engine
    seq = Sequence(ids, max_tokens=4, max_total_tokens=model.context_length)
    engine.scheduler.add(seq)
    batch = engine.scheduler.schedule()
    prefill = engine.runner.run(batch)
    engine.scheduler.postprocess(batch, [then])
    batch = engine.scheduler.schedule()
    assert [c.count for c in batch.chunks] == [1]
    return prefill[0], engine.runner.run(batch)[0]


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=0))


# on a GPU also its default 16-bit width (the interpreter computes bfloat16 dots wrongly, see support.py)
LOGIT_CASES = [(name, torch.float32) for name in SPECS] + ([(name, None) for name in SPECS] if ON_GPU else [])


@needs_triton
@pytest.mark.parametrize("pair", LOGIT_CASES, indirect=True, ids=lambda case: f"{case[0]}-{case[1] or 'default'}")
def test_prefill_and_decode_logits_agree_with_the_cpu_path(pair: tuple[LocalModel, LocalModel]) -> None:
    cpu, triton = pair
    assert isinstance(triton.model, DeviceModel) and triton.stats().backend.startswith("triton")
    exact = triton.model.dtype == torch.float32
    assert all(len(layer.qkv.parts) == len(layer.gate_up.parts) == 1 for layer in triton.model.layers)  # stacked: one kernel each
    ids = cpu.tokenizer.encode("hello the world is blue")
    cpu_prefill, cpu_decode = prefill_then_decode_logits(cpu, ids, then=40)
    prefill, decode = prefill_then_decode_logits(triton, ids, then=40)
    assert prefill.device.type == "cpu" and prefill.dtype == torch.float32 and prefill.shape == cpu_prefill.shape
    assert cosine(prefill, cpu_prefill) >= 0.999
    assert cosine(decode, cpu_decode) >= 0.999
    if exact:
        assert int(prefill.argmax()) == int(cpu_prefill.argmax()) and int(decode.argmax()) == int(cpu_decode.argmax())
    assert cosine(decode, prefill) < 0.99  # the decode step saw the new token: not the same logits again


def reference_greedy(path: Path, ids: list[int], count: int) -> tuple[int, ...]:
    reference, out = ReferenceModel(path), list(ids)
    for _ in range(count):
        out.append(int(reference.logits(out)[-1].argmax()))
    return tuple(out[len(ids) :])


@needs_triton
def test_three_prompts_batched_generate_the_float_references_greedy_tokens(gguf_files: dict[str, Path], pair: tuple[LocalModel, LocalModel]) -> None:
    _, triton = pair
    texts = ["hello the cat is", "blue sky and the sea", "you run"]
    params = SamplingParams(max_tokens=4, ignore_eos=True)
    expected = [reference_greedy(gguf_files["llama-q4_1-untied"], triton.tokenizer.encode(t), 4) for t in texts]
    with ThreadPoolExecutor(len(texts)) as pool:
        batched = list(pool.map(lambda text: triton.generate(text, params).token_ids, texts))
    assert batched == expected
    assert len(set(expected)) == len(texts)  # the prompts lead to different texts
    assert triton.stats().steps < len(texts) * params.max_tokens  # they really ran together
    assert triton.stats().pages_used == 0


@needs_triton
def test_a_shared_prefix_is_computed_once_and_the_warm_output_equals_a_cold_run(gguf_files: dict[str, Path], pair: tuple[LocalModel, LocalModel]) -> None:
    cpu, triton = pair
    prefix = cpu.tokenizer.encode("the world and the cat is")[:10]  # 2.5 pages of 4: the partial page is copied
    assert len(prefix) == 10
    first, second = prefix + [40, 41, 42], prefix + [43, 44, 45, 46, 47]
    params = SamplingParams(max_tokens=3, ignore_eos=True)
    triton.generate(first, params)
    before = triton.stats()
    warm = triton.generate(second, params)
    after = triton.stats()
    assert warm.cached_tokens == 10
    assert after.prefill_tokens - before.prefill_tokens == 5  # only the suffix
    cold_model = LocalModel.load(gguf_files["llama-q4_1-untied"], engine=triton_config())
    try:
        cold = cold_model.generate(second, params)
    finally:
        cold_model.close()
    assert cold.cached_tokens == 0
    assert warm.token_ids == cold.token_ids == cpu.generate(second, params).token_ids


def test_auto_picks_the_triton_path_only_where_it_can_run(gguf_files: dict[str, Path]) -> None:
    model = LocalModel.load(gguf_files["llama-q4_1-untied"], engine=EngineConfig(device="auto"))
    try:
        if kt.available():
            assert isinstance(model.model, DeviceModel) and model.stats().backend.startswith("triton on ")
        else:
            assert isinstance(model.model, LlamaModel) and model.stats().backend == "cpu"
    finally:
        model.close()


@pytest.mark.skipif(kt.available(), reason="a GPU is here: cuda is not refused")
def test_asking_for_cuda_without_a_gpu_is_refused_with_the_reason(gguf_files: dict[str, Path]) -> None:
    with pytest.raises(kt.TritonUnavailable, match="device 'cuda' asks for the Triton path, which cannot run here: ") as refused:
        LocalModel.load(gguf_files["llama-q4_1-untied"], engine=EngineConfig(device="cuda"))
    assert str(refused.value).endswith(kt.unavailable_reason() or "")


def test_device_names_are_checked_and_the_environment_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("gpu", "cuda:", "CPU", "cuda:x"):
        with pytest.raises(ValueError, match="is not one of auto, cpu, cuda, cuda:N, interpreter"):
            EngineConfig(device=bad)
    assert EngineConfig(device="cuda:1").device == "cuda:1"
    monkeypatch.setenv("ORGIDE_DEVICE", "cpu")
    assert default_device() == "cpu" and resolve_backend(EngineConfig().device).description == "cpu"
    monkeypatch.delenv("ORGIDE_DEVICE")
    assert default_device() == "auto"
    monkeypatch.setenv("ORGIDE_DEVICE", "tpu")
    with pytest.raises(ValueError, match=r"\$ORGIDE_DEVICE 'tpu' is not one of"):
        resolve_backend("")
    assert resolve_backend("cpu").description == "cpu"  # an explicit device wins over the variable

def serve(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ORGIDE_DEVICE"}
    return subprocess.run([sys.executable, "-m", "ide", "serve", "--port", "0", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=Path(__file__).resolve().parents[3], check=False)  # fmt: skip


def test_serve_refuses_an_unavailable_gpu_with_the_reason_and_an_unknown_device_as_bad_usage(gguf_files: dict[str, Path]) -> None:
    model = str(gguf_files["llama-q4_1-untied"])
    if not kt.available():  # one process only: starting the CLI costs seconds
        refused = serve("--model", model, "--device", "cuda")
        assert refused.returncode == 1 and "device 'cuda' asks for the Triton path, which cannot run here: " in refused.stderr
    else:
        unknown = serve("--model", model, "--device", "gpu")
        assert unknown.returncode == 2 and "device 'gpu' is not one of" in unknown.stderr


def test_the_gpu_check_script_parses_and_the_engine_bench_refuses_clearly_without_a_model(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    assert subprocess.run(["bash", "-n", str(root / "bench" / "gpu_check.sh")], check=False).returncode == 0
    bench = [sys.executable, str(root / "bench" / "bench_triton.py"), "--engine", "--model", str(tmp_path / "none.gguf")]
    missing = subprocess.run(bench, capture_output=True, text=True, timeout=120, check=False)  # one process: torch loads slowly
    assert missing.returncode == 2 and "--engine needs a model file" in missing.stderr and "[--peak-gbs PEAK_GBS]" in missing.stderr
