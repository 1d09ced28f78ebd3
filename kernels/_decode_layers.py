"""A decode step's layers as one compiled call: no Python between a layer's ops.

A decode step of the 135M model on 2 threads took 11.5 ms, of which the kernels' own work was about
8: the rest went to ~9 Python calls a layer (argument checks, output tensors, posting the other thread's
part), ~15 us each. Here the caller hands the whole stack of layers to `run_layers`, a numba function
that runs, per layer, the same compiled kernels in the same order as the eager forward (kernels/_model.py,
kernels/engine/_runner.py): residual add and RMSNorm, the qkv product, the attention prologue, decode
attention, the output product, RMSNorm, gate/up, SwiGLU, down. It posts the spinning workers' parts of
each product and of attention itself (kernels/_kernel_jobs.py's jobs, written into their job slots) and
spins until they are done, so each row's numbers are the bits the eager path gives.

It serves layers whose four linears are group-code weights (kernels/_group_matmul.py; up to MAX_PARTS of them
side by side, as a LinearGroup holds weights of different code widths) whose outputs fill their column blocks (a
multiple of 16), with a bias on qkv at most (`DecodeLayers.of` says None otherwise, and the eager path runs).
Rows attend through page tables as kernels/_cpu_attention.py reads them: a single-sequence cache is one page.

Shapes: M rows, H hidden, F feed-forward width, NH query heads, NKV key/value heads, D head size,
L layers, S KV slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import torch
from numba import njit

from kernels._config import ModelConfig
from kernels._cpu_attention import check_operands
from kernels._fused_cpu import FLOAT32, _attention_inputs_rows, _rms_norm_rows, _swiglu_rows
from kernels._group_matmul import LANES, multiply, tile_major
from kernels._kernel_jobs import ATTENTION, GEMM, JOB_FIELDS, WORKERS, _attention, _floats_at, _words_at, attention_pieces, threads
from kernels._kernel_threads import read_acquire, write_release
from kernels._linear import SPLIT_WORK, GroupLinear

DEPENDENCY_HASHES = {  # sha256 of each file whose numba functions the kernels here inline (see kernels/_cpu_attention.py)
    "_config.py": "9882fd9c73b91428dc07c0a1937fe4ae5f92584491148f9bf0fddf685d5873ea",
    "_cpu_attention.py": "0b93ec7185b0be96df7e7399bb1f57646ace31068322c808d73bcfa63bce4a43",
    "_fused_cpu.py": "dbe0670dcad15d24ce0989f281fd0347687ddbf20847e94eb0681f5b43ef9102",
    "_group_matmul.py": "d8e7aae8263c20338ac31dc17c99b8ac360e7043b801bb1673599f616314e42b",
    "_kernel_jobs.py": "54a4d279a1b5b52a13478a3405e4e5a57da68c7ac50ccd75232e61a94d3ee068",
    "_kernel_threads.py": "b1be7eafa2ae309e6857bfb46f08dba86d4e956dd6a3b249dae10a3651eeee0d",
    "_linear.py": "ce42ee4433d38b853fc51fd7a88e7192b952138ff43fdb9abe799f13f7c465f4",
}

# a layer's words. A linear: its part count, then each part's (codes, scales, bytes of a block's codes, groups,
# nibbles, blocks), the parts' outputs side by side (weights of different code widths are parts of their own)
MAX_PARTS, PART_WORDS = 3, 6
LINEAR_WORDS = 1 + MAX_PARTS * PART_WORDS
ATTN_NORM, QKV = 0, 1
QKV_BIAS = QKV + LINEAR_WORDS
Q_NORM, K_NORM, ATTN_OUT = QKV_BIAS + 1, QKV_BIAS + 2, QKV_BIAS + 3
FFN_NORM = ATTN_OUT + LINEAR_WORDS
GATE_UP = FFN_NORM + 1
DOWN = GATE_UP + LINEAR_WORDS
LAYER_WORDS = DOWN + LINEAR_WORDS
# the step's buffers, by address
X, NORMED, TILES, QKV_OUT, QUERIES, ATTENDED, RESIDUAL, GATE_UP_OUT, ACTIVATED, SCORES = range(10)
# the step's sizes
ROWS, HIDDEN, FFN, HEADS, KV_HEADS, HEAD_DIM, SLOTS, PAGE_SIZE, LONGEST, SCORE_SCALE_BITS = range(10)
DONE, WORKER_SILENT = -1, -2
SILENT_CHECKS = 1 << 34  # reads of a worker's done counter before it is given up for lost (tens of seconds)
FLOAT_BYTES = 4


@njit(inline="always")
def _post(job_at, job, count):  # type: ignore[no-untyped-def]
    """Write the first `count` words of `job` into the idle slot at `job_at` and publish it; its posted count."""
    posted = read_acquire(job_at)
    while read_acquire(job_at + 8) != posted:
        pass
    slot = numba.carray(_words_at(job_at), (2 + count,))
    for i in range(count):
        slot[2 + i] = job[i]
    write_release(job_at, posted + 1)
    return posted + 1


@njit(inline="always")
def _finished(job_at, posted):  # type: ignore[no-untyped-def]
    """Whether the worker at `job_at` finished job `posted` within SILENT_CHECKS reads."""
    for _ in range(SILENT_CHECKS):
        if read_acquire(job_at + 8) == posted:
            return True
    return False


@njit(inline="always")
def _product(workers, posted, job, w, at, x_at, m, k, tiles_at, out_at):  # type: ignore[no-untyped-def]
    """out [M, N] = x [M, K] . W.T for the linear at word `at` of layer words `w`, each part into its columns, split by
    column blocks as `GroupLinear` splits it. False if a worker fell silent."""
    source = x_at
    if m > 1:
        tile_major(numba.carray(_floats_at(x_at), (m, k)), numba.carray(_floats_at(tiles_at), (m * k,)))
        source = tiles_at
    width = 0
    for part in range(w[at]):
        width += w[at + 1 + part * PART_WORDS + 5] * LANES
    column = 0
    for part in range(w[at]):
        p = at + 1 + part * PART_WORDS
        blocks, nibbles, part_at = w[p + 5], w[p + 4], out_at + column * FLOAT_BYTES
        split = len(workers) + 1 if m * blocks * LANES * k >= SPLIT_WORK else 1
        split = min(split, blocks)
        for piece in range(1, split):
            job[0], job[1], job[2], job[3], job[4], job[5], job[6] = GEMM, source, m, w[p], w[p + 1], w[p + 2], w[p + 3]
            job[7], job[8], job[9], job[10], job[11] = part_at, width, blocks * piece // split, blocks * (piece + 1) // split, nibbles
            posted[piece - 1] = _post(workers[piece - 1], job, 12)
        multiply(source, m, w[p], w[p + 1], w[p + 2], w[p + 3], part_at, width, 0, blocks // split, nibbles)
        for piece in range(1, split):
            if not _finished(workers[piece - 1], posted[piece - 1]):
                return False
        column += blocks * LANES
    return True


@njit(inline="always")
def _attention_words(job, size, buffers, keys_at, values_at, tables, lengths, piece):  # type: ignore[no-untyped-def]
    """The attention job of `piece` (its rows' order address and count, its key/value heads low..high) into `job`."""
    order_at, count, low, high = piece[0], piece[1], piece[2], piece[3]
    g = size[HEADS] // size[KV_HEADS]
    d, slots, longest = size[HEAD_DIM], size[SLOTS], size[LONGEST]
    job[0], job[1], job[2], job[3] = ATTENTION, keys_at + low * slots * d * FLOAT_BYTES, values_at + low * slots * d * FLOAT_BYTES, size[PAGE_SIZE]
    job[4], job[5], job[6], job[7] = high - low, slots, d, buffers[QUERIES] + low * g * d * FLOAT_BYTES
    job[8], job[9], job[10], job[11] = size[ROWS], (high - low) * g, tables.ctypes.data, tables.shape[1]
    job[12], job[13], job[14], job[15] = lengths.ctypes.data, order_at, count, size[SCORE_SCALE_BITS]
    job[16], job[17], job[18] = buffers[SCORES] + low * g * longest * FLOAT_BYTES, longest, buffers[ATTENDED] + low * g * d * FLOAT_BYTES


@njit(cache=True, nogil=True, error_model="numpy")
def run_layers(layers, stores, workers, size, buffers, eps, positions, slots, query_table, key_table, tables, lengths, pieces):  # type: ignore[no-untyped-def]
    """Every layer of a decode step. layers [L, LAYER_WORDS] int64 (each layer's words), stores [L, 2] (the addresses
    of its keys and values, [NKV, S, D] float32), workers [W] (job slot addresses), size (ROWS ... SCORE_SCALE_BITS),
    buffers (X ... SCORES), eps float32, positions / slots [M] int64 (rotary positions, KV write slots), query_table /
    key_table [P, D/2, 2] float32, tables [M, P] / lengths [M] int64, pieces [parts, 4] (see `_attention_words`).
    x [M, H] += every layer's residual but the last one's, which is left in `buffers[RESIDUAL]`. Returns DONE, a row
    whose position or slot is out of range (nothing written) or WORKER_SILENT."""
    m, hidden, ffn, heads, kv_heads, d = size[ROWS], size[HIDDEN], size[FFN], size[HEADS], size[KV_HEADS], size[HEAD_DIM]
    x_at, normed_at, tiles_at, residual_at = buffers[X], buffers[NORMED], buffers[TILES], buffers[RESIDUAL]
    qkv_at, gate_up_at, activated_at = buffers[QKV_OUT], buffers[GATE_UP_OUT], buffers[ACTIVATED]
    job = np.empty(JOB_FIELDS, dtype=np.int64)
    posted = np.empty(max(len(workers), len(pieces)), dtype=np.int64)
    qkv_width = (heads + 2 * kv_heads) * d
    for layer in range(len(layers)):
        w = layers[layer]
        first = layer == 0  # nothing to add yet
        _rms_norm_rows(x_at, x_at if first else residual_at, 0 if first else FLOAT32, w[ATTN_NORM], eps, normed_at, FLOAT32, m, hidden)
        if not _product(workers, posted, job, w, QKV, normed_at, m, hidden, tiles_at, qkv_at):
            return WORKER_SILENT
        if w[QKV_BIAS] != 0:
            qkv, bias = numba.carray(_floats_at(qkv_at), (m, qkv_width)), numba.carray(_floats_at(w[QKV_BIAS]), (qkv_width,))
            for i in range(m):
                for j in range(qkv_width):
                    qkv[i, j] += bias[j]
        bad = _attention_inputs_rows(qkv_at, FLOAT32, m, heads, kv_heads, d, w[Q_NORM], w[K_NORM], eps, positions, query_table,
                                     key_table, stores[layer, 0], stores[layer, 1], size[SLOTS], slots, buffers[QUERIES])  # fmt: skip
        if bad >= 0:
            return bad
        for piece in range(1, len(pieces)):
            _attention_words(job, size, buffers, stores[layer, 0], stores[layer, 1], tables, lengths, pieces[piece])
            posted[piece - 1] = _post(workers[piece - 1], job, JOB_FIELDS)
        _attention_words(job, size, buffers, stores[layer, 0], stores[layer, 1], tables, lengths, pieces[0])
        _attention(job)
        for piece in range(1, len(pieces)):
            if not _finished(workers[piece - 1], posted[piece - 1]):
                return WORKER_SILENT
        if not _product(workers, posted, job, w, ATTN_OUT, buffers[ATTENDED], m, heads * d, tiles_at, residual_at):
            return WORKER_SILENT
        _rms_norm_rows(x_at, residual_at, FLOAT32, w[FFN_NORM], eps, normed_at, FLOAT32, m, hidden)
        if not _product(workers, posted, job, w, GATE_UP, normed_at, m, hidden, tiles_at, gate_up_at):
            return WORKER_SILENT
        _swiglu_rows(gate_up_at, FLOAT32, activated_at, FLOAT32, m, ffn)
        if not _product(workers, posted, job, w, DOWN, activated_at, m, ffn, tiles_at, residual_at):
            return WORKER_SILENT
    return DONE


@dataclass(frozen=True)
class DecodeAttention:
    """Where a step's rows attend: rows [M] through page tables [M, P] (int64) of `page_size` slots, `lengths` [M]
    positions each, rows in `order` (rows sharing pages side by side), scores scaled by `scale`."""

    tables: np.ndarray
    lengths: np.ndarray
    order: np.ndarray
    page_size: int
    scale: float

    @classmethod
    def contiguous(cls, length: int, scale: float) -> DecodeAttention:
        """One row over the first `length` slots of a single sequence's cache (kernels/_kv_cache.py)."""
        return cls(np.zeros((1, 1), np.int64), np.array([length], np.int64), np.zeros(1, np.int64), length, scale)


class DecodeLayers:
    """A model's layers as `run_layers` takes them (built by `of`); `run` runs a decode step through them."""

    def __init__(self, config: ModelConfig, words: np.ndarray, kept: list[object]) -> None:
        self.config = config
        self.words = words  # [L, LAYER_WORDS]
        self._kept = kept  # the tensors the words point into

    @classmethod
    def of(cls, layers: Sequence[Any], config: ModelConfig) -> DecodeLayers | None:
        """The words of `layers` (kernels/_model.py's `Layer`s), or None where a layer is not one `run_layers` runs."""
        h, d, nh, nkv, f = config.hidden, config.head_dim, config.heads, config.kv_heads, config.ffn
        shapes = {"qkv": ((nh + 2 * nkv) * d, h), "attn_output": (h, nh * d), "gate_up": (2 * f, h), "down": (h, f)}
        rows: list[list[int]] = []
        kept: list[object] = []  # what the words point into
        for layer in layers:
            linears: dict[str, list[int]] = {}
            for name, shape in shapes.items():
                parts = getattr(layer, name).parts
                if not _fits(parts, shape) or (name != "qkv" and any(part.bias is not None for part in parts)):
                    return None
                linears[name] = [len(parts), *(word for part in parts for word in part.words)]
                linears[name] += [0] * (LINEAR_WORDS - len(linears[name]))
                kept.extend(parts)
            vectors = [layer.attn_norm, layer.ffn_norm, *((layer.q_norm, layer.k_norm) if layer.q_norm is not None else ())]
            if not all(_is_vector(v, size) for v, size in zip(vectors, (h, h, d, d))) or (layer.q_norm is None) != (layer.k_norm is None):
                return None
            biases = [part.bias for part in layer.qkv.parts]
            if len({b is None for b in biases}) > 1 or not all(b is None or _is_vector(b, len(b)) for b in biases):
                return None  # a bias on some parts only
            qkv_bias = None if biases[0] is None else torch.cat(biases)  # type: ignore[arg-type]
            words = [layer.attn_norm.data_ptr(), *linears["qkv"], 0 if qkv_bias is None else qkv_bias.data_ptr(),
                     0 if layer.q_norm is None else layer.q_norm.data_ptr(), 0 if layer.k_norm is None else layer.k_norm.data_ptr(),
                     *linears["attn_output"], layer.ffn_norm.data_ptr(), *linears["gate_up"], *linears["down"]]  # fmt: skip
            rows.append(words)
            kept.extend(v for v in (*vectors, qkv_bias) if v is not None)
        return cls(config, np.array(rows, dtype=np.int64), kept)

    def run(self, x: torch.Tensor, positions: np.ndarray, slots: np.ndarray, query_table: np.ndarray, key_table: np.ndarray,
            keys: list[torch.Tensor], values: list[torch.Tensor], attention: DecodeAttention) -> torch.Tensor:  # fmt: skip
        """x float32 [M, H] (contiguous; every layer's residual but the last added to it, in place); positions and KV
        write slots int64 [M]; keys / values float32 [NKV, S, D] per layer -> the last layer's residual [M, H]."""
        c = self.config
        m = len(x)
        if x.shape != (m, c.hidden) or x.dtype != torch.float32 or not x.is_contiguous():
            raise ValueError(f"x must be contiguous float32 [M, {c.hidden}], not {list(x.shape)} {x.dtype}")
        if not len(keys) == len(values) == len(self.words):
            raise ValueError(f"{len(self.words)} layers need keys and values for each, got {len(keys)} and {len(values)}")
        for name, array in (("positions", positions), ("slots", slots)):
            if array.shape != (m,) or array.dtype != np.int64 or not array.flags.c_contiguous:
                raise ValueError(f"{name}: expected int64 [{m}], got {array.dtype} {array.shape}")
        for name, table in (("query_table", query_table), ("key_table", key_table)):
            if table.dtype != np.float32 or table.shape[1:] != (c.head_dim // 2, 2) or not table.flags.c_contiguous:
                raise ValueError(f"{name}: expected float32 [P, {c.head_dim // 2}, 2], got {table.dtype} {table.shape}")
        longest = int(attention.lengths.max())
        buffers = {
            NORMED: torch.empty(m, c.hidden), QKV_OUT: torch.empty(m, (c.heads + 2 * c.kv_heads) * c.head_dim),
            QUERIES: torch.empty(m, c.heads, c.head_dim), ATTENDED: torch.empty(m, c.heads * c.head_dim),
            RESIDUAL: torch.empty(m, c.hidden), GATE_UP_OUT: torch.empty(m, 2 * c.ffn),
            ACTIVATED: torch.empty(m, c.ffn), SCORES: torch.empty(m, c.heads, longest),
            TILES: torch.empty(m * max(c.hidden, c.ffn, c.heads * c.head_dim)), X: x,
        }  # fmt: skip
        stores = np.empty((len(keys), 2), dtype=np.int64)
        slot_count = keys[0].shape[1]
        for index, (k, v) in enumerate(zip(keys, values, strict=True)):
            if k.shape != (c.kv_heads, slot_count, c.head_dim) or k.shape != v.shape or k.dtype != torch.float32 != v.dtype or not (k.is_contiguous() and v.is_contiguous()):
                raise ValueError(f"layer {index}: keys and values must be contiguous float32 [{c.kv_heads}, {slot_count}, {c.head_dim}]")
            stores[index] = k.data_ptr(), v.data_ptr()
        check_operands(keys[0].numpy(), values[0].numpy(), buffers[QUERIES].numpy(), attention.tables, attention.lengths,
                       attention.page_size, buffers[SCORES].numpy(), buffers[QUERIES].numpy())  # fmt: skip
        size = np.array([m, c.hidden, c.ffn, c.heads, c.kv_heads, c.head_dim, slot_count, attention.page_size, longest,
                         np.float64(attention.scale).view(np.int64)], dtype=np.int64)  # fmt: skip
        addresses = np.array([buffers[name].data_ptr() for name in range(len(buffers))], dtype=np.int64)
        parts = threads()
        pieces, orders = _pieces(attention.order, c.kv_heads, parts)
        with WORKERS.held(parts - 1) as workers:
            result = run_layers(self.words, stores, workers, size, addresses, np.float32(c.norm_eps), positions, slots,
                                query_table, key_table, attention.tables, attention.lengths, pieces)  # fmt: skip
        del orders  # the pieces pointed into them until here
        if result == WORKER_SILENT:
            raise RuntimeError("a kernel worker stopped answering")
        if result != DONE:
            raise ValueError(f"row {result}: position {positions[result]} or slot {slots[result]} is out of range "
                             f"({min(len(query_table), len(key_table))} positions, {slot_count} slots)")  # fmt: skip
        return buffers[RESIDUAL]


def _fits(parts: Sequence[object], shape: tuple[int, int]) -> bool:
    """Whether `parts` (a LinearGroup's) are group-code layers that `run_layers` computes as one [N, K] weight: at most
    MAX_PARTS, each of K inputs and a whole number of column blocks, N outputs together."""
    layers = [part for part in parts if isinstance(part, GroupLinear)]
    return (1 <= len(layers) == len(parts) <= MAX_PARTS and sum(part.out_features for part in layers) == shape[0]
            and all(part.in_features == shape[1] and part.out_features % LANES == 0 for part in layers))  # fmt: skip


def _is_vector(t: torch.Tensor, size: int) -> bool:
    return t.dtype == torch.float32 and t.shape == (size,) and t.is_contiguous() and t.is_cpu


def _pieces(order: np.ndarray, kv_heads: int, parts: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """`attention_pieces` as `run_layers` reads them: [pieces, 4] (rows' order address, count, low, high), and the
    order arrays those addresses point into (keep them until the call returns)."""
    pieces = attention_pieces(order, kv_heads, parts)
    words = np.array([(rows.ctypes.data, len(rows), low, high) for rows, low, high in pieces], dtype=np.int64)
    return words, [rows for rows, _, _ in pieces]
