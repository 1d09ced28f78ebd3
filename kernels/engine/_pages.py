"""The KV page manager: owns KV memory as fixed-size pages, the page table of every sequence, and
the prefix cache (kernels/engine/_prefix_tree.py).

A page is in exactly one of three states: free; referenced (by sequences' page tables, or pinned
as the source of a pending copy) and maybe also cached; or cached and unreferenced, which makes it
evictable (least recently used first). Pages a sequence has filled with computed tokens join the
cache as they fill, generated tokens included; a finished sequence's last, partial page joins too.
A new sequence reuses the longest cached prefix token by token: whole pages are shared, and a
match ending inside a page gets a private page into which the runner copies the matched tokens
(copy-on-write). Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kernels.engine._prefix_tree import Node, PrefixTree


class OutOfPages(Exception):
    """No free or evictable page is left (the scheduler preempts on this)."""


@dataclass(frozen=True)
class PageCopy:
    """Copy the first `tokens` slots of page `source` into page `target` before the next forward."""

    source: int
    target: int
    tokens: int


@dataclass
class _Table:
    pages: list[int] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)  # the cached nodes of pages[:len(nodes)]


class PageManager:
    def __init__(self, num_pages: int, page_size: int) -> None:
        if num_pages < 1 or page_size < 1:
            raise ValueError("the KV cache needs at least one page of at least one token")
        self.num_pages = num_pages
        self.page_size = page_size
        self.tree = PrefixTree(page_size)
        self.refs = [0] * num_pages
        self._free = list(range(num_pages - 1, -1, -1))  # a stack: pops page 0 first
        self._node_of: dict[int, Node] = {}  # cached pages
        self._evictable = 0  # cached pages with no reference
        self._tables: dict[int, _Table] = {}
        self._pinned: dict[int, int] = {}  # copy sources: page -> pending copies
        self.hit_tokens = 0  # prompt tokens served from the cache, over all opens
        self.evictions = 0

    # -- capacity ---------------------------------------------------------------------------------
    @property
    def available(self) -> int:
        """Pages that can be handed out now: free ones plus evictable cached ones."""
        return len(self._free) + self._evictable

    @property
    def used(self) -> int:
        """Pages some sequence references (shared pages count once)."""
        return self.num_pages - self.available

    def pages_for(self, tokens: int) -> int:
        return -(-tokens // self.page_size)

    def pages_needed(self, seq_id: int, length: int) -> int:
        """New pages `seq_id` needs to hold `length` tokens."""
        return max(0, self.pages_for(length) - len(self._tables[seq_id].pages))

    def cached_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading tokens the cache holds (at most all but the last), without taking any."""
        return self.tree.match(tokens, len(tokens) - 1).tokens

    # -- a sequence's life ------------------------------------------------------------------------
    def open(self, seq_id: int, tokens: Sequence[int]) -> tuple[int, PageCopy | None]:
        """Start a page table for `seq_id`, sharing its longest cached prefix.

        Returns (cached tokens, a copy the runner must do first or None). At least the last token is
        left to compute, so the forward has a position to take logits from.
        """
        if seq_id in self._tables:
            raise ValueError(f"sequence {seq_id} already has pages")
        match = self.tree.match(tokens, len(tokens) - 1)
        table = _Table()
        self._tables[seq_id] = table
        for node in match.nodes:
            self._ref(node.page)
            table.pages.append(node.page)
            table.nodes.append(node)
        copy = None
        if match.partial is not None:
            source = match.partial.page
            self._ref(source)  # pinned until `unpin`: an eviction must not reuse it before the copy
            if self.available:
                copy = PageCopy(source, self._allocate(), match.partial_tokens)
                table.pages.append(copy.target)
                self._pinned[source] = self._pinned.get(source, 0) + 1
            else:
                self._unref(source)
        self.tree.touch([*match.nodes, match.partial] if copy else match.nodes)
        cached = len(match.nodes) * self.page_size + (copy.tokens if copy else 0)
        self.hit_tokens += cached
        return cached, copy

    def unpin(self, copy: PageCopy) -> None:
        self._pinned[copy.source] -= 1
        if not self._pinned[copy.source]:
            del self._pinned[copy.source]
        self._unref(copy.source)

    def grow(self, seq_id: int, length: int) -> bool:
        """Make the table of `seq_id` cover `length` tokens; all or nothing (False: no room)."""
        table = self._tables[seq_id]
        needed = self.pages_for(length) - len(table.pages)
        if needed > self.available:
            return False
        for _ in range(needed):
            table.pages.append(self._allocate())
        return True

    def commit(self, seq_id: int, tokens: Sequence[int], computed: int) -> None:
        """Cache the pages that `computed` tokens have filled (a page already cached is shared instead)."""
        table = self._tables[seq_id]
        for index in range(len(table.nodes), computed // self.page_size):
            self._cache_page(table, index, tuple(tokens[index * self.page_size : (index + 1) * self.page_size]))

    def close(self, seq_id: int, tokens: Sequence[int] = (), computed: int = 0) -> None:
        """Drop the table of `seq_id`; its computed tokens stay cached (`computed=0` caches nothing new)."""
        table = self._tables[seq_id]
        if computed:
            self.commit(seq_id, tokens, computed)
            tail = computed % self.page_size
            index = computed // self.page_size
            if tail and index < len(table.pages) and len(table.nodes) == index:
                self._cache_page(table, index, tuple(tokens[index * self.page_size : computed]))
        del self._tables[seq_id]
        for page in table.pages:
            self._unref(page)

    def table(self, seq_id: int) -> list[int]:
        return self._tables[seq_id].pages

    def has_table(self, seq_id: int) -> bool:
        return seq_id in self._tables

    # -- internals --------------------------------------------------------------------------------
    def _cache_page(self, table: _Table, index: int, tokens: tuple[int, ...]) -> None:
        parent = table.nodes[index - 1] if index else None
        page = table.pages[index]
        existing = self.tree.child(parent, tokens)
        if existing is not None:  # computed twice (two sequences raced): share the cached one
            if existing.page != page:
                self._ref(existing.page)
                table.pages[index] = existing.page
                self._unref(page)
            node = existing
        else:
            node = self.tree.insert(parent, tokens, page)
            self._node_of[page] = node
        table.nodes.append(node)

    def _allocate(self) -> int:
        if not self._free:
            node = self.tree.evict_lru(lambda page: self.refs[page] == 0)
            if node is None:
                raise OutOfPages("no free KV page left")
            del self._node_of[node.page]
            self._evictable -= 1
            self.evictions += 1
            self._free.append(node.page)
        page = self._free.pop()
        self.refs[page] = 1
        return page

    def _ref(self, page: int) -> None:
        if self.refs[page] == 0:
            if page not in self._node_of:
                raise AssertionError(f"page {page} is free; it cannot be shared")
            self._evictable -= 1
        self.refs[page] += 1

    def _unref(self, page: int) -> None:
        if self.refs[page] <= 0:
            raise AssertionError(f"page {page} released more often than taken")
        self.refs[page] -= 1
        if self.refs[page] == 0:
            node = self._node_of.get(page)
            if node is None:
                self._free.append(page)
            else:
                self._evictable += 1
                self.tree.offer_for_eviction(node)

    def check(self) -> None:
        """Assert the invariants (for tests): every page in exactly one state, counts balanced."""
        counted = [0] * self.num_pages
        for table in self._tables.values():
            for page in table.pages:
                counted[page] += 1
        for page, pins in self._pinned.items():
            counted[page] += pins
        for page in range(self.num_pages):
            assert counted[page] == self.refs[page], f"page {page}: {counted[page]} holders, {self.refs[page]} refs"
        assert len(set(self._free)) == len(self._free), "a page is free twice"
        for page in self._free:
            assert self.refs[page] == 0 and page not in self._node_of, f"free page {page} is in use"
        tree_pages = [node.page for node in self.tree.nodes()]
        assert len(set(tree_pages)) == len(tree_pages), "a page is cached twice"
        assert set(tree_pages) == set(self._node_of), "the page index disagrees with the tree"
        assert len(tree_pages) == self.tree.size
        unreferenced_cached = sum(1 for page in tree_pages if self.refs[page] == 0)
        assert unreferenced_cached == self._evictable, f"{unreferenced_cached} evictable, counted {self._evictable}"
        accounted = set(self._free) | set(tree_pages) | {p for p in range(self.num_pages) if self.refs[p] > 0}
        assert accounted == set(range(self.num_pages)), f"pages leaked: {sorted(set(range(self.num_pages)) - accounted)}"
        for table in self._tables.values():
            for node, page in zip(table.nodes, table.pages, strict=False):
                assert node.in_tree and node.page == page, "a table's cached page left the cache"
