"""Typed access to the values of one parsed YAML document: a wrong type is a blocking problem."""

from __future__ import annotations

import math
from typing import Protocol

from orgruntime._yamlsource import Mark, YamlDocument


class ProblemSink(Protocol):
    def block(self, file: str, mark: Mark, message: str) -> None: ...


class TypedValues:
    """Typed access to values of one YAML document; a wrong type is a blocking problem."""

    def __init__(self, reader: ProblemSink, file: str, document: YamlDocument) -> None:
        self.reader = reader
        self.file = file
        self.document = document

    def _get(self, path: tuple) -> object:
        node = self.document.data
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return None
        return node

    def _wrong(self, path: tuple, expected: str, value: object) -> None:
        mark = self.document.value_mark(path)
        self.reader.block(self.file, mark, f"{_key_name(path)} must be {expected}, not {describe(value)}")

    def _missing(self, path: tuple) -> None:
        mark = self.document.value_mark(path[:-1])
        self.reader.block(self.file, mark, f"missing required key '{path[-1]}'")

    def string(self, path: tuple, *, required: bool = False) -> str | None:
        value = self._get(path)
        if value is None:
            if required:
                self._missing(path)
            return None
        if isinstance(value, str):
            return value
        self._wrong(path, "a string", value)
        return None

    def integer(self, path: tuple) -> int | None:
        value = self._get(path)
        if value is None or type(value) is int:
            return value
        self._wrong(path, "a whole number", value)
        return None

    def number(self, path: tuple) -> float | None:
        value = self._get(path)
        if value is None:
            return None
        if type(value) in (int, float) and math.isfinite(value):
            return float(value) if type(value) is float else value
        self._wrong(path, "a finite number", value)
        return None

    def choice(self, path: tuple, enum: type, *, required: bool = False):
        value = self._get(path)
        if value is None:
            if required:
                self._missing(path)
            return None
        try:
            return enum(value)
        except ValueError:
            options = ", ".join(member.value for member in enum)
            self._wrong(path, f"one of {options}", value)
            return None

    def mapping(self, path: tuple) -> dict | None:
        value = self._get(path)
        if value is None or isinstance(value, dict):
            return value
        self._wrong(path, "a mapping", value)
        return None

    def sequence(self, path: tuple) -> list | None:
        value = self._get(path)
        if value is None or isinstance(value, list):
            return value
        self._wrong(path, "a list", value)
        return None


def _key_name(path: tuple) -> str:
    """`budget.max_steps` for nested settings; just the key inside lists such as channels."""
    if len(path) >= 2 and isinstance(path[-2], str):
        return f"{path[-2]}.{path[-1]}"
    return str(path[-1])


def is_finite_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def describe(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string '{shown}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
