"""Where the Triton kernels run in these tests: on the GPU when torch sees one, else in Triton's interpreter.

`kernels.triton.use_interpreter()` sets TRITON_INTERPRET only while it imports the kernels and
while each kernel runs, so no other test module sees it. Without triton the kernel tests skip
(see support.needs_triton); the reference tests still run.
"""

from __future__ import annotations

import kernels.triton as kt
from tests.kernels.triton.support import ON_GPU, TRITON_MISSING

if TRITON_MISSING is None and not ON_GPU:
    kt.use_interpreter()
