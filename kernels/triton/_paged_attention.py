"""Paged decode attention: one query token per sequence against keys and values spread over pages.

Layout (chosen for the batching engine, kernels/engine/):
    q            [B, QH, D]        one new token per sequence, after RoPE
    k_cache      [P, S, KVH, D]    P pages of S token slots; v_cache the same
    block_table  [B, MP] int32     page ids of each sequence in token order (entries past its
                                   length are never read, so any value, e.g. 0, may pad the row)
    seq_lens     [B] int32         tokens of each sequence, the new one included (its key and
                                   value must already be written at slot seq_len - 1); read as
                                   at most MP * S (the table's reach), and 0 gives zeros
Page ids within a sequence's length must lie in [0, P): checking that would cost a device sync.
    out          [B, QH, D]        in q's dtype
Token t of sequence b lives at k_cache[block_table[b, t // S], t % S]. Query head h reads key/value
head h // (QH / KVH) (grouped-query attention). Writing new keys is plain indexing:
`k_cache.view(-1, KVH, D)[slot] = k` with slot = page * S + offset.

Kernel (flash-decoding): grid (B, KVH, splits). Each program takes the QH/KVH query heads that share
one key/value head, so every key and value is read once, and walks one partition of the sequence
in BLOCK_T-token chunks with an online softmax in float32. With several partitions each writes its
running max, sum and unnormalised output, and a second kernel merges them. Reference:
`kernels.triton._reference.paged_decode_attention`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_T = 32  # tokens per chunk (16 for float32: IEEE dots hold their operands in registers)
PARTITION = 512  # tokens per program when a sequence is split across programs
ENOUGH_PROGRAMS = 128  # B * KVH at or above this: one partition per sequence (no merge pass)


@triton.jit
def paged_attention_kernel(
    q_ptr, k_ptr, v_ptr, table_ptr, lens_ptr, out_ptr, part_max_ptr, part_sum_ptr,
    group, head_dim, page_size, scale, partition, q_heads, splits, capacity,
    stride_qb, stride_qh, stride_kp, stride_ks, stride_kh, stride_vp, stride_vs, stride_vh, stride_tb,
    stride_ob, stride_oh, stride_os,
    SPLIT: tl.constexpr, PRECISION: tl.constexpr, BLOCK_G: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_T: tl.constexpr,
):  # fmt: skip
    b, kv_head, split = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    gs = tl.arange(0, BLOCK_G)  # [BG] query heads of this key/value head
    ds = tl.arange(0, BLOCK_D)  # [BD]
    heads = kv_head * group + gs
    g_ok, d_ok = gs < group, ds < head_dim
    q = tl.load(q_ptr + b * stride_qb + heads[:, None] * stride_qh + ds[None, :], mask=g_ok[:, None] & d_ok[None, :], other=0.0)
    length = tl.minimum(tl.load(lens_ptr + b), capacity)  # never read past the sequence's row of the table
    start = split * partition
    end = tl.minimum(start + partition, length)
    run_max = tl.full((BLOCK_G,), float("-inf"), dtype=tl.float32)
    run_sum = tl.zeros((BLOCK_G,), dtype=tl.float32)
    acc = tl.zeros((BLOCK_G, BLOCK_D), dtype=tl.float32)
    for t0 in range(start, end, BLOCK_T):
        ts = t0 + tl.arange(0, BLOCK_T)  # [BT] token positions
        t_ok = ts < end
        page = tl.load(table_ptr + b * stride_tb + ts // page_size, mask=t_ok, other=0).to(tl.int64)
        slot = ts % page_size
        kv_ok = t_ok[:, None] & d_ok[None, :]  # [BT, BD]
        k = tl.load(k_ptr + page[:, None] * stride_kp + slot[:, None] * stride_ks + kv_head * stride_kh + ds[None, :], mask=kv_ok, other=0.0)
        scores = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale  # [BG, BT]
        scores = tl.where(t_ok[None, :], scores, float("-inf"))
        new_max = tl.maximum(run_max, tl.max(scores, axis=1))  # finite: every chunk has a valid token
        p = tl.exp(scores - new_max[:, None])
        correction = tl.exp(run_max - new_max)
        run_sum = run_sum * correction + tl.sum(p, axis=1)
        v = tl.load(v_ptr + page[:, None] * stride_vp + slot[:, None] * stride_vs + kv_head * stride_vh + ds[None, :], mask=kv_ok, other=0.0)
        acc = acc * correction[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        run_max = new_max
    out_ok = g_ok[:, None] & d_ok[None, :]
    if SPLIT:
        at = b * stride_ob + heads * stride_oh + split * stride_os  # [BG]
        tl.store(out_ptr + at[:, None] + ds[None, :], acc, mask=out_ok)
        stat = (b * q_heads + heads) * splits + split  # [BG] into [B, QH, splits]
        tl.store(part_max_ptr + stat, run_max, mask=g_ok)
        tl.store(part_sum_ptr + stat, run_sum, mask=g_ok)
    else:
        out = acc / tl.where(run_sum > 0, run_sum, 1.0)[:, None]  # an empty sequence gives zeros
        tl.store(out_ptr + b * stride_ob + heads[:, None] * stride_oh + ds[None, :], out.to(out_ptr.dtype.element_ty), mask=out_ok)


@triton.jit
def merge_partitions_kernel(
    part_out_ptr, part_max_ptr, part_sum_ptr, out_ptr, q_heads, splits, head_dim,
    stride_pb, stride_ph, stride_ps, stride_ob, stride_oh,
    BLOCK_S: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    b, head = tl.program_id(0), tl.program_id(1)
    ss = tl.arange(0, BLOCK_S)  # [BS]
    ds = tl.arange(0, BLOCK_D)  # [BD]
    s_ok, d_ok = ss < splits, ds < head_dim
    row = b * stride_pb + head * stride_ph + ss * stride_ps  # [BS]
    stat = (b * q_heads + head) * splits + ss  # [BS] into [B, QH, splits]
    part_max = tl.load(part_max_ptr + stat, mask=s_ok, other=float("-inf"))
    part_sum = tl.load(part_sum_ptr + stat, mask=s_ok, other=0.0)
    top = tl.max(part_max, axis=0)
    weight = tl.where(part_max > float("-inf"), tl.exp(part_max - top), 0.0)  # empty partitions weigh 0
    total = tl.sum(part_sum * weight, axis=0)
    part_out = tl.load(part_out_ptr + row[:, None] + ds[None, :], mask=s_ok[:, None] & d_ok[None, :], other=0.0)  # [BS, BD]
    out = tl.sum(part_out * weight[:, None], axis=0) / tl.where(total > 0, total, 1.0)
    tl.store(out_ptr + b * stride_ob + head * stride_oh + ds, out.to(out_ptr.dtype.element_ty), mask=d_ok)


def launch_paged_decode_attention(
    q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, block_table: torch.Tensor, seq_lens: torch.Tensor, scale: float,
    *, partition: int | None = None,
) -> torch.Tensor:  # fmt: skip
    batch, q_heads, head_dim = q.shape
    page_size, kv_heads = k_cache.shape[1], k_cache.shape[2]
    group = q_heads // kv_heads
    out = torch.empty(batch, q_heads, head_dim, dtype=q.dtype, device=q.device)  # [B, QH, D]
    if batch == 0:
        return out
    capacity = block_table.shape[1] * page_size  # no sequence is longer; known without a device sync
    if partition is None:
        partition = capacity if batch * kv_heads >= ENOUGH_PROGRAMS else PARTITION
    block_t = 16 if q.dtype == torch.float32 else BLOCK_T
    partition = max(block_t, triton.cdiv(partition, block_t) * block_t)
    splits = max(1, triton.cdiv(capacity, partition))
    precision = "ieee" if q.dtype == torch.float32 else "tf32"
    block_g, block_d = max(16, triton.next_power_of_2(group)), max(16, triton.next_power_of_2(head_dim))
    if splits == 1:
        part_out, part_max, part_sum = out, out, out
        part_strides = (out.stride(0), out.stride(1), 0)
    else:
        part_out = torch.empty(batch, q_heads, splits, head_dim, dtype=torch.float32, device=q.device)  # [B, QH, splits, D]
        part_max = torch.empty(batch, q_heads, splits, dtype=torch.float32, device=q.device)  # [B, QH, splits]
        part_sum = torch.empty_like(part_max)
        part_strides = (part_out.stride(0), part_out.stride(1), part_out.stride(2))
    paged_attention_kernel[(batch, kv_heads, splits)](
        q, k_cache, v_cache, block_table, seq_lens, part_out, part_max, part_sum,
        group, head_dim, page_size, scale, partition, q_heads, splits, capacity,
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        v_cache.stride(0), v_cache.stride(1), v_cache.stride(2), block_table.stride(0), *part_strides,
        SPLIT=splits > 1, PRECISION=precision, BLOCK_G=block_g, BLOCK_D=block_d, BLOCK_T=block_t,
    )  # fmt: skip
    if splits > 1:
        merge_partitions_kernel[(batch, q_heads)](
            part_out, part_max, part_sum, out, q_heads, splits, head_dim, *part_strides, out.stride(0), out.stride(1),
            BLOCK_S=triton.next_power_of_2(splits), BLOCK_D=triton.next_power_of_2(head_dim),
        )  # fmt: skip
    return out
