"""Graph queries over an org, as free functions. networkx works inside; it never shows in a signature."""

from __future__ import annotations

from collections import deque
from itertools import islice

import networkx as nx

from orgruntime._model import ChannelKind, Org


def _contact_graph(org: Org) -> nx.DiGraph:
    """Edge a -> b: a may start a conversation with b. Built once per org value."""
    graph = org._cache.get("contact_graph")
    if graph is None:
        graph = nx.DiGraph()
        graph.add_nodes_from(org.agent_ids)
        for channel in org.channels:
            if org.has_agent(channel.source) and org.has_agent(channel.target) and channel.source != channel.target:
                graph.add_edge(channel.source, channel.target)
                if channel.kind is ChannelKind.PEERS:
                    graph.add_edge(channel.target, channel.source)
        org._cache["contact_graph"] = graph
    return graph


def contacts(org: Org, agent_id: str) -> tuple[str, ...]:
    """Agents that `agent_id` may start a conversation with, in id order."""
    graph = _contact_graph(org)
    if agent_id not in graph:
        return ()
    return tuple(sorted(graph.successors(agent_id)))


def may_message(org: Org, sender: str, recipient: str) -> bool:
    """Whether a channel lets `sender` start a conversation with `recipient`."""
    graph = _contact_graph(org)
    return graph.has_edge(sender, recipient)


def reachable_from_entry(org: Org) -> frozenset[str]:
    """Agents a task can ever reach: the entry and everyone it can reach along channels."""
    graph = _contact_graph(org)
    if org.entry not in graph:
        return frozenset()
    return frozenset(nx.descendants(graph, org.entry) | {org.entry})


def unreachable_agents(org: Org) -> tuple[str, ...]:
    reachable = reachable_from_entry(org)
    return tuple(agent_id for agent_id in org.agent_ids if agent_id not in reachable)


def cycles(org: Org, *, limit: int = 100) -> tuple[tuple[str, ...], ...]:
    """Up to `limit` simple cycles of conversation starts, peers' two-way links left out."""
    graph = nx.DiGraph()
    graph.add_nodes_from(org.agent_ids)
    graph.add_edges_from(
        (c.source, c.target)
        for c in org.channels
        if c.kind is not ChannelKind.PEERS and org.has_agent(c.source) and org.has_agent(c.target)
    )
    return tuple(tuple(cycle) for cycle in islice(nx.simple_cycles(graph), limit))


def hierarchy_layers(org: Org) -> tuple[tuple[str, ...], ...]:
    """Agents in levels for a top-to-bottom layout: the entry on top, each report below its lead.

    `delegates` and `reviews` point down, `reports` points up, `peers` stay level. Edges that
    would close a cycle are ignored (they point back up). Agents not connected to the entry
    follow in layers of their own, component by component.
    """
    down = nx.DiGraph()
    down.add_nodes_from(org.agent_ids)
    for channel in org.channels:
        if not (org.has_agent(channel.source) and org.has_agent(channel.target)) or channel.source == channel.target:
            continue
        if channel.kind is ChannelKind.REPORTS:
            down.add_edge(channel.target, channel.source)
        elif channel.kind is not ChannelKind.PEERS:
            down.add_edge(channel.source, channel.target)
    roots = [org.entry] if org.entry in down else []
    order = _discovery_order(down, roots)
    acyclic = _without_back_edges(down, order)
    level: dict[str, int] = {}
    for node in nx.topological_sort(acyclic):
        level[node] = max((level[p] + 1 for p in acyclic.predecessors(node)), default=0)
    _level_peers(org, acyclic, level)
    layers: dict[int, list[str]] = {}
    for node in order:
        layers.setdefault(level[node], []).append(node)
    return tuple(tuple(layers[index]) for index in sorted(layers))


def _level_peers(org: Org, acyclic: nx.DiGraph, level: dict[str, int]) -> None:
    """An agent placed only by a peers channel sits on its peer's level."""
    free = {node for node in acyclic if acyclic.in_degree(node) == 0 and acyclic.out_degree(node) == 0}
    for _ in range(len(free)):
        moved = False
        for channel in org.channels:
            if channel.kind is not ChannelKind.PEERS or channel.source not in level or channel.target not in level:
                continue
            for node, peer in ((channel.source, channel.target), (channel.target, channel.source)):
                if node in free and peer not in free and level[node] != level[peer]:
                    level[node] = level[peer]
                    free.discard(node)
                    moved = True
        if not moved:
            return


def _discovery_order(graph: nx.DiGraph, roots: list[str]) -> list[str]:
    """Breadth-first from the roots, then from each remaining source, then from anything left."""
    seen: set[str] = set()
    order: list[str] = []
    candidates = roots + sorted(n for n in graph if graph.in_degree(n) == 0) + sorted(graph)
    for start in candidates:
        if start in seen:
            continue
        seen.add(start)
        queue = deque([start])
        while queue:
            node = queue.popleft()
            order.append(node)
            for successor in sorted(graph.successors(node)):
                if successor not in seen:
                    seen.add(successor)
                    queue.append(successor)
    return order


def _without_back_edges(graph: nx.DiGraph, order: list[str]) -> nx.DiGraph:
    """The graph less the edges that close a cycle in a depth-first walk started in `order`."""
    on_path: set[str] = set()
    done: set[str] = set()
    back_edges: set[tuple[str, str]] = set()
    for start in order:
        if start in done:
            continue
        on_path.add(start)
        stack = [(start, iter(sorted(graph.successors(start))))]
        while stack:
            node, successors = stack[-1]
            successor = next(successors, None)
            if successor is None:
                stack.pop()
                on_path.discard(node)
                done.add(node)
            elif successor in on_path:
                back_edges.add((node, successor))
            elif successor not in done:
                on_path.add(successor)
                stack.append((successor, iter(sorted(graph.successors(successor)))))
    acyclic = nx.DiGraph()
    acyclic.add_nodes_from(graph)
    acyclic.add_edges_from(edge for edge in graph.edges if edge not in back_edges)
    return acyclic
