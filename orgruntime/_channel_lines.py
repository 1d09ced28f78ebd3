"""Rewriting org.yaml's channel list line by line.

An org can have thousands of channels, and the round-trip YAML writer re-reads and re-emits all
of them for any change. Channel lists are normally one flow mapping per line
(`  - {from: a, to: b, kind: delegates}`), so this module keeps the line of every channel that
stays (with its comment), writes a canonical line for each new one, and lets the round-trip
writer see the rest of the file without the list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from orgruntime._emit import scalar
from orgruntime._model import Channel, ChannelKind
from orgruntime._yamlsource import YamlProblem, parse_yaml

_KEY_LINE = re.compile(r"channels:[ \t]*(#.*)?\n?")
_ITEM_LINE = re.compile(r"([ \t]+- )\{.*\}[ \t]*(#.*)?\n?")
PLACEHOLDER = "channels: []\n"


def channel_line(prefix: str, channel: Channel) -> str:
    fields = f"from: {scalar(channel.source, flow=True)}, to: {scalar(channel.target, flow=True)}, kind: {channel.kind}"
    return f"{prefix}{{{fields}}}\n"


def split_channel_block(text: str) -> tuple[str, list[str], str] | None:
    """(text before, the block's lines, text after) when the block has one channel per line."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _KEY_LINE.fullmatch(line)), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (lines[end][:1] in (" ", "\t", "#", "\n", "\r") or not lines[end].strip()):
        end += 1
    block = lines[start:end]
    if not all(_ITEM_LINE.fullmatch(line) or not line.strip() or line.lstrip().startswith("#") for line in block[1:]):
        return None
    if not block[-1].endswith("\n"):
        block[-1] += "\n"
    return "".join(lines[:start]), block, "".join(lines[end:])


def rewrite_channel_block(block: list[str], wanted: Sequence[Channel], read: Callable[[str], Channel | None]) -> list[str]:
    """The block listing `wanted`, reusing the line of each channel that was already there."""
    existing: dict[Channel, list[str]] = {}
    prefix = "  - "
    for line in block[1:]:
        match = _ITEM_LINE.fullmatch(line)
        if match:
            prefix = match.group(1)
            channel = read(line)
            if channel is not None:
                existing.setdefault(channel, []).append(line)
    header = block[0] if block[0].strip() != "channels: []" else "channels:\n"
    if not wanted:
        return ["channels: []\n"]
    lines = [header]
    for channel in wanted:
        reused = existing.get(channel)
        lines.append(reused.pop(0) if reused else channel_line(prefix, channel))
    return lines


_CANONICAL_ITEM = re.compile(r"[ \t]+- \{from: ([a-z][a-z0-9_-]*), to: ([a-z][a-z0-9_-]*), kind: ([a-z]+)\}[ \t]*(#.*)?\n?")


def read_channel_line(line: str) -> Channel | None:
    """The channel one item line describes, or None if it is not a plain channel mapping."""
    match = _CANONICAL_ITEM.fullmatch(line)
    if match:
        data: object = {"from": match.group(1), "to": match.group(2), "kind": match.group(3)}
    else:
        try:
            data = parse_yaml(line.strip()[2:]).data
        except YamlProblem:
            return None
    if not isinstance(data, dict) or set(data) != {"from", "to", "kind"}:
        return None
    source, target, kind = data["from"], data["to"], data["kind"]
    if not (isinstance(source, str) and isinstance(target, str) and kind in set(ChannelKind)):
        return None
    return Channel(source=source, target=target, kind=ChannelKind(kind))
