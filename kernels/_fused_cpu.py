"""The small ops between the CPU forward's matmuls, fused into a few numba kernels.

A layer's eager form ran ~40-50 ATen ops (RMSNorm in five, dtype copies, RoPE through complex
views, KV writes, SiLU * up, residual adds) at 10-15 us each; these kernels do the same work in
four calls a layer. Both the single-sequence forward (kernels/_model.py) and the engine's runner
(kernels/engine/_runner.py through TorchOps) call them, so both give the same numbers.

Every kernel loops over rows independently in a fixed order: a row's numbers never depend on the
other rows of the call (the engine's batch invariance), and any row count works (prefill and
decode run the same code). bfloat16 tensors cross as their bits (uint16); float32 -> bfloat16
rounds to nearest even as torch does, and NaN stays NaN.

Each kernel has one signature, compiled at first use and cached on disk (`cache=True`): tensors
cross as addresses (checked first: contiguous CPU memory of the right dtype and shape; numba's own
conversion of a tensor costs more than a small kernel), and bfloat16 or float32 is a run-time
choice. No `parallel=True` (numba's default threading layer aborts when two Python threads launch
parallel kernels at once, and two engines may run in one process). On AVX-512 hosts they compile
for 512-bit vectors (kernels/_numba_target.py). No fast-math: kernels/_decode_layers.py runs its own compiled
copies of these kernels, and every copy must give the same bits (with reassociation allowed, the copy inlined
there summed RMSNorm's squares in another order); the sums run in plain order, a few hundred adds a row.

Shapes: N rows, H hidden, F feed-forward width, NH query heads, NKV key/value heads, D head size,
P rotary positions, S KV slots.
"""

from __future__ import annotations

import numpy as np
import torch
from llvmlite import ir
from numba import carray, njit, types
from numba.extending import intrinsic

from kernels._numba_target import use_wide_vectors

use_wide_vectors()  # before the first kernel compiles or loads from the cache

SUM_LANES = 16  # running sums of RMSNorm's squares
FLOAT32, BFLOAT16 = 1, 2  # a tensor's kind as the kernels take it (0: absent)
_KINDS = {torch.float32: FLOAT32, torch.bfloat16: BFLOAT16}

# ---------------------------------------------------------------- scalars and addresses


@intrinsic
def _float_bits(typingctx, value):  # type: ignore[no-untyped-def]  # float32 -> its uint32 bits
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(types.float32), codegen


@intrinsic
def float_from_bits(typingctx, bits):  # type: ignore[no-untyped-def]  # uint32 bits -> float32
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.uint32), codegen


@intrinsic
def _float_pointer(typingctx, address):  # type: ignore[no-untyped-def]  # int64 address -> float32*
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], ir.PointerType(ir.FloatType()))

    return types.CPointer(types.float32)(types.int64), codegen


@intrinsic
def _half_pointer(typingctx, address):  # type: ignore[no-untyped-def]  # int64 address -> uint16* (bfloat16 bits)
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], ir.PointerType(ir.IntType(16)))

    return types.CPointer(types.uint16)(types.int64), codegen


@njit(inline="always")
def widen(bits):  # type: ignore[no-untyped-def]  # bfloat16 bits (uint16) -> float32, exact
    return float_from_bits(np.uint32(np.uint32(bits) << np.uint32(16)))


@njit(inline="always")
def narrow(value):  # type: ignore[no-untyped-def]  # float32 -> bfloat16 bits (uint16) as torch rounds
    # a select, not a branch, so that loops over it vectorise; uint32 sums cannot wrap below the NaNs
    bits = _float_bits(value)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)  # to nearest, ties to even
    quiet = (bits >> np.uint32(16)) | np.uint32(0x40)  # NaN: kept NaN (quiet), whatever the payload
    return np.uint16(quiet if bits & np.uint32(0x7FFFFFFF) > np.uint32(0x7F800000) else rounded)


_LOG2_E = np.float32(1.4426950408889634)
# 2**f = e**(f ln 2) on [-1/2, 1/2]: Taylor terms (ln 2)**n / n!, n = 6 .. 0
_EXP2 = (np.float32(1.5403530e-4), np.float32(1.3333558e-3), np.float32(9.6181291e-3), np.float32(5.5504109e-2),
         np.float32(2.4022651e-1), np.float32(6.9314718e-1), np.float32(1.0))  # fmt: skip


