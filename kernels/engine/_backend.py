"""Which backend runs the model: the CPU path (`LlamaModel`, `TorchOps`) or the Triton path
(`DeviceModel`, `TritonOps`) on a CUDA or ROCm GPU.

Device names (`EngineConfig.device`, `orgide serve --device`, $ORGIDE_DEVICE, which an empty
`EngineConfig.device` defers to; neither set: auto):
    auto         the Triton path where `kernels.triton.available()`, else the CPU path
    cpu          the CPU path
    cuda, cuda:N the Triton path on that GPU (ROCm torch calls its GPUs cuda too); refused with the
                 reason where it cannot run
    interpreter  the Triton path on CPU tensors through Triton's interpreter: tests only (very slow)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch

import kernels.triton as kt
from kernels._gguf_file import GGUFFile
from kernels._model import LlamaModel
from kernels._weights import LinearMode
from kernels.engine._device_model import DeviceModel

DEVICE_ENV = "ORGIDE_DEVICE"
DEVICE_CHOICES = ("auto", "cpu", "cuda", "interpreter")
_DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?|interpreter")


@dataclass(frozen=True)
class Backend:
    kind: str  # "cpu" or "triton"
    device: torch.device
    description: str  # "cpu", "triton on NVIDIA H200", "triton (interpreter) on cpu"


def check_device_name(device: str, source: str = "device") -> str:
    if not isinstance(device, str) or not _DEVICE_PATTERN.fullmatch(device):
        raise ValueError(f"{source} {device!r} is not one of auto, cpu, cuda, cuda:N, interpreter")
    return device


def default_device() -> str:
    """$ORGIDE_DEVICE when set (checked: a ValueError names the variable), else auto."""
    value = os.environ.get(DEVICE_ENV, "")
    return check_device_name(value, f"${DEVICE_ENV}") if value else "auto"


def resolve_backend(device: str = "") -> Backend:
    """The backend a device name ("": `default_device()`) asks for; `TritonUnavailable` (with the
    reason) when it cannot run here."""
    device = check_device_name(device) if device else default_device()
    if device == "cpu" or (device == "auto" and not kt.available()):
        return Backend("cpu", torch.device("cpu"), "cpu")
    if device == "interpreter":
        if not kt.interpreting():
            kt.use_interpreter()
        return Backend("triton", torch.device("cpu"), "triton (interpreter) on cpu")
    reason = kt.unavailable_reason()
    if reason:
        raise kt.TritonUnavailable(f"device {device!r} asks for the Triton path, which cannot run here: {reason}")
    target = torch.device("cuda" if device == "auto" else device)
    index = target.index if target.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise kt.TritonUnavailable(f"device {device!r}: torch sees {torch.cuda.device_count()} GPU(s)")
    target = torch.device("cuda", index)
    return Backend("triton", target, f"triton on {torch.cuda.get_device_name(target)}")


def load_model(file: GGUFFile, vocab_size: int, device: str, mode: LinearMode = "fused",
               max_positions: int | None = None, dtype: torch.dtype | None = None) -> LlamaModel | DeviceModel:  # fmt: skip
    """The model for the backend `device` names: CPU packs, or device weights from the file's raw blocks
    (`dtype`: see `DeviceModel`)."""
    backend = resolve_backend(device)
    if backend.kind == "cpu":
        return LlamaModel.load(file, vocab_size, mode, max_positions)
    return DeviceModel.load(file, vocab_size, backend.device, backend.description, max_positions=max_positions, dtype=dtype)


def backend_description(model: LlamaModel | DeviceModel) -> str:
    return model.description if isinstance(model, DeviceModel) else "cpu"
