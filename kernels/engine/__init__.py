"""The batching engine (nano-vllm's split): `Sequence`, the `Scheduler` that picks what runs, the
`PageManager` that owns KV memory and the prefix cache, the model runner that owns the forward,
the batched sampler, and constrained decoding. `Engine` ties them together on one thread.

The scheduler, page manager and sequence import no torch.
"""

from kernels.engine._pages import OutOfPages, PageCopy, PageManager
from kernels.engine._prefix_tree import PrefixTree
from kernels.engine._scheduler import Batch, Chunk, Scheduler, SchedulerStats
from kernels.engine._sequence import Sequence, Status

__all__ = [
    "Batch",
    "Chunk",
    "OutOfPages",
    "PageCopy",
    "PageManager",
    "PrefixTree",
    "Scheduler",
    "SchedulerStats",
    "Sequence",
    "Status",
]
