"""The batching engine (nano-vllm's split): `Sequence`; the `Scheduler`, which picks what runs; the
`PageManager`, which owns KV memory and the prefix cache; the `ModelRunner`, which owns the forward
(its per-layer ops behind `Ops`: `TorchOps` on the CPU, `TritonOps` with a `DeviceModel` on a CUDA
or ROCm GPU, picked by `EngineConfig.device`, see `resolve_backend`); the batched sampler;
constrained decoding. `Engine` ties them together on one thread.

The scheduler, page manager and sequence import no torch.
"""

from kernels.engine._backend import DEVICE_ENV, Backend, default_device, load_model, resolve_backend
from kernels.engine._device_model import DeviceModel
from kernels.engine._engine import Engine, EngineConfig, EngineStats
from kernels.engine._ops import Ops, PagedKV, TorchOps
from kernels.engine._pages import OutOfPages, PageCopy, PageManager
from kernels.engine._prefix_tree import PrefixTree
from kernels.engine._runner import ModelRunner
from kernels.engine._scheduler import Batch, Chunk, Scheduler, SchedulerStats
from kernels.engine._sequence import Sequence, Status
from kernels.engine._step_plan import PrefillPlan, StepPlan
from kernels.engine._triton_ops import TritonKV, TritonOps

__all__ = [
    "DEVICE_ENV",
    "Backend",
    "Batch",
    "Chunk",
    "DeviceModel",
    "Engine",
    "EngineConfig",
    "EngineStats",
    "ModelRunner",
    "Ops",
    "OutOfPages",
    "PageCopy",
    "PageManager",
    "PagedKV",
    "PrefillPlan",
    "PrefixTree",
    "Scheduler",
    "SchedulerStats",
    "Sequence",
    "Status",
    "StepPlan",
    "TorchOps",
    "TritonKV",
    "TritonOps",
    "default_device",
    "load_model",
    "resolve_backend",
]
