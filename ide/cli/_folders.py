"""The folder argument most verbs take: checked once, with one message."""

from __future__ import annotations

import sys
from pathlib import Path


def existing_folder(path: str, verb: str) -> Path | None:
    """`path` as a Path when it is a folder; otherwise say so on stderr (as `orgide VERB`) and return None."""
    root = Path(path)
    if root.is_dir():
        return root
    print(f"orgide {verb}: {root} is not a folder", file=sys.stderr)
    return None
