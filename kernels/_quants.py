"""GGML quant formats: the reference dequantisation, and the group-affine codes the fast path packs.

Reference: `dequantize(raw, qtype, shape)` computes exactly what ggml computes (float32, the same
order of operations), so it equals gguf-py's `gguf.quants.dequantize` bit for bit.

Fast path input: `group_affine(raw, qtype, shape)` rewrites a tensor as unsigned integer codes with
one scale and one offset per group of 32 along the row, `w = scale * code + offset`, for every
format that has such a form (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K). Q6_K (groups of 16) and the float
types have none; the fast path keeps those dense.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

Q = GGMLQuantizationType
QK_K = 256
GROUP = 32
AFFINE_BITS = {Q.Q4_0: 4, Q.Q4_1: 4, Q.Q8_0: 8, Q.Q4_K: 4, Q.Q5_K: 5}  # formats with a group-of-32 form


@dataclass(frozen=True)
class GroupAffine:
    """`w[n, k] = scale[n, k // 32] * codes[n, k] + offset[n, k // 32]`, codes in [0, 2**bits)."""

    codes: np.ndarray  # uint8 [N, K]
    scale: np.ndarray  # float32 [N, K // 32]
    offset: np.ndarray  # float32 [N, K // 32]
    bits: int


def _blocks(raw: np.ndarray, qtype: Q) -> np.ndarray:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    return np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1, type_size)


def _f16(blocks: np.ndarray, start: int) -> np.ndarray:
    """The float16 at byte `start` of each block, as float32 [n_blocks, 1]."""
    return np.ascontiguousarray(blocks[:, start : start + 2]).view(np.float16).astype(np.float32)


def _nibbles(packed: np.ndarray, width: int) -> np.ndarray:
    """[n, m*width] bytes -> [n, m, 2*width] codes: low nibbles of a run of `width` bytes, then high."""
    runs = packed.reshape(packed.shape[0], -1, width)
    return np.concatenate([runs & 0x0F, runs >> 4], axis=-1)


def _k_scale_min(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 6-bit sub-block scales and mins of Q4_K / Q5_K (12 bytes -> 8 + 8 values)."""
    d, m, md = scales[:, 0:4], scales[:, 4:8], scales[:, 8:12]
    sc = np.concatenate([d & 0x3F, (md & 0x0F) | ((d >> 2) & 0x30)], axis=-1)
    mn = np.concatenate([m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)], axis=-1)
    return sc.astype(np.float32), mn.astype(np.float32)


def _q5k_codes(blocks: np.ndarray) -> np.ndarray:
    qh = blocks[:, 16:48]  # [n, 32]: bit i of byte j is the fifth bit of element 32*i + j
    low = _nibbles(blocks[:, 48:176], 32).reshape(-1, 8, 32)
    high = (qh[:, None, :] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1
    return low | (high << 4)  # [n, 8, 32]


def _q6k_codes(blocks: np.ndarray) -> np.ndarray:
    ql = blocks[:, 0:128].reshape(-1, 2, 64)
    qh = blocks[:, 128:192].reshape(-1, 2, 32)
    low = np.concatenate([ql & 0x0F, ql >> 4], axis=-1)  # [n, 2, 128]
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8)[None, None, :, None]
    high = ((qh[:, :, None, :] >> shifts) & 3).reshape(-1, 2, 128)
    return (low | (high << 4)).astype(np.int8) - np.int8(32)  # [n, 2, 128] in [-32, 31]


def dequantize(raw: np.ndarray, qtype: Q, shape: tuple[int, ...]) -> np.ndarray:
    """The float32 values of a tensor stored as `qtype` in `raw` (uint8), shaped `shape`."""
    if qtype == Q.F32:
        return np.ascontiguousarray(raw).view(np.float32).reshape(shape).copy()
    if qtype == Q.F16:
        return np.ascontiguousarray(raw).view(np.float16).astype(np.float32).reshape(shape)
    if qtype == Q.BF16:
        return (np.ascontiguousarray(raw).view(np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
    b = _blocks(raw, qtype)
    if qtype == Q.Q8_0:
        values = b[:, 2:].view(np.int8).astype(np.float32) * _f16(b, 0)
    elif qtype == Q.Q4_0:
        codes = _nibbles(b[:, 2:], 16).reshape(len(b), 32).astype(np.int8) - np.int8(8)
        values = _f16(b, 0) * codes.astype(np.float32)
    elif qtype == Q.Q4_1:
        codes = _nibbles(b[:, 4:], 16).reshape(len(b), 32).astype(np.float32)
        values = _f16(b, 0) * codes + _f16(b, 2)
    elif qtype in (Q.Q4_K, Q.Q5_K):
        sc, mn = _k_scale_min(b[:, 4:16])
        scale = (_f16(b, 0) * sc)[:, :, None]
        offset = (_f16(b, 2) * mn)[:, :, None]
        if qtype == Q.Q4_K:
            codes = _nibbles(b[:, 16:], 32).reshape(-1, 8, 32)
        else:
            codes = _q5k_codes(b)
        values = scale * codes.astype(np.float32) - offset
    elif qtype == Q.Q6_K:
        scales = b[:, 192:208].view(np.int8).astype(np.float32)
        d = (_f16(b, 208) * scales)[:, :, None]  # [n, 16, 1]
        values = d * _q6k_codes(b).reshape(-1, 16, 16).astype(np.float32)
    else:
        raise ValueError(f"no dequantisation for {qtype.name}")
    return values.reshape(shape)


def group_affine(raw: np.ndarray, qtype: Q, shape: tuple[int, ...]) -> GroupAffine | None:
    """The group-of-32 affine form of a 2-D tensor, or None for formats that have none."""
    if qtype not in AFFINE_BITS or len(shape) != 2:
        return None
    rows, cols = shape
    b = _blocks(raw, qtype)
    if qtype == Q.Q8_0:
        d = _f16(b, 0)
        codes = b[:, 2:] ^ np.uint8(0x80)  # int8 q + 128 as uint8, without a wider temporary
        scale, offset, bits = d, -128.0 * d, 8
    elif qtype == Q.Q4_0:
        d = _f16(b, 0)
        codes, scale, offset, bits = _nibbles(b[:, 2:], 16), d, -8.0 * d, 4
    elif qtype == Q.Q4_1:
        codes, scale, offset, bits = _nibbles(b[:, 4:], 16), _f16(b, 0), _f16(b, 2), 4
    else:
        sc, mn = _k_scale_min(b[:, 4:16])
        scale, offset = _f16(b, 0) * sc, -(_f16(b, 2) * mn)
        codes = _nibbles(b[:, 16:], 32) if qtype == Q.Q4_K else _q5k_codes(b)
        bits = 4 if qtype == Q.Q4_K else 5
    return GroupAffine(
        codes=np.ascontiguousarray(codes, dtype=np.uint8).reshape(rows, cols),
        scale=np.ascontiguousarray(scale, dtype=np.float32).reshape(rows, cols // GROUP),
        offset=np.ascontiguousarray(offset, dtype=np.float32).reshape(rows, cols // GROUP),
        bits=bits,
    )
