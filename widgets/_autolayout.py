"""Hierarchical auto-layout: layers from the entry agent down, order within layers by barycenter sweeps.

Pure functions over the core model (no Qt): the editor turns the result into one MoveNodes edit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict

from orgruntime import Org, Point, hierarchy_layers

from widgets._geometry import COMPONENT_GAP, HORIZONTAL_SPACING, MIN_GAP, VERTICAL_SPACING, overlaps

_SWEEPS = 12


def auto_layout(org: Org) -> dict[str, Point]:
    """A position for every agent: the entry's part on the left, other disconnected parts beside it."""
    level = {agent_id: index for index, layer in enumerate(hierarchy_layers(org)) for agent_id in layer}
    discovery = [agent_id for layer in hierarchy_layers(org) for agent_id in layer]
    neighbours = _neighbours(org)
    positions: dict[str, Point] = {}
    left = 0.0
    for component in _components(discovery, neighbours):
        layers = _layers_of(component, level)
        layers = _reduce_crossings(layers, neighbours)
        width = max(len(layer) for layer in layers) * HORIZONTAL_SPACING
        for depth, layer in enumerate(layers):
            first_x = left + (width - len(layer) * HORIZONTAL_SPACING) / 2 + HORIZONTAL_SPACING / 2
            for index, agent_id in enumerate(layer):
                positions[agent_id] = Point(first_x + index * HORIZONTAL_SPACING, depth * VERTICAL_SPACING)
        left += width + COMPONENT_GAP
    return _centred_on_entry(org, positions)


def count_crossings(layers: list[list[str]], neighbours: dict[str, set[str]]) -> int:
    """Crossings between edges of adjacent layers (edges that skip layers are not counted)."""
    total = 0
    for upper, lower in zip(layers, layers[1:]):
        lower_index = {agent_id: i for i, agent_id in enumerate(lower)}
        ends = [lower_index[n] for agent_id in upper for n in sorted(neighbours[agent_id], key=lambda n: lower_index.get(n, -1))
                if n in lower_index]
        total += _inversions(ends)
    return total


def free_position(occupied: list[tuple[float, float]], near: tuple[float, float]) -> Point:
    """The point nearest `near` (on a spiral of node-sized steps) where a new node overlaps nobody."""
    step_x, step_y = HORIZONTAL_SPACING / 2, VERTICAL_SPACING / 2
    close = [p for p in occupied if abs(p[0] - near[0]) < 4000 and abs(p[1] - near[1]) < 4000]
    for ring in range(0, 200):
        candidates = [(dx, dy) for dx in range(-ring, ring + 1) for dy in range(-ring, ring + 1)
                      if max(abs(dx), abs(dy)) == ring]
        candidates.sort(key=lambda d: (d[0] * step_x) ** 2 + (d[1] * step_y) ** 2)
        for dx, dy in candidates:
            spot = (near[0] + dx * step_x, near[1] + dy * step_y)
            if not any(overlaps(spot, other, gap=MIN_GAP) for other in close):
                return Point(spot[0], spot[1])
    lowest = max((p[1] for p in occupied), default=near[1])
    return Point(near[0], lowest + VERTICAL_SPACING)


def _neighbours(org: Org) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {agent_id: set() for agent_id in org.agent_ids}
    for channel in org.channels:
        if channel.source in result and channel.target in result and channel.source != channel.target:
            result[channel.source].add(channel.target)
            result[channel.target].add(channel.source)
    return result


def _components(order: list[str], neighbours: dict[str, set[str]]) -> list[list[str]]:
    """Connected parts, each listed in `order`; the part of the first agent (the entry) first."""
    component_of: dict[str, int] = {}
    count = 0
    for start in order:
        if start in component_of:
            continue
        stack = [start]
        component_of[start] = count
        while stack:
            node = stack.pop()
            for other in neighbours[node]:
                if other not in component_of:
                    component_of[other] = count
                    stack.append(other)
        count += 1
    parts: list[list[str]] = [[] for _ in range(count)]
    for agent_id in order:
        parts[component_of[agent_id]].append(agent_id)
    return parts


def _layers_of(component: list[str], level: dict[str, int]) -> list[list[str]]:
    by_level: dict[int, list[str]] = defaultdict(list)
    for agent_id in component:
        by_level[level[agent_id]].append(agent_id)
    return [by_level[index] for index in sorted(by_level)]


def _reduce_crossings(layers: list[list[str]], neighbours: dict[str, set[str]]) -> list[list[str]]:
    """Barycenter sweeps down and up; keeps the best order seen."""
    best = [list(layer) for layer in layers]
    if len(layers) < 2:
        return best
    best_crossings = count_crossings(best, neighbours)
    current = [list(layer) for layer in layers]
    for sweep in range(_SWEEPS):
        indices = range(1, len(current)) if sweep % 2 == 0 else range(len(current) - 2, -1, -1)
        for i in indices:
            fixed = current[i - 1] if sweep % 2 == 0 else current[i + 1]
            current[i] = _by_barycenter(current[i], fixed, neighbours)
        crossings = count_crossings(current, neighbours)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in current], crossings
        if best_crossings == 0:
            break
    return best


def _by_barycenter(layer: list[str], fixed: list[str], neighbours: dict[str, set[str]]) -> list[str]:
    position = {agent_id: i for i, agent_id in enumerate(fixed)}
    keys: dict[str, float] = {}
    for index, agent_id in enumerate(layer):
        linked = [position[n] for n in neighbours[agent_id] if n in position]
        keys[agent_id] = sum(linked) / len(linked) if linked else float(index) * len(fixed) / max(len(layer), 1)
    return sorted(layer, key=lambda agent_id: keys[agent_id])


def _inversions(values: list[int]) -> int:
    seen: list[int] = []
    count = 0
    for value in values:
        index = bisect_right(seen, value)
        count += len(seen) - index
        seen.insert(index, value)
    return count


def _centred_on_entry(org: Org, positions: dict[str, Point]) -> dict[str, Point]:
    anchor = positions.get(org.entry) or next(iter(positions.values()), None)
    if anchor is None:
        return positions
    return {agent_id: Point(round(p.x - anchor.x, 1), round(p.y - anchor.y, 1)) for agent_id, p in positions.items()}