@njit(inline="always")
def exp_float32(x):  # type: ignore[no-untyped-def]
    """e**x for float32 x as a polynomial LLVM vectorises (libm's expf is a scalar call in a loop): relative error
    under 3e-7 for |x| <= 1, growing with |x| (rounding log2(e) x) to 4e-6 near 87; clamped to [2**-126, 2**127]."""
    y = min(max(x * _LOG2_E, np.float32(-126.0)), np.float32(127.0))
    whole = np.floor(y + np.float32(0.5))
    f = y - whole  # [-1/2, 1/2]
    c6, c5, c4, c3, c2, c1, c0 = _EXP2
    p = ((((((c6 * f + c5) * f + c4) * f + c3) * f + c2) * f + c1) * f) + c0
    return p * float_from_bits(np.uint32((np.int32(whole) + np.int32(127)) << np.int32(23)))


# ---------------------------------------------------------------- kernels (addresses of contiguous memory)


@njit(inline="always")
def _sum_of_squares(values, width, lanes):  # type: ignore[no-untyped-def]
    """sum(values[:width]^2) in a fixed order that vectorises without fast-math: SUM_LANES running sums (lane l
    takes j = l mod SUM_LANES), folded in halves, then the tail in order. `lanes`: float32 [SUM_LANES] scratch."""
    for lane in range(SUM_LANES):
        lanes[lane] = np.float32(0.0)
    whole = width - width % SUM_LANES
    for j in range(0, whole, SUM_LANES):
        for lane in range(SUM_LANES):
            lanes[lane] += values[j + lane] * values[j + lane]
    half = SUM_LANES // 2
    while half:
        for lane in range(half):
            lanes[lane] += lanes[lane + half]
        half //= 2
    total = lanes[0]
    for j in range(whole, width):
        total += values[j] * values[j]
    return total



@njit(cache=True, error_model="numpy")
def _rms_norm_rows(x_at, residual_at, residual_kind, weight_at, eps, out_at, out_kind, rows, width):  # type: ignore[no-untyped-def]
    """x float32 [N, H] (+= residual [N, H] of `residual_kind`, 0: none); out [N, H] of `out_kind`
    = x / sqrt(mean(x^2) + eps) * weight."""
    x, weight = carray(_float_pointer(x_at), (rows, width)), carray(_float_pointer(weight_at), (width,))
    residual_float, residual_half = carray(_float_pointer(residual_at), (rows, width)), carray(_half_pointer(residual_at), (rows, width))
    out_float, out_half = carray(_float_pointer(out_at), (rows, width)), carray(_half_pointer(out_at), (rows, width))
    lanes = np.empty(SUM_LANES, dtype=np.float32)
    for i in range(rows):
        if residual_kind == BFLOAT16:
            for j in range(width):
                x[i, j] += widen(residual_half[i, j])
        elif residual_kind == FLOAT32:
            for j in range(width):
                x[i, j] += residual_float[i, j]
        squares = _sum_of_squares(x[i], width, lanes)
        scale = np.float32(1.0) / np.sqrt(squares / np.float32(width) + eps)
        if out_kind == BFLOAT16:
            for j in range(width):
                out_half[i, j] = narrow(x[i, j] * scale * weight[j])
        else:
            for j in range(width):
                out_float[i, j] = x[i, j] * scale * weight[j]


