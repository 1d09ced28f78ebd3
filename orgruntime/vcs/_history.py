"""Orgs at revisions and the semantic diff between two revisions or a revision and the work tree."""

from __future__ import annotations

import os

from orgruntime._load import load_org
from orgruntime._model import Org
from orgruntime.vcs._diff import OrgDiff, diff_orgs
from orgruntime.vcs._repo import head_commit, repo_root, resolve_commit
from orgruntime.vcs._snapshot import EMPTY_ORG, org_at


def org_at_revision(path: str | os.PathLike[str], rev: str | None = None) -> Org:
    """The org as revision `rev` has it, or as the work tree has it when `rev` is None."""
    root = repo_root(path)
    if rev is None:
        return load_org(root)
    return org_at(root, resolve_commit(root, rev))


def diff_revisions(path: str | os.PathLike[str], rev_a: str | None = None, rev_b: str | None = None) -> OrgDiff:
    """Like `git diff`: no revision compares HEAD with the work tree, one compares it with the work tree,
    two compare the revisions. A repository with no commit yet compares an empty org with the work tree."""
    root = repo_root(path)
    if rev_a is None and head_commit(root) is None:
        return diff_orgs(EMPTY_ORG, load_org(root))
    old = org_at_revision(root, rev_a or "HEAD")
    new = org_at_revision(root, rev_b)
    return diff_orgs(old, new)
