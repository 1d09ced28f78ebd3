"""Editing existing YAML text in place: only what changed is rewritten; comments and key order stay.

Only text that the strict reader (`_yamlsource`) has already accepted comes here, so ruamel's
round-trip loader never sees aliases, custom tags or runaway nesting.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from orgruntime._emit import scalar

_KEY_LINE = re.compile(r"( *)[^\s#-][^:#]*:\s*(#.*)?$")


def update_yaml_text(text: str, desired: dict[str, object], known_keys: Sequence[str], *, flow_keys: Sequence[str] = ()) -> str:
    """`text` with the known keys set to `desired` (absent keys removed); unknown keys are kept."""
    yaml = _round_trip_yaml(text)
    document = yaml.load(text)
    if not isinstance(document, CommentedMap):
        document = CommentedMap()
    _merge_mapping(document, desired, known_keys, flow_keys)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _round_trip_yaml(text: str) -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 2**30
    yaml.allow_unicode = True
    _, sequence_indent, offset = load_yaml_guess_indent(text) if "- " in text else (None, None, None)
    mapping = _mapping_indent(text)
    if sequence_indent is None or offset is None:
        sequence_indent, offset = mapping + 2, mapping
    yaml.indent(mapping=mapping, sequence=max(sequence_indent, offset + 2), offset=offset)
    return yaml


def _mapping_indent(text: str) -> int:
    previous_indent = None
    for line in text.splitlines():
        match = _KEY_LINE.fullmatch(line)
        if match and previous_indent is not None and len(match.group(1)) > previous_indent:
            return len(match.group(1)) - previous_indent
        stripped = line.split("#", 1)[0].rstrip()
        previous_indent = len(line) - len(line.lstrip(" ")) if stripped.endswith(":") else None
    return 2


def _merge_mapping(node: CommentedMap, desired: dict[str, object], known_keys: Sequence[str], flow_keys: Sequence[str]) -> None:
    for key in known_keys:
        if key not in desired:
            if key in node:
                del node[key]
            continue
        wanted = desired[key]
        if key in node:
            current = node[key]
            if _plain(current) == wanted:
                continue
            if isinstance(current, CommentedMap) and isinstance(wanted, dict):
                _merge_mapping(current, wanted, list(dict.fromkeys([*current.keys(), *wanted.keys()])), ())
                continue
            if isinstance(current, CommentedSeq) and isinstance(wanted, list):
                _replace_items(current, wanted)
                continue
            node[key] = _styled(wanted, flow=key in flow_keys or _is_flow(current))
        else:
            node.insert(_insert_position(node, key, known_keys), key, _styled(wanted, flow=key in flow_keys))


def _replace_items(sequence: CommentedSeq, wanted: list) -> None:
    """Keep the items (and their comments) that stay; build only the new ones."""
    flow_items = bool(sequence) and _is_flow(sequence[0])
    available = list(sequence)
    items = []
    for value in wanted:
        match = next((item for item in available if _plain(item) == value), None)
        if match is not None:
            available.remove(match)
            items.append(match)
        else:
            items.append(_styled(value, flow=flow_items or isinstance(value, dict)))
    unchanged_prefix = 0
    while unchanged_prefix < min(len(items), len(sequence)) and items[unchanged_prefix] is sequence[unchanged_prefix]:
        unchanged_prefix += 1
    del sequence[unchanged_prefix:]
    sequence.extend(items[unchanged_prefix:])


def _insert_position(node: CommentedMap, key: str, known_keys: Sequence[str]) -> int:
    """Just after the nearest known key that precedes `key` in canonical order."""
    keys = list(node.keys())
    for earlier in reversed(known_keys[: list(known_keys).index(key)]):
        if earlier in node:
            return keys.index(earlier) + 1
    return 0


def _styled(value: object, *, flow: bool) -> object:
    if isinstance(value, dict):
        mapping = CommentedMap(value)
        if flow:
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(_styled(item, flow=True) for item in value)
        if flow:
            sequence.fa.set_flow_style()
        return sequence
    if isinstance(value, str) and scalar(value, flow=flow).startswith('"'):
        return DoubleQuotedScalarString(value)  # the form the canonical writer chooses
    return value


def _is_flow(node: object) -> bool:
    return isinstance(node, (CommentedMap, CommentedSeq)) and node.fa.flow_style()


def _plain(node: object) -> object:
    """ruamel's round-trip types as plain Python values, for comparison."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node
