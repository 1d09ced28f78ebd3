"""Reading YAML safely, with the source position of every key and value.

Org files come from strangers' forks, so the reader is strict: one document, no anchors or
aliases (no "billion laughs"), no tags beyond the core schema, bounded nesting, and YAML 1.2
core-schema scalars (so `yes` and `no` stay strings, as they do for the round-trip writer).
The C parser (libyaml) does the scanning; this module builds the data from its events without
recursion, so nothing here can exhaust the stack.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 32

_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
_CORE_TAG = "tag:yaml.org,2002:"

Path = tuple[object, ...]


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


class YamlProblem(Exception):
    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


@dataclass
class YamlDocument:
    """Parsed data plus where each key and value starts in the text."""

    data: object
    # raw (0-based line, 0-based column) as the parser gave them; see key_mark / value_mark
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    value_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    line_offset: int = 0

    def key_mark(self, path: Path) -> Mark:
        position = self.key_positions.get(path)
        return self._mark(position) if position else self.value_mark(path[:-1])

    def value_mark(self, path: Path) -> Mark:
        while path not in self.value_positions and path:
            path = path[:-1]
        position = self.value_positions.get(path)
        return self._mark(position) if position else Mark(1 + self.line_offset, 1)

    def _mark(self, position: tuple[int, int]) -> Mark:
        return Mark(position[0] + 1 + self.line_offset, position[1] + 1)


_NO_KEY = object()
_SCALAR, _MAP_START, _SEQ_START = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
_MAP_END, _SEQ_END, _STREAM_END = yaml.MappingEndEvent, yaml.SequenceEndEvent, yaml.StreamEndEvent


def parse_yaml(text: str, *, first_line: int = 1, max_depth: int = MAX_DEPTH) -> YamlDocument:
    """Parse one YAML document; raise YamlProblem (with a 1-based position) for anything unsafe or malformed."""
    offset = first_line - 1
    document = YamlDocument(data=None, line_offset=offset)
    keys, values = document.key_positions, document.value_positions
    # Each open collection: [container, its path, pending key, the pending key's position]
    stack: list[list] = []
    documents = 0
    parser = _Loader(text)

    def fail(position: tuple[int, int], message: str) -> YamlProblem:
        return YamlProblem(document._mark(position), message)

    try:
        while True:
            event = parser.get_event()
            kind = type(event)
            if kind is _STREAM_END:
                break
            if kind is _MAP_END or kind is _SEQ_END:
                stack.pop()
                continue
            if kind is _SCALAR:
                start = event.start_mark
                position = (start.line, start.column)
                value = _scalar(event, position, document)
            elif kind is _MAP_START or kind is _SEQ_START:
                start = event.start_mark
                position = (start.line, start.column)
                _check_collection_tag(event, position, document)
                if len(stack) >= max_depth:
                    raise fail(position, f"nesting deeper than {max_depth} levels")
                value = {} if kind is _MAP_START else []
            elif kind is yaml.AliasEvent:
                start = event.start_mark
                raise fail((start.line, start.column), "anchors and aliases (*name) are not allowed in org files")
            else:
                if kind is yaml.DocumentStartEvent:
                    documents += 1
                    if documents > 1:
                        start = event.start_mark
                        raise fail((start.line, start.column), "only one YAML document is allowed here")
                continue
            if not stack:
                document.data = value
                path: Path = ()
            else:
                top = stack[-1]
                container = top[0]
                if type(container) is list:
                    path = (*top[1], len(container))
                    container.append(value)
                elif top[2] is _NO_KEY:
                    if kind is not _SCALAR:
                        raise fail(position, "a mapping key must be a plain value")
                    if value in container:
                        first = keys.get((*top[1], value))
                        where = f" (first at line {document._mark(first).line})" if first else ""
                        raise fail(position, f"duplicate key '{value}'{where}")
                    top[2], top[3] = value, position
                    continue
                else:
                    path = (*top[1], top[2])
                    container[top[2]] = value
                    keys[path] = top[3]
                    top[2] = _NO_KEY
            values[path] = position
            if kind is not _SCALAR:
                stack.append([value, path, _NO_KEY, None])
    except yaml.MarkedYAMLError as problem:
        raise _from_yaml_error(problem, offset) from None
    except yaml.reader.ReaderError as problem:
        character = problem.character
        code = character if isinstance(character, int) else ord(character[:1] or "\0")
        mark = _mark_at(text, problem.position, offset)
        raise YamlProblem(mark, f"the character U+{code:04X} is not allowed in YAML") from None
    except yaml.YAMLError as problem:
        raise YamlProblem(Mark(first_line, 1), f"YAML error: {problem}") from None
    finally:
        parser.dispose()
    return document


def _scalar(event: yaml.ScalarEvent, position: tuple[int, int], document: YamlDocument) -> object:
    value: str = event.value
    tag = event.tag
    if tag is None and event.anchor is None:
        return resolve_plain(value, position, document) if event.implicit[0] else value
    mark = document._mark(position)
    if event.anchor is not None:
        raise YamlProblem(mark, "anchors and aliases (&name) are not allowed in org files")
    if tag == "!":
        return value
    name = tag[len(_CORE_TAG):] if tag.startswith(_CORE_TAG) else None
    if name == "str":
        return value
    wanted = _SCALAR_TAGS.get(name or "")
    if wanted is None:
        raise YamlProblem(mark, f"the tag {_short_tag(tag)} is not allowed in org files")
    resolved = resolve_plain(value, position, document)
    if wanted is float and type(resolved) is int:
        return float(resolved)
    if type(resolved) is not wanted:
        raise YamlProblem(mark, f"'{value}' is not a valid {_short_tag(tag)}")
    return resolved


_MAYBE_NOT_TEXT = frozenset("0123456789+-.~tTfFnN")


def resolve_plain(value: str, position: tuple[int, int] = (0, 0), document: YamlDocument | None = None) -> object:
    """A plain scalar under the YAML 1.2 core schema: null, bool, int, float or str."""
    if value and value[0] not in _MAYBE_NOT_TEXT:
        return value
    if _NULL.fullmatch(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    try:
        if _INT.fullmatch(value):
            return int(value)
        if _OCT.fullmatch(value):
            return int(value[2:], 8)
        if _HEX.fullmatch(value):
            return int(value[2:], 16)
    except ValueError:
        raise YamlProblem(document._mark(position) if document else Mark(1, 1), "number too large") from None
    if _FLOAT.fullmatch(value):
        return float(value)
    if _INF.fullmatch(value):
        return -math.inf if value.startswith("-") else math.inf
    if _NAN.fullmatch(value):
        return math.nan
    return value


_SCALAR_TAGS = {"int": int, "float": float, "bool": bool, "null": type(None)}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE_TAG):] if tag.startswith(_CORE_TAG) else tag


def _check_collection_tag(event, position: tuple[int, int], document: YamlDocument) -> None:
    if event.anchor is not None:
        raise YamlProblem(document._mark(position), "anchors and aliases (&name) are not allowed in org files")
    if event.tag not in (None, "!", _CORE_TAG + "map", _CORE_TAG + "seq"):
        raise YamlProblem(document._mark(position), f"the tag {_short_tag(event.tag)} is not allowed in org files")


def _mark_at(text: str, index: int, offset: int) -> Mark:
    line_start = text.rfind("\n", 0, index) + 1
    return Mark(text.count("\n", 0, index) + 1 + offset, index - line_start + 1)


def _from_yaml_error(problem: yaml.MarkedYAMLError, offset: int) -> YamlProblem:
    where = problem.problem_mark or problem.context_mark
    mark = Mark(where.line + 1 + offset, where.column + 1) if where else Mark(1 + offset, 1)
    text = problem.problem or problem.context or "malformed YAML"
    if problem.context and problem.problem:
        text = f"{problem.context}: {problem.problem}"
    return YamlProblem(mark, f"YAML syntax: {text}")
