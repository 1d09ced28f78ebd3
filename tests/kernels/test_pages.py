"""The KV page manager and its prefix cache, on their own (torch-free)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kernels.engine import OutOfPages, PageManager


def fill(pages: PageManager, seq_id: int, tokens: list[int]) -> int:
    cached, copy = pages.open(seq_id, tokens)
    assert pages.grow(seq_id, len(tokens))
    if copy:
        pages.unpin(copy)
    return cached


def test_a_second_sequence_shares_whole_pages_and_copies_the_partial_one() -> None:
    pages = PageManager(num_pages=16, page_size=4)
    first = list(range(1, 11))  # 10 tokens: pages of 4, 4 and 2
    assert fill(pages, 1, first) == 0
    pages.close(1, first, computed=10)
    assert pages.used == 0 and pages.available == 16
    second = first[:7] + [99, 98]  # shares 7 tokens: one whole page... and 3 tokens of the second
    cached, copy = pages.open(2, second)
    assert cached == 7 and copy is not None and copy.tokens == 3
    assert pages.table(2)[0] == pages.tree.match(first, 10).nodes[0].page  # the first page is shared
    assert copy.target == pages.table(2)[1] and copy.source != copy.target
    pages.unpin(copy)
    pages.check()


def test_the_last_token_is_always_left_to_compute() -> None:
    pages = PageManager(num_pages=8, page_size=4)
    tokens = list(range(8))
    fill(pages, 1, tokens)
    pages.close(1, tokens, 8)
    cached, copy = pages.open(2, tokens)
    assert cached == 7 and copy is not None and copy.tokens == 3
    pages.unpin(copy)
    pages.close(2)
    pages.check()


def test_generated_tokens_become_cacheable_as_pages_fill() -> None:
    pages = PageManager(num_pages=8, page_size=4)
    tokens = [5, 6, 7]
    fill(pages, 1, tokens)
    for token in (8, 9, 10):  # decoding: the page fills with generated tokens
        tokens.append(token)
        assert pages.grow(1, len(tokens))
        pages.commit(1, tokens, len(tokens) - 1)
    assert pages.cached_prefix([5, 6, 7, 8, 9, 10, 11]) == 4  # the first page, generated token 8 included
    pages.close(1, tokens, computed=len(tokens) - 1)
    assert pages.cached_prefix([5, 6, 7, 8, 9, 42]) == 5  # the partial tail too
    pages.check()


def test_unreferenced_cached_pages_are_evicted_least_recently_used_first() -> None:
    pages = PageManager(num_pages=4, page_size=2)
    a, b = [1, 2, 3, 4], [7, 8, 9, 10]
    fill(pages, 1, a)
    pages.close(1, a, 4)
    fill(pages, 2, b)
    pages.close(2, b, 4)
    assert pages.available == 4 and pages.cached_prefix(a + [0]) == 4
    cached, _ = pages.open(3, b + [0])  # uses b, so a is the least recently used
    assert cached == 4
    assert pages.grow(3, 6)  # one more page: evicts a's leaf first
    assert pages.evictions == 1 and pages.cached_prefix(a + [0]) == 2 and pages.cached_prefix(b + [0]) == 4
    pages.check()
    assert not pages.grow(3, 12)  # all or nothing: 3 more pages needed, 1 could be had
    assert len(pages.table(3)) == 3
    pages.close(3)
    pages.check()


def test_pages_run_out_only_when_every_page_is_referenced() -> None:
    pages = PageManager(num_pages=2, page_size=2)
    fill(pages, 1, [1, 2, 3, 4])
    assert pages.available == 0 and not pages.grow(1, 5)
    with pytest.raises(OutOfPages):
        pages._allocate()
    pages.close(1)
    assert pages.available == 2
    pages.check()


def test_two_sequences_computing_the_same_page_end_up_sharing_it() -> None:
    pages = PageManager(num_pages=8, page_size=2)
    tokens = [3, 4, 5, 6, 7]
    fill(pages, 1, tokens)
    fill(pages, 2, tokens)  # opened before 1 committed anything: no hit
    pages.commit(1, tokens, 4)
    pages.commit(2, tokens, 4)
    assert pages.table(1)[:2] == pages.table(2)[:2]
    assert pages.used == 4  # 2 shared + the two private third pages
    pages.close(1, tokens, 5)
    pages.close(2, tokens, 5)
    pages.check()


class PageManagerMachine(RuleBasedStateMachine):
    """Random opens, growth, commits, closes and copies: no page leaks or is freed twice."""

    def __init__(self) -> None:
        super().__init__()
        self.pages = PageManager(num_pages=12, page_size=3)
        self.live: dict[int, tuple[list[int], int]] = {}  # seq -> (tokens, computed)
        self.next_id = 0

    @rule(prefix=st.sampled_from([[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 9], [4, 4]]), tail=st.lists(st.integers(0, 5), max_size=6))
    def open(self, prefix: list[int], tail: list[int]) -> None:
        tokens = prefix + tail
        self.next_id += 1
        cached, copy = self.pages.open(self.next_id, tokens)
        assert 0 <= cached < len(tokens)
        assert tokens[:cached] == tokens[:cached]
        if copy is not None:
            self.pages.unpin(copy)
        if not self.pages.grow(self.next_id, len(tokens)):
            self.pages.close(self.next_id)
            return
        self.live[self.next_id] = (tokens, cached)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), extra=st.lists(st.integers(0, 5), max_size=4))
    def decode(self, data: st.DataObject, extra: list[int]) -> None:
        seq = data.draw(st.sampled_from(sorted(self.live)))
        tokens, _ = self.live[seq]
        tokens = tokens + extra
        if not self.pages.grow(seq, len(tokens)):
            return
        self.pages.commit(seq, tokens, len(tokens))
        self.live[seq] = (tokens, len(tokens))

    @precondition(lambda self: self.live)
    @rule(data=st.data(), keep=st.booleans())
    def close(self, data: st.DataObject, keep: bool) -> None:
        seq = data.draw(st.sampled_from(sorted(self.live)))
        tokens, computed = self.live.pop(seq)
        self.pages.close(seq, tokens, computed if keep else 0)

    @invariant()
    def balanced(self) -> None:
        self.pages.check()

    def teardown(self) -> None:
        for seq in list(self.live):
            self.pages.close(seq)
        self.pages.check()
        assert self.pages.available == self.pages.num_pages and not any(self.pages.refs)


TestPageManagerMachine = PageManagerMachine.TestCase
TestPageManagerMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), page_size=st.integers(1, 5))
def test_a_cache_hit_never_claims_more_than_the_common_prefix(seed: int, page_size: int) -> None:
    rng = random.Random(seed)
    pages = PageManager(num_pages=64, page_size=page_size)
    texts = []
    for index in range(8):
        base = rng.choice(texts) if texts and rng.random() < 0.7 else []
        tokens = base[: rng.randint(0, len(base))] + [rng.randint(0, 3) for _ in range(rng.randint(1, 9))]
        cached = pages.cached_prefix(tokens)
        best = max((_common(tokens, t) for t in texts), default=0)
        assert cached <= min(best, len(tokens) - 1)
        fill(pages, index, tokens)
        pages.close(index, tokens, len(tokens))
        texts.append(tokens)
        assert pages.cached_prefix(tokens + [9]) == len(tokens)  # nothing evicted with 64 pages
    pages.check()


def _common(a: list[int], b: list[int]) -> int:
    count = 0
    while count < min(len(a), len(b)) and a[count] == b[count]:
        count += 1
    return count
