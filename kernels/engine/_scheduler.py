"""The scheduler picks what runs in each step (continuous batching over the page manager).

Each step has a budget of tokens. Running sequences that decode come first (one token each), so a
long prompt never stalls them; prefills of running sequences take what is left, in chunks; then
waiting sequences join, those with the longest cached prefix first, except that one passed over
for `max_wait_rounds` steps goes first (fairness). A waiting sequence whose next uncached page
another sequence is computing right now waits a step, so that page is computed once and shared.
When pages run out, the most recently arrived running sequence is preempted: its pages are released
(its computed tokens stay in the prefix cache) and it is recomputed later. Torch-free.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from kernels.engine._pages import PageCopy, PageManager
from kernels.engine._sequence import Sequence, Status


@dataclass(frozen=True)
class Chunk:
    """Run tokens `[start, start + count)` of `seq`; `samples`: this reaches its end, sample a token."""

    seq: Sequence
    start: int
    count: int
    samples: bool

    @property
    def is_decode(self) -> bool:
        """One generated token: a decode row. A prompt's last token alone (the rest cached) is a prefill, as in a cold run."""
        return self.count == 1 and self.start >= self.seq.num_prompt_tokens


@dataclass(frozen=True)
class Batch:
    chunks: tuple[Chunk, ...]
    copies: tuple[PageCopy, ...] = ()

    @property
    def sampling(self) -> tuple[Chunk, ...]:
        return tuple(chunk for chunk in self.chunks if chunk.samples)

    @property
    def num_tokens(self) -> int:
        return sum(chunk.count for chunk in self.chunks)

    def __bool__(self) -> bool:
        return bool(self.chunks)


@dataclass
class SchedulerStats:
    steps: int = 0
    prefill_tokens: int = 0  # tokens run through the model that were not sampled from (prompt, recompute)
    decode_tokens: int = 0
    cached_tokens: int = 0  # tokens taken from the prefix cache instead of being computed
    preemptions: int = 0
    finished: dict[str, int] = field(default_factory=dict)