@njit(cache=True, error_model="numpy")
def _attention_inputs_rows(qkv_at, qkv_kind, rows, heads, kv_heads, d, q_norm_at, k_norm_at, eps, positions,
                           query_table, key_table, keys_at, values_at, slot_count, slots, queries_at):  # type: ignore[no-untyped-def]  # fmt: skip
    """Row by row of qkv [N, (NH + 2 NKV) D]: QK-norm (when the norms' addresses are not 0), RoPE by
    the tables ([P, D/2, 2]: cos, sin of each pair (2i, 2i+1)), queries into queries [N, NH, D],
    keys and values into keys/values [NKV, S, D] at slot `slots[row]`. Returns the first row whose
    position or slot is out of range (its work undone: nothing written), or -1."""
    width = (heads + 2 * kv_heads) * d
    qkv_float, qkv_half = carray(_float_pointer(qkv_at), (rows, width)), carray(_half_pointer(qkv_at), (rows, width))
    queries = carray(_float_pointer(queries_at), (rows, heads, d))
    keys = carray(_float_pointer(keys_at), (kv_heads, slot_count, d))
    values = carray(_float_pointer(values_at), (kv_heads, slot_count, d))
    normed = q_norm_at != 0 and k_norm_at != 0
    q_norm, k_norm = carray(_float_pointer(q_norm_at), (d,)), carray(_float_pointer(k_norm_at), (d,))
    head = np.empty(d, dtype=np.float32)
    for i in range(rows):
        position, slot = positions[i], slots[i]
        if position < 0 or position >= query_table.shape[0] or position >= key_table.shape[0] or slot < 0 or slot >= slot_count:
            return i
        for h in range(heads + kv_heads + kv_heads):
            if qkv_kind == BFLOAT16:
                for j in range(d):
                    head[j] = widen(qkv_half[i, h * d + j])
            else:
                for j in range(d):
                    head[j] = qkv_float[i, h * d + j]
            if h >= heads + kv_heads:  # a value head
                for j in range(d):
                    values[h - heads - kv_heads, slot, j] = head[j]
                continue
            if normed:
                squares = np.float32(0.0)
                for j in range(d):
                    squares += head[j] * head[j]
                scale = np.float32(1.0) / np.sqrt(squares / np.float32(d) + eps)
                norm = q_norm if h < heads else k_norm
                for j in range(d):
                    head[j] = head[j] * scale * norm[j]
            if h < heads:
                for p in range(d // 2):
                    cos, sin = query_table[position, p, 0], query_table[position, p, 1]
                    a, b = head[2 * p], head[2 * p + 1]
                    queries[i, h, 2 * p] = a * cos - b * sin
                    queries[i, h, 2 * p + 1] = a * sin + b * cos
            else:
                for p in range(d // 2):
                    cos, sin = key_table[position, p, 0], key_table[position, p, 1]
                    a, b = head[2 * p], head[2 * p + 1]
                    keys[h - heads, slot, 2 * p] = a * cos - b * sin
                    keys[h - heads, slot, 2 * p + 1] = a * sin + b * cos
    return -1


@njit(cache=True, error_model="numpy")
def _swiglu_rows(gate_up_at, gate_up_kind, out_at, out_kind, rows, width):  # type: ignore[no-untyped-def]
    """gate_up [N, 2F] (gate, then up) -> out [N, F] = silu(gate) * up, in float32."""
    in_float, in_half = carray(_float_pointer(gate_up_at), (rows, 2 * width)), carray(_half_pointer(gate_up_at), (rows, 2 * width))
    out_float, out_half = carray(_float_pointer(out_at), (rows, width)), carray(_half_pointer(out_at), (rows, width))
    row = np.empty(2 * width, dtype=np.float32)
    for i in range(rows):
        if gate_up_kind == BFLOAT16:
            for j in range(2 * width):
                row[j] = widen(in_half[i, j])
        else:
            for j in range(2 * width):
                row[j] = in_float[i, j]
        if out_kind == BFLOAT16:
            for j in range(width):
                out_half[i, j] = narrow(row[j] / (np.float32(1.0) + exp_float32(-row[j])) * row[width + j])
        else:
            for j in range(width):
                out_float[i, j] = row[j] / (np.float32(1.0) + exp_float32(-row[j])) * row[width + j]


# ---------------------------------------------------------------- torch-facing functions


def _address(t: torch.Tensor, name: str, shape: tuple[int, ...], dtypes: tuple[torch.dtype, ...] = (torch.float32,)) -> int:
    """The address of `t`, checked: contiguous CPU memory of `shape` and one of `dtypes`."""
    if t.dtype not in dtypes or t.shape != shape or not t.is_contiguous() or not t.is_cpu:
        raise ValueError(f"{name}: expected a contiguous CPU tensor {list(shape)} of {', '.join(map(str, dtypes))}, "
                         f"got {list(t.shape)} {t.dtype} on {t.device}{'' if t.is_contiguous() else ' (not contiguous)'}")  # fmt: skip
    return t.data_ptr()


def _readable(t: torch.Tensor) -> torch.Tensor:
    """`t` itself when the kernels read it as it is (contiguous float32 or bfloat16), else a float32 copy."""
    return t if t.dtype in _KINDS and t.is_contiguous() else t.float().contiguous()


def _output_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.bfloat16 if dtype == torch.bfloat16 else torch.float32  # float32 is never narrower than a layer takes


def rms_norm(x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, eps: float,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:  # fmt: skip
    """`x += residual` (when given, in place; x float32 [N, H] contiguous), then RMSNorm of x times
    `weight` [H], computed in float32 and written in `dtype` (bfloat16, else float32) [N, H]."""
    rows, width = x.shape
    x_at = _address(x, "x", (rows, width))
    residual_at, residual_kind = x_at, 0
    if residual is not None:
        residual = _readable(residual)
        residual_at, residual_kind = _address(residual, "residual", (rows, width), tuple(_KINDS)), _KINDS[residual.dtype]
    out = torch.empty(rows, width, dtype=_output_dtype(dtype))
    _rms_norm_rows(x_at, residual_at, residual_kind, _address(weight, "weight", (width,)), np.float32(eps),
                   out.data_ptr(), _KINDS[out.dtype], rows, width)  # fmt: skip
    return out


def attention_inputs(qkv: torch.Tensor, heads: int, q_norm: torch.Tensor | None, k_norm: torch.Tensor | None,
                     eps: float, positions: np.ndarray, query_table: np.ndarray, key_table: np.ndarray,
                     keys: torch.Tensor, values: torch.Tensor, slots: np.ndarray) -> torch.Tensor:  # fmt: skip
    """The attention prologue of N rows: qkv [N, (NH + 2 NKV) D] (float32 or bfloat16) -> queries
    float32 [N, NH, D]; each row's key (QK-normed when the norms are given, rotated) and value are
    written into keys/values float32 [NKV, S, D] at slot `slots[row]` (int64 [N]). Row i turns by
    `query_table[positions[i]]` / `key_table[...]` (float32 [P, D/2, 2]: cos, sin). A position or a
    slot out of range raises ValueError (rows before it are written)."""
    kv_heads, slot_count, d = keys.shape
    qkv = _readable(qkv)
    rows = qkv.shape[0]
    qkv_at = _address(qkv, "qkv", (rows, (heads + 2 * kv_heads) * d), tuple(_KINDS))
    if positions.shape != (rows,) or slots.shape != (rows,) or positions.dtype != np.int64 or slots.dtype != np.int64:
        raise ValueError(f"positions and slots: expected int64 [{rows}], got {positions.dtype} {positions.shape}, {slots.dtype} {slots.shape}")
    for name, table in (("query_table", query_table), ("key_table", key_table)):
        if table.dtype != np.float32 or table.ndim != 3 or table.shape[1:] != (d // 2, 2):
            raise ValueError(f"{name}: expected float32 [P, {d // 2}, 2], got {table.dtype} {table.shape}")
    norms = (0, 0)
    if q_norm is not None and k_norm is not None:
        norms = (_address(q_norm, "q_norm", (d,)), _address(k_norm, "k_norm", (d,)))
    queries = torch.empty(rows, heads, d)
    bad = _attention_inputs_rows(
        qkv_at, _KINDS[qkv.dtype], rows, heads, kv_heads, d, *norms, np.float32(eps), positions, query_table, key_table,
        _address(keys, "keys", (kv_heads, slot_count, d)), _address(values, "values", (kv_heads, slot_count, d)),
        slot_count, slots, queries.data_ptr(),
    )  # fmt: skip
    if bad >= 0:
        raise ValueError(f"row {bad}: position {positions[bad]} or slot {slots[bad]} is out of range "
                         f"({min(len(query_table), len(key_table))} positions, {slot_count} slots)")  # fmt: skip
    return queries


def swiglu(gate_up: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """gate_up [N, 2F] (gate, then up) -> silu(gate) * up [N, F], in float32, written in `dtype` (bfloat16, else float32)."""
    gate_up = _readable(gate_up)
    rows, width = gate_up.shape[0], gate_up.shape[1] // 2
    gate_up_at = _address(gate_up, "gate_up", (rows, 2 * width), tuple(_KINDS))
    out = torch.empty(rows, width, dtype=_output_dtype(dtype))
    _swiglu_rows(gate_up_at, _KINDS[gate_up.dtype], out.data_ptr(), _KINDS[out.dtype], rows, width)
    return out


def rotary_table(turns: torch.Tensor) -> np.ndarray:
    """complex64 turns [P, D/2] -> float32 [P, D/2, 2] (cos, sin), the kernels' rotary table."""
    return np.ascontiguousarray(torch.view_as_real(turns).numpy())
