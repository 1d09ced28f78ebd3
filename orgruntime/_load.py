"""Loading an org folder into the model."""

from __future__ import annotations

import os
from pathlib import Path

from orgruntime._errors import OrgLoadError
from orgruntime._model import Org
from orgruntime._read import read_org_folder


def load_org(path: str | os.PathLike[str]) -> Org:
    """The org in the folder `path`. Raises OrgLoadError (with every blocking problem) when the
    files cannot be read into a model; semantic problems do not stop loading (see `check_org`)."""
    result = read_org_folder(Path(path))
    if result.org is None:
        raise OrgLoadError(str(path), result.blocking or result.diagnostics)
    return result.org
