"""A torch-free stand-in for the model runner, for scheduler and page manager tests.

Its "KV cache" stores, in each slot, the token whose keys and values would be there; a step checks
that every position a chunk attends to holds the right token (so sharing, copy-on-write and
preemption are exercised for real) and "samples" a token that is a pure function of the text.
"""

from __future__ import annotations

from kernels.engine import Batch, PageManager, Scheduler, Sequence

VOCAB = 50
STOP = 0


def next_token(tokens: list[int]) -> int:
    return (sum((i + 1) * t for i, t in enumerate(tokens)) * 7 + len(tokens)) % VOCAB


def reference_output(prompt: list[int], max_tokens: int, max_total: int, stop: bool) -> list[int]:
    tokens, generated = list(prompt), []
    while True:
        token = next_token(tokens)
        if stop and token == STOP:
            return generated
        tokens.append(token)
        generated.append(token)
        if len(generated) >= max_tokens or len(tokens) >= max_total:
            return generated


class SimulatedRunner:
    def __init__(self, pages: PageManager) -> None:
        self.pages = pages
        self.slots: dict[int, int] = {}
        self.computed_tokens = 0

    def slot(self, seq: Sequence, position: int) -> int:
        table = self.pages.table(seq.id)
        return table[position // self.pages.page_size] * self.pages.page_size + position % self.pages.page_size

    def run(self, batch: Batch) -> list[int]:
        size = self.pages.page_size
        for copy in batch.copies:
            for offset in range(copy.tokens):
                self.slots[copy.target * size + offset] = self.slots[copy.source * size + offset]
        sampled = []
        for chunk in batch.chunks:
            seq = chunk.seq
            for position in range(chunk.start, chunk.start + chunk.count):
                page = self.pages.table(seq.id)[position // size]
                assert self.pages.refs[page] == 1, f"writing into page {page}, shared by {self.pages.refs[page]}"
                self.slots[self.slot(seq, position)] = seq.token_ids[position]
            end = chunk.start + chunk.count
            seen = [self.slots.get(self.slot(seq, p)) for p in range(end)]
            assert seen == seq.token_ids[:end], f"{seq}: the KV cache holds {seen}, not {seq.token_ids[:end]}"
            self.computed_tokens += chunk.count
            if chunk.samples:
                sampled.append(next_token(seen))
        return sampled


def step(scheduler: Scheduler, runner: SimulatedRunner) -> Batch:
    batch = scheduler.schedule()
    scheduler.postprocess(batch, runner.run(batch))
    scheduler.pages.check()
    return batch
