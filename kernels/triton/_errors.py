"""The errors of `kernels.triton`; both derive from `kernels.KernelsError`.

    KernelsError
    ├── KernelInputError     a tensor of the wrong shape, dtype or device, or an unsupported quant type
    └── TritonUnavailable    a Triton kernel was called where triton is not installed
"""

from __future__ import annotations

from kernels._errors import KernelsError


class KernelInputError(KernelsError, ValueError):
    """Inputs a kernel cannot take; the message names the argument and what was expected."""


class TritonUnavailable(KernelsError, RuntimeError):
    """Triton is not installed (or failed to import); the message says why."""
