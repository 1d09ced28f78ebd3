"""numba caches a compiled kernel on disk under the text of the kernel's own file: a change to a function
it inlines from another file would leave the old machine code in use. kernels/_cpu_attention.py records
the files it calls into, so that changing one of them means changing it too."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import kernels._cpu_attention as attention

KERNELS = Path(attention.__file__).parent


def imported_kernel_modules() -> set[str]:
    """The files of `kernels` that kernels/_cpu_attention.py imports from."""
    tree = ast.parse(Path(attention.__file__).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kernels."):
            found.add(node.module.removeprefix("kernels.") + ".py")
    return found


def test_every_file_the_attention_kernels_call_into_is_recorded_with_its_current_hash() -> None:
    assert set(attention.DEPENDENCY_HASHES) == imported_kernel_modules()
    for name, recorded in attention.DEPENDENCY_HASHES.items():
        current = hashlib.sha256((KERNELS / name).read_bytes()).hexdigest()
        assert current == recorded, f"{name} changed: put {current} in DEPENDENCY_HASHES of kernels/_cpu_attention.py"
