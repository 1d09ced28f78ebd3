"""numba caches a compiled kernel on disk under the text of the kernel's own file: a change to a function
it inlines from another file would leave the old machine code in use. Each kernels file with cached
functions that imports from other kernels files records their hashes (`DEPENDENCY_HASHES`), so that
changing one of them means changing it too."""

from __future__ import annotations

import ast
import hashlib
import importlib
from pathlib import Path

import pytest

import kernels

KERNELS = Path(kernels.__file__).parent
CONFIGURATION_ONLY = {"_numba_target.py"}  # sets numba's target, which numba's cache keys on itself


def imported_kernel_modules(path: Path) -> set[str]:
    """The files of `kernels` that `path` imports from."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kernels."):
            found.add(node.module.removeprefix("kernels.").replace(".", "/") + ".py")
    return found - CONFIGURATION_ONLY


CACHED = sorted(p for p in KERNELS.rglob("*.py") if "cache=True" in p.read_text() and imported_kernel_modules(p))


def test_the_kernels_with_dependencies_are_found() -> None:
    assert {p.name for p in CACHED} >= {"_cpu_attention.py", "_group_matmul.py"}


@pytest.mark.parametrize("path", CACHED, ids=lambda p: p.name)
def test_every_file_a_cached_kernel_calls_into_is_recorded_with_its_current_hash(path: Path) -> None:
    module = importlib.import_module("kernels." + ".".join(path.relative_to(KERNELS).with_suffix("").parts))
    recorded = getattr(module, "DEPENDENCY_HASHES", {})
    assert set(recorded) == imported_kernel_modules(path)
    for name, digest in recorded.items():
        current = hashlib.sha256((KERNELS / name).read_bytes()).hexdigest()
        assert current == digest, f"{name} changed: put {current} in DEPENDENCY_HASHES of {path.name}"
