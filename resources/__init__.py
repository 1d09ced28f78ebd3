"""Static resources: org templates (examples), default prompts, icons and stylesheets."""

from importlib.resources import files
from importlib.resources.abc import Traversable


def templates_root() -> Traversable:
    return files(__name__) / "templates"


__all__ = ["templates_root"]
