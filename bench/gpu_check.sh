#!/usr/bin/env bash
# The GPU check for kernels/triton, for a machine with a CUDA or ROCm GPU and only this repo checked out:
#   1. finds a Python whose torch sees the GPU and which has triton: $PYTHON, the repo's venvs, or the
#      system python3 (GPU images ship torch and triton; the lock's CPU torch cannot drive a GPU);
#   2. if orgide's own pure-Python dependencies are missing there (gguf, platformdirs, ...), makes a
#      venv on top of it (--system-site-packages) and installs them, pinned as in requirements/all.lock:
#      from $WHEELHOUSE (a folder of wheels, for machines without a registry; fill it beforehand with
#      `pip download --no-deps -d bench/wheels gguf==0.19.0 platformdirs==4.14.8`), else from PyPI;
#   3. runs tests/kernels/triton on the GPU (TRITON_INTERPRET unset: compiled kernels, bfloat16 dots
#      included; test_engine_triton.py runs the whole engine on the Triton path), then
#      bench/bench_triton.py, with --engine (batch-1 decode and its bandwidth fraction, the 8- and
#      16-agent org workload) when a model is there: $MODEL (a GGUF path), else the cached
#      SmolLM2-135M-Instruct Q4_1 (`orgide models pull` beforehand; the GPU machine may have no network).
# Figures go to $OUT if set (else bench/gpu_check_out/): tests.txt, junit.xml, bench.txt, bench.json,
# environment.txt. Usage: bash bench/gpu_check.sh [--quick]   (exit 0 only if tests and bench pass)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
OUT_DIR=${OUT:-$REPO/bench/gpu_check_out}
mkdir -p "$OUT_DIR"
unset TRITON_INTERPRET
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" TRITON_DEFAULT_FP_FUSION=${TRITON_DEFAULT_FP_FUSION:-1}
QUICK=${1:-}

gpu_python() {  # the first candidate whose torch sees a GPU and which imports triton
    for candidate in "${PYTHON:-}" "$REPO/.venv-headless/bin/python" "$REPO/.venv/bin/python" python3; do
        [ -n "$candidate" ] || continue
        if "$candidate" -c 'import torch, triton, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

pin() {  # the exact version requirements/all.lock pins for a package
    grep -i -m1 "^$1==" requirements/all.lock | sed 's/ .*//'
}

if ! PY=$(gpu_python); then
    echo "gpu_check: no Python here has torch with a visible CUDA/ROCm GPU and triton; nothing to check." | tee "$OUT_DIR/environment.txt"
    exit 2
fi

MISSING=$("$PY" - <<'EOF'
import importlib.util
needed = {"numpy": "numpy", "gguf": "gguf", "yaml": "pyyaml", "tqdm": "tqdm", "tokenizers": "tokenizers", "jinja2": "jinja2",
          "markupsafe": "markupsafe", "platformdirs": "platformdirs", "pytest": "pytest", "hypothesis": "hypothesis",
          "pytest_timeout": "pytest-timeout"}
print(" ".join(dist for module, dist in needed.items() if importlib.util.find_spec(module) is None))
EOF
)
if [ -n "$MISSING" ]; then
    VENV=${GPU_VENV:-/tmp/orgide-gpu-venv}
    "$PY" -m venv --system-site-packages "$VENV" || exit 2
    PINS=""
    for dist in $MISSING; do PINS="$PINS $(pin "$dist")"; done
    echo "gpu_check: installing into $VENV:$PINS"
    if [ -n "${WHEELHOUSE:-}" ] || [ -d bench/wheels ]; then
        "$VENV/bin/python" -m pip install --no-deps --no-index --find-links "${WHEELHOUSE:-bench/wheels}" $PINS || exit 2
    else
        "$VENV/bin/python" -m pip install --no-deps $PINS || exit 2
    fi
    PY="$VENV/bin/python"
fi

{
    echo "python: $PY"
    "$PY" -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__, "device", torch.cuda.get_device_name())'
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>/dev/null || rocm-smi 2>/dev/null || true
    git log -1 --format='commit %H %s' 2>/dev/null || true
} | tee "$OUT_DIR/environment.txt"

echo "== tests/kernels/triton on the GPU"
"$PY" -m pytest tests/kernels/triton -q -p no:cacheprovider \
    --junitxml="$OUT_DIR/junit.xml" 2>&1 | tee "$OUT_DIR/tests.txt"
TESTS=${PIPESTATUS[0]}

echo "== bench/bench_triton.py"
BENCH_ARGS=(--json "$OUT_DIR/bench.json")
[ "$QUICK" = "--quick" ] && BENCH_ARGS+=(--quick)
ENGINE_MODEL=${MODEL:-$("$PY" -c 'from kernels import DEFAULT_MODEL, resolve_model; print(resolve_model(DEFAULT_MODEL))' 2>/dev/null)}
if [ -n "$ENGINE_MODEL" ] && [ -f "$ENGINE_MODEL" ]; then
    BENCH_ARGS+=(--engine --model "$ENGINE_MODEL")
else
    echo "gpu_check: no model for the engine bench (set MODEL=/path/to/model.gguf); kernel figures only"
fi
"$PY" bench/bench_triton.py "${BENCH_ARGS[@]}" 2>&1 | tee "$OUT_DIR/bench.txt"
BENCH=${PIPESTATUS[0]}

echo "gpu_check: tests exit $TESTS, bench exit $BENCH; figures in $OUT_DIR"
[ "$TESTS" -eq 0 ] && [ "$BENCH" -eq 0 ]
