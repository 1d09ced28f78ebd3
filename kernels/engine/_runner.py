"""The model runner owns the forward: one batched pass over every scheduled chunk, with the keys and
values in pages (kernels/engine/_ops.py) found through each sequence's page table.

Shapes: N rows (tokens of all chunks), H hidden, D head size, NH query heads, NKV key/value heads,
V vocabulary, n sampled rows.
"""

from __future__ import annotations

import torch

from kernels._model import LlamaModel
from kernels.engine._device_model import DeviceModel
from kernels.engine._ops import Ops, TorchOps
from kernels.engine._pages import PageManager
from kernels.engine._scheduler import Batch
from kernels.engine._shared_attention import grouping_is_exact
from kernels.engine._step_plan import plan_step


class ModelRunner:
    def __init__(self, model: LlamaModel | DeviceModel, pages: PageManager, ops: Ops | None = None) -> None:
        c = model.config
        self.model = model
        self.pages = pages
        self.ops: Ops = ops or TorchOps(c.norm_eps)
        self.kv = self.ops.make_kv(c.layers, pages.num_pages, pages.page_size, c.kv_heads, c.head_dim)

    def _can_group(self, rows: int) -> bool:
        """Whether `rows` decode rows sharing a prefix may attend over it together (TorchOps only)."""
        c = self.model.config
        return (isinstance(self.ops, TorchOps) and self.ops.share_prefix and self.ops.batch_invariant
                and grouping_is_exact(c.heads // c.kv_heads, c.head_dim, rows, torch.get_num_threads()))  # fmt: skip

    @torch.inference_mode()
    def run(self, batch: Batch) -> torch.Tensor:
        """Logits [n, V] of the rows that sample, in the order of `batch.sampling`."""
        model, ops, c = self.model, self.ops, self.model.config
        for copy in batch.copies:
            self.kv.copy_prefix(copy.source, copy.target, copy.tokens)
        plan = plan_step(batch, [self.pages.table(chunk.seq.id) for chunk in batch.chunks], self.pages.page_size, self._can_group)
        n, nh, nkv, d = len(plan.token_ids), c.heads, c.kv_heads, c.head_dim
        turns = model.rope.turns[plan.positions][:, None, :]  # complex [N, 1, D/2]
        x = model.embedding(plan.token_ids)  # float32 [N, H], the residual stream
        for index, layer in enumerate(model.layers):
            normed = ops.rms_norm(x, layer.attn_norm)
            qkv = layer.qkv.whole(normed).float()  # [N, (NH + 2 NKV) D]
            qk = qkv[:, : (nh + nkv) * d].view(n, nh + nkv, d)
            v = qkv[:, (nh + nkv) * d :].view(n, nkv, d)
            if layer.q_norm is not None and layer.k_norm is not None:
                qk = torch.cat([ops.rms_norm(qk[:, :nh], layer.q_norm),
                                ops.rms_norm(qk[:, nh:], layer.k_norm)], dim=1)  # fmt: skip
            qk = ops.rope(qk, turns)  # [N, NH + NKV, D]
            ops.store_kv(self.kv, index, qk[:, nh:], v, plan)
            attended = ops.attention(self.kv, index, qk[:, :nh], plan)  # [N, NH * D]
            x.add_(layer.attn_output.whole(attended))  # [N, H]
            gate, up = layer.gate_up(ops.rms_norm(x, layer.ffn_norm))  # [N, F] each
            x.add_(layer.down.whole(ops.silu_mul(gate, up)))
        if not len(plan.sample_rows):
            return torch.empty(0, c.vocab_size)
        x = x[plan.sample_rows]  # [n, H]
        return model.head.whole(ops.rms_norm(x, model.output_norm)).float().cpu()  # [n, V], for the sampler
