"""The prefix cache: a radix tree over KV pages, token-granular, with LRU eviction of unused leaves.

Each node is one page and holds the tokens whose keys and values that page stores. A full node
(`page_size` tokens) may have children; a partial node (the tail of a finished sequence) is a
leaf. A lookup follows whole pages as far as they match, then takes the child sharing the longest
run of tokens: a match may end inside a page (the caller then copies that page's first tokens).
Torch-free; the page manager owns reference counts and asks the tree only about structure.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(eq=False)
class Node:
    tokens: tuple[int, ...]
    page: int
    parent: Node | None
    children: dict[tuple[int, ...], Node] = field(default_factory=dict)
    last_used: int = 0
    in_tree: bool = True


@dataclass(frozen=True)
class Match:
    """What a lookup found: whole pages (`nodes`), then maybe the first `partial_tokens` of `partial`."""

    nodes: tuple[Node, ...]
    partial: Node | None
    partial_tokens: int
    page_size: int

    @property
    def tokens(self) -> int:
        return len(self.nodes) * self.page_size + self.partial_tokens


class PrefixTree:
    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.root = Node((), -1, None)
        self.clock = itertools.count(1)
        self._lru: list[tuple[int, int, Node]] = []  # (last_used, tiebreak, node), stale entries skipped
        self._tiebreak = itertools.count()
        self.size = 0  # nodes (pages) in the tree

    def match(self, tokens: Sequence[int], limit: int) -> Match:
        """The longest cached prefix of `tokens[:limit]` (no side effects)."""
        size = self.page_size
        node, position, nodes = self.root, 0, []
        while position + size <= limit:
            child = node.children.get(tuple(tokens[position : position + size]))
            if child is None:
                break
            nodes.append(child)
            node, position = child, position + size
        rest = tokens[position : min(position + size, limit)]
        best, best_length = None, 0
        if rest:
            for child in node.children.values():
                length = _common_prefix(child.tokens, rest)
                if length > best_length:
                    best, best_length = child, length
        return Match(tuple(nodes), best, best_length, size)

    def touch(self, nodes: Sequence[Node]) -> None:
        now = next(self.clock)
        for node in nodes:
            node.last_used = now

    def child(self, parent: Node | None, tokens: tuple[int, ...]) -> Node | None:
        return (parent or self.root).children.get(tokens)

    def insert(self, parent: Node | None, tokens: tuple[int, ...], page: int) -> Node:
        parent = parent or self.root
        if parent is not self.root and len(parent.tokens) != self.page_size:
            raise ValueError("only a full page can have children")
        if tokens in parent.children:
            raise ValueError("those tokens are cached already")
        node = Node(tokens, page, parent, last_used=next(self.clock))
        parent.children[tokens] = node
        self.size += 1
        return node

    def offer_for_eviction(self, node: Node) -> None:
        """Note that `node` may now be evictable (its page unreferenced); checked again when popped."""
        if node.in_tree and not node.children:
            heapq.heappush(self._lru, (node.last_used, next(self._tiebreak), node))

    def evict_lru(self, is_unreferenced: callable) -> Node | None:  # type: ignore[valid-type]
        """Remove and return the least recently used leaf whose page nobody references, if any."""
        while self._lru:
            stamp, _, node = heapq.heappop(self._lru)
            if not node.in_tree or node.children or stamp != node.last_used or not is_unreferenced(node.page):
                continue
            self._remove(node)
            parent = node.parent
            if parent is not None and parent is not self.root and not parent.children and is_unreferenced(parent.page):
                self.offer_for_eviction(parent)
            return node
        return None

    def _remove(self, node: Node) -> None:
        assert node.parent is not None
        del node.parent.children[node.tokens]
        node.in_tree = False
        self.size -= 1

    def nodes(self) -> list[Node]:
        found, stack = [], list(self.root.children.values())
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(node.children.values())
        return found


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count
