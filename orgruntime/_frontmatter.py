"""Agent files: YAML front matter between two `---` lines, then the prompt in Markdown."""

from __future__ import annotations

import re
from dataclasses import dataclass

from orgruntime._files import FileProblem
from orgruntime._model import normalize_prompt

_DELIMITER = re.compile(r"(---|\.\.\.)[ \t]*\r?\n?")


@dataclass(frozen=True)
class FrontMatter:
    front_matter: str  # the YAML text between the delimiters
    front_matter_line: int  # 1-based line where that YAML starts
    body: str  # the prompt, normalised
    body_line: int  # 1-based line where the prompt starts (or would start)


def split_front_matter(text: str) -> FrontMatter | FileProblem:
    lines = text.splitlines(keepends=True)
    if not lines or not re.fullmatch(r"---[ \t]*\r?\n?", lines[0]):
        return FileProblem(1, 1, "missing front matter: an agent file starts with a '---' line, then YAML (name, role, ...), then '---', then the prompt")
    for index in range(1, len(lines)):
        if _DELIMITER.fullmatch(lines[index]):
            front = "".join(lines[1:index])
            body = "".join(lines[index + 1:])
            body_line = index + 2
            for line in lines[index + 1:]:
                if line.strip():
                    break
                body_line += 1
            return FrontMatter(front, 2, normalize_prompt(body), body_line)
    return FileProblem(1, 1, "the front matter is not closed: add a '---' line after it")


def join_front_matter(front_matter: str, prompt: str) -> str:
    """The text of an agent file; `front_matter` ends with a newline."""
    body = f"\n{prompt}\n" if prompt else ""
    return f"---\n{front_matter}---\n{body}"
