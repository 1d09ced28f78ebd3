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
    key_marks: dict[Path, Mark] = field(default_factory=dict)
    value_marks: dict[Path, Mark] = field(default_factory=dict)

    def key_mark(self, path: Path) -> Mark:
        return self.key_marks.get(path) or self.value_mark(path[:-1])

    def value_mark(self, path: Path) -> Mark:
        while path not in self.value_marks and path:
            path = path[:-1]
        return self.value_marks.get(path, Mark(1, 1))


class _Frame:
    __slots__ = ("container", "path", "key", "key_mark")

    def __init__(self, container: dict | list, path: Path) -> None:
        self.container = container
        self.path = path
        self.key: object = _NO_KEY
        self.key_mark: Mark | None = None


_NO_KEY = object()


def parse_yaml(text: str, *, first_line: int = 1, max_depth: int = MAX_DEPTH) -> YamlDocument:
    """Parse one YAML document; raise YamlProblem (with a 1-based position) for anything unsafe or malformed."""
    offset = first_line - 1
    document = YamlDocument(data=None)
    stack: list[_Frame] = []
    documents = 0

    def mark_of(event_mark) -> Mark:
        return Mark(event_mark.line + 1 + offset, event_mark.column + 1)

    def place(value: object, mark: Mark) -> Path | None:
        """Put a finished value where it belongs; return its path (None for a mapping key)."""
        if not stack:
            document.data = value
            document.value_marks[()] = mark
            return ()
        top = stack[-1]
        if isinstance(top.container, list):
            path = (*top.path, len(top.container))
            top.container.append(value)
        elif top.key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise YamlProblem(mark, "a mapping key must be a plain value")
            if value in top.container:
                first = document.key_marks.get((*top.path, value))
                where = f" (first at line {first.line})" if first else ""
                raise YamlProblem(mark, f"duplicate key '{value}'{where}")
            top.key, top.key_mark = value, mark
            return None
        else:
            path = (*top.path, top.key)
            top.container[top.key] = value
            document.key_marks[path] = top.key_mark  # type: ignore[assignment]
            top.key = _NO_KEY
        document.value_marks[path] = mark
        return path

    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.ScalarEvent):
                mark = mark_of(event.start_mark)
                place(_scalar(event, mark), mark)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                mark = mark_of(event.start_mark)
                _check_collection_tag(event, mark)
                if len(stack) >= max_depth:
                    raise YamlProblem(mark, f"nesting deeper than {max_depth} levels")
                container: dict | list = {} if isinstance(event, yaml.MappingStartEvent) else []
                path = place(container, mark)
                if path is None:
                    raise YamlProblem(mark, "a mapping key must be a plain value")
                stack.append(_Frame(container, path))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
            elif isinstance(event, yaml.AliasEvent):
                raise YamlProblem(mark_of(event.start_mark), "anchors and aliases (*name) are not allowed in org files")
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlProblem(mark_of(event.start_mark), "only one YAML document is allowed here")
    except yaml.MarkedYAMLError as problem:
        raise _from_yaml_error(problem, offset) from None
    except yaml.reader.ReaderError as problem:
        character = problem.character
        code = character if isinstance(character, int) else ord(character[:1] or "\0")
        mark = _mark_at(text, problem.position, offset)
        raise YamlProblem(mark, f"the character U+{code:04X} is not allowed in YAML") from None
    except yaml.YAMLError as problem:
        raise YamlProblem(Mark(first_line, 1), f"YAML error: {problem}") from None
    return document


def _scalar(event: yaml.ScalarEvent, mark: Mark) -> object:
    value: str = event.value
    if event.anchor is not None:
        raise YamlProblem(mark, "anchors and aliases (&name) are not allowed in org files")
    tag = event.tag
    if tag in (None, "!"):
        return resolve_plain(value, mark) if event.implicit[0] and event.style in (None, "") else value
    name = tag[len(_CORE_TAG):] if tag.startswith(_CORE_TAG) else None
    if name == "str":
        return value
    wanted = _SCALAR_TAGS.get(name or "")
    if wanted is None:
        raise YamlProblem(mark, f"the tag {_short_tag(tag)} is not allowed in org files")
    resolved = resolve_plain(value, mark)
    if wanted is float and type(resolved) is int:
        return float(resolved)
    if type(resolved) is not wanted:
        raise YamlProblem(mark, f"'{value}' is not a valid {_short_tag(tag)}")
    return resolved


def resolve_plain(value: str, mark: Mark) -> object:
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
        raise YamlProblem(mark, "number too large") from None
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


def _check_collection_tag(event, mark: Mark) -> None:
    if event.anchor is not None:
        raise YamlProblem(mark, "anchors and aliases (&name) are not allowed in org files")
    if event.tag not in (None, "!", _CORE_TAG + "map", _CORE_TAG + "seq"):
        raise YamlProblem(mark, f"the tag {_short_tag(event.tag)} is not allowed in org files")


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