class Scheduler:
    def __init__(self, pages: PageManager, *, max_batch_tokens: int = 256, max_running: int = 64,
                 max_wait_rounds: int = 8) -> None:  # fmt: skip
        if max_batch_tokens < 1 or max_running < 1:
            raise ValueError("the step budget and the batch size must be positive")
        self.pages = pages
        self.max_batch_tokens = max_batch_tokens
        self.max_running = max_running
        self.max_wait_rounds = max_wait_rounds
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []  # in arrival order
        self.stats = SchedulerStats()
        self._finished: list[Sequence] = []

    @property
    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def add(self, seq: Sequence) -> None:
        if seq.num_tokens < 1 or seq.num_tokens > seq.max_total_tokens:
            raise ValueError(f"a sequence of {seq.num_tokens} tokens cannot run in a context of {seq.max_total_tokens}")
        if self.pages.pages_for(seq.num_tokens) > self.pages.num_pages:
            raise ValueError(f"a sequence of {seq.num_tokens} tokens cannot fit into the KV cache")
        seq.status = Status.WAITING
        self.waiting.append(seq)

    def finish(self, seq: Sequence, reason: str) -> None:
        """End `seq` (also used to cancel it); its computed tokens stay cached."""
        if seq.status is Status.FINISHED:
            return
        if seq.status is Status.RUNNING:
            self.running.remove(seq)
            self.pages.close(seq.id, seq.token_ids, seq.num_computed)
        else:
            self.waiting.remove(seq)
        seq.status = Status.FINISHED
        seq.finish_reason = reason
        self.stats.finished[reason] = self.stats.finished.get(reason, 0) + 1
        self._finished.append(seq)

    def take_finished(self) -> list[Sequence]:
        """The sequences finished since the last call (by postprocess, `finish`, or a full cache)."""
        finished, self._finished = self._finished, []
        return finished

    # -- a step -----------------------------------------------------------------------------------
    def schedule(self) -> Batch:
        self.stats.steps += 1
        budget = self.max_batch_tokens
        chunks: dict[int, Chunk] = {}
        copies: list[PageCopy] = []
        decoding = [s for s in self.running if s.remaining == 1]
        prefilling = [s for s in self.running if s.remaining > 1]
        for seq in decoding + prefilling:
            if budget == 0:
                break
            if seq.status is not Status.RUNNING:  # preempted to make room for an older one
                continue
            count = min(seq.remaining, budget)
            if self._make_room(seq, seq.num_computed + count, chunks):
                chunks[seq.id] = Chunk(seq, seq.num_computed, count, seq.num_computed + count == seq.num_tokens)
                budget -= count
        for seq in self._admission_order():
            if budget == 0 or len(self.running) >= self.max_running:
                break
            if self._duplicates_a_running_prefill(seq):
                continue
            cached, copy = self.pages.open(seq.id, seq.token_ids)
            count = min(seq.num_tokens - cached, budget)
            headroom = len(self.running)  # one page for each running sequence to grow into
            if self.pages.pages_needed(seq.id, cached + count) + headroom > self.pages.available or not self.pages.grow(
                seq.id, cached + count
            ):
                if copy is not None:
                    self.pages.unpin(copy)
                self.pages.close(seq.id)
                break
            copies += [copy] if copy else []
            self.waiting.remove(seq)
            seq.status, seq.num_computed, seq.num_cached, seq.waited_rounds = Status.RUNNING, cached, cached, 0
            self.stats.cached_tokens += cached
            self.running.append(seq)
            self.running.sort(key=lambda s: s.arrival)
            chunks[seq.id] = Chunk(seq, cached, count, cached + count == seq.num_tokens)
            budget -= count
        for seq in self.waiting:
            seq.waited_rounds += 1
        ordered = [c for c in chunks.values() if c.is_decode] + [c for c in chunks.values() if not c.is_decode]
        return Batch(tuple(ordered), tuple(copies))

    def postprocess(self, batch: Batch, sampled: list[int]) -> list[Sequence]:
        """Record what the step computed and append the sampled tokens (one per sampling chunk, in order).

        Returns the sequences that sampled; `seq.new_token` says whether a token was appended, and a
        sequence that reached a stop token, `max_tokens` or the context length is finished.
        """
        for copy in batch.copies:
            self.pages.unpin(copy)
        for chunk in batch.chunks:
            seq = chunk.seq
            if seq.status is not Status.RUNNING:
                continue
            seq.num_computed = chunk.start + chunk.count
            self.pages.commit(seq.id, seq.token_ids, seq.num_computed)
            seq.num_run += chunk.count
            if chunk.samples and chunk.is_decode:
                self.stats.decode_tokens += 1
            else:
                self.stats.prefill_tokens += chunk.count
        sampling = batch.sampling
        if len(sampled) != len(sampling):
            raise ValueError(f"{len(sampled)} tokens sampled for {len(sampling)} sequences")
        updated = []
        for chunk, token in zip(sampling, sampled, strict=True):
            seq = chunk.seq
            seq.new_token = False
            if seq.status is not Status.RUNNING:
                continue
            updated.append(seq)
            if token in seq.stop_token_ids:
                self.finish(seq, "stop")
                continue
            seq.token_ids.append(token)
            seq.new_token = True
            if seq.num_generated >= seq.max_tokens or seq.num_tokens >= seq.max_total_tokens:
                self.finish(seq, "length")
        return updated

    # -- helpers ----------------------------------------------------------------------------------
    def _admission_order(self) -> list[Sequence]:
        starving = [s for s in self.waiting if s.waited_rounds >= self.max_wait_rounds]
        rest = [s for s in self.waiting if s.waited_rounds < self.max_wait_rounds]
        rest.sort(key=lambda s: (-self.pages.cached_prefix(s.token_ids), s.arrival))
        return sorted(starving, key=lambda s: s.arrival) + rest

    def _duplicates_a_running_prefill(self, seq: Sequence) -> bool:
        """True when a running sequence is computing the page `seq` would compute first."""
        cached = self.pages.cached_prefix(seq.token_ids)
        end = (cached // self.pages.page_size + 1) * self.pages.page_size
        if end > seq.num_tokens - 1:
            return False
        prefix = seq.token_ids[:end]
        return any(
            other.num_computed < end <= other.num_tokens and other.token_ids[:end] == prefix
            for other in self.running
            if other.remaining > 1
        )

    def _make_room(self, seq: Sequence, length: int, scheduled: dict[int, Chunk]) -> bool:
        """Grow `seq` to `length` tokens, preempting the newest others first; False if `seq` itself had to go."""
        while not self.pages.grow(seq.id, length):
            victims = [s for s in self.running if s is not seq and s.id not in scheduled]
            victim = max(victims, key=lambda s: s.arrival) if victims else seq
            if victim.arrival < seq.arrival:
                victim = seq
            if victim is seq and len(self.running) == 1:  # alone and still too long: the cache is full
                self.finish(seq, "length")
                return False
            self._preempt(victim)
            if victim is seq:
                return False
        return True

    def _preempt(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.pages.close(seq.id, seq.token_ids, seq.num_computed)
        seq.status, seq.num_computed = Status.WAITING, 0
        seq.preemptions += 1
        seq.waited_rounds = self.max_wait_rounds  # first back in, once there is room
        self.stats.preemptions += 1
        self.waiting.appendleft(seq)
