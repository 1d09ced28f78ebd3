"""Whether the Triton path can run here, and the kernel modules, imported only when first used.

Triton decides at decoration time whether a `@triton.jit` function compiles for the GPU or runs in
its CPU interpreter (the TRITON_INTERPRET environment variable), and reads the variable again while
interpreting. `use_interpreter()` therefore (re)imports triton and the kernel modules with the
variable set, and `launching()` sets it again around each launch; the previous value is restored
after both, so nothing else in the process sees the variable.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType

from kernels.triton._errors import TritonUnavailable

# in dependency order: a module is (re)loaded after the modules it imports kernels from
KERNEL_MODULES = (
    "kernels.triton._rms_norm",
    "kernels.triton._rope",
    "kernels.triton._swiglu",
    "kernels.triton._quant_gemv",
    "kernels.triton._quant_gemm",
    "kernels.triton._paged_attention",
)
_state = {"interpreting": False}


@cache
def triton_import_error() -> str | None:
    try:
        import triton  # noqa: F401
    except Exception as error:  # an ImportError, or a broken install failing in its own way
        return f"triton is not importable ({type(error).__name__}: {error})"
    return None


def unavailable_reason() -> str | None:
    """Why the Triton path cannot run on this machine, or None when it can.

    The device comes first: without one, triton is never imported (its compiled core alone keeps
    ~66 MiB resident, and importing it takes a good part of a second)."""
    import torch

    if not torch.cuda.is_available():
        return "no CUDA or ROCm device is visible to torch"
    return triton_import_error()


def available() -> bool:
    """True where triton imports and torch sees a CUDA or ROCm device: the engine may use these kernels."""
    return unavailable_reason() is None


def interpreting() -> bool:
    """True after `use_interpreter()`: the kernels run in Triton's CPU interpreter on CPU tensors."""
    return _state["interpreting"]


def use_interpreter() -> None:
    """Run the kernels through Triton's interpreter from now on (tests on machines without a GPU).

    `triton.language`'s own helpers (tl.sum, tl.max, ...) are `@triton.jit` functions too, so a
    triton imported before without the variable is imported again (its compiled core is kept).
    """
    problem = triton_import_error()
    if problem:
        raise TritonUnavailable(problem)
    with _interpreter_variable():
        if not _triton_interprets():
            for name in [n for n in sys.modules if (n == "triton" or n.startswith("triton.")) and not n.startswith("triton._C")]:
                del sys.modules[name]
            importlib.import_module("triton.language")
        for name in KERNEL_MODULES:
            module = sys.modules.get(name)
            importlib.reload(module) if module is not None else importlib.import_module(name)
    _state["interpreting"] = True


@contextmanager
def _interpreter_variable() -> Iterator[None]:
    previous = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TRITON_INTERPRET", None)
        else:
            os.environ["TRITON_INTERPRET"] = previous


@contextmanager
def launching() -> Iterator[None]:
    """Around a kernel launch: the interpreter's variable set while it runs, when interpreting."""
    if not _state["interpreting"]:
        yield
        return
    with _interpreter_variable():
        yield


def _triton_interprets() -> bool:
    """Whether the imported triton's own jit helpers were made for the interpreter."""
    language = sys.modules.get("triton.language")
    if language is None:
        return False
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(language.standard.sum, InterpretedFunction)


def kernel_module(name: str) -> ModuleType:
    """One of KERNEL_MODULES by its short name ("_rms_norm"), importing triton on first use."""
    problem = triton_import_error()
    if problem:
        raise TritonUnavailable(problem)
    return importlib.import_module(f"kernels.triton.{name}")
