"""Anything a stranger's fork can put in an org folder gives a clear error, never a traceback or a hang."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgruntime import OrgLoadError, check_org, load_org, save_org
from tests.orgruntime.test_validation import write_tree
from tests.orgruntime.validation_cases import base

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def problems_of(root: Path) -> list[str]:
    started = time.monotonic()
    _, problems = check_org(root)
    assert time.monotonic() - started < 5, "validation must not hang"
    return [str(p) for p in problems]


def test_a_ten_megabyte_prompt_is_refused_without_reading_it_all(tmp_path):
    root = write_tree(tmp_path, base())
    (root / "agents" / "dev.md").write_text("---\nname: Dev\n---\n" + "word " * 2_100_000)
    assert problems_of(root) == ["agents/dev.md:1:1: error: dev.md is too large (10.0 MB; the limit is 1.0 MB)"]


def test_a_yaml_alias_bomb_is_refused_at_the_first_anchor(tmp_path):
    root = write_tree(tmp_path, base(org_yaml="name: Bomb\nentry: ceo\n" + BILLION_LAUGHS))
    assert problems_of(root) == ["org.yaml:3:4: error: anchors and aliases (&name) are not allowed in org files"]


def test_deep_nesting_is_refused(tmp_path):
    root = write_tree(tmp_path, base(org_yaml="name: Deep\nentry: ceo\ndescription: " + "[" * 100_000 + "]" * 100_000 + "\n"))
    (problem,) = problems_of(root)
    assert problem.startswith("org.yaml:3:") and "nesting" in problem


def test_deep_block_nesting_is_refused(tmp_path):
    deep = "".join(f"{'  ' * level}k{level}:\n" for level in range(200))
    root = write_tree(tmp_path, base(org_yaml="name: Deep\nentry: ceo\nbudget:\n" + "".join("  " + line for line in deep.splitlines(True))))
    assert problems_of(root)[0].startswith("org.yaml:")
    assert "nesting deeper than 32 levels" in problems_of(root)[0]


def test_a_huge_integer_is_refused(tmp_path):
    root = write_tree(tmp_path, base(org_yaml="name: Big\nentry: ceo\nmax_concurrency: " + "9" * 5000 + "\n"))
    assert problems_of(root) == ["org.yaml:3:18: error: number too large"]


def test_a_symbolic_link_out_of_the_org_is_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    root = write_tree(tmp_path / "org", base(agents__dev_md=None))
    (root / "agents" / "dev.md").symlink_to(secret)
    assert problems_of(root) == ["agents/dev.md:1:1: error: dev.md is a symbolic link; org files must be regular files"]


def test_a_fifo_does_not_block_reading(tmp_path):
    root = write_tree(tmp_path, base(agents__dev_md=None))
    os.mkfifo(root / "agents" / "dev.md")
    assert problems_of(root) == ["agents/dev.md:1:1: error: dev.md is not a regular file"]


def test_an_org_yaml_that_is_a_folder(tmp_path):
    root = write_tree(tmp_path, base(org_yaml=None))
    (root / "org.yaml").mkdir()
    assert problems_of(root) == ["org.yaml:1:1: error: org.yaml is not a regular file"]


def test_a_missing_org_yaml(tmp_path):
    root = write_tree(tmp_path, base(org_yaml=None))
    assert problems_of(root) == ["org.yaml:1:1: error: org.yaml file not found"]


def test_a_path_that_is_not_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OrgLoadError, match="is not a folder"):
        load_org(tmp_path / "file")


def test_an_org_with_blocking_problems_is_never_saved_over(tmp_path):
    root = write_tree(tmp_path, base(agents__dev_md="---\nname: Dev\ntemperature: hot\n---\nYou build.\n"))
    with pytest.raises(OrgLoadError):
        load_org(root)
    assert (root / "agents" / "dev.md").read_text() == "---\nname: Dev\ntemperature: hot\n---\nYou build.\n"


def test_saving_refuses_to_write_through_a_symbolic_link(tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("keep me")
    org = load_org(write_tree(tmp_path / "org", base()))
    (tmp_path / "org" / "agents" / "dev.md").unlink()
    (tmp_path / "org" / "agents" / "dev.md").symlink_to(outside)
    from orgruntime import OrgSaveError

    with pytest.raises(OrgSaveError, match="symbolic link"):
        save_org(org, tmp_path / "org")
    assert outside.read_text() == "keep me"


@settings(max_examples=150)
@given(st.binary(max_size=400))
def test_random_bytes_as_org_yaml_give_diagnostics_not_exceptions(tmp_path_factory, data):
    root = write_tree(tmp_path_factory.mktemp("fuzz"), base(org_yaml=data))
    for line in problems_of(root):
        assert line.startswith(("org.yaml:", "agents/")), line


@settings(max_examples=150)
@given(st.text(max_size=300))
def test_random_text_as_an_agent_file_gives_diagnostics_not_exceptions(tmp_path_factory, text):
    root = write_tree(tmp_path_factory.mktemp("fuzz"), base(agents__dev_md="---\n" + text))
    for line in problems_of(root):
        assert line.startswith(("org.yaml:", "agents/")), line


@settings(max_examples=100)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20))
def test_any_yaml_value_in_any_org_field_gives_diagnostics(tmp_path_factory, value):
    import json

    for key in ("name", "entry", "defaults", "budget", "channels", "max_concurrency"):
        root = write_tree(tmp_path_factory.mktemp("fuzz"), base(org_yaml=f"name: X\nentry: ceo\n{key}: {json.dumps(value)}\n".replace("name: X\nentry: ceo\nname:", "entry: ceo\nname:").replace("entry: ceo\nentry:", "name: X\nentry:") if key in ("name", "entry") else f"name: X\nentry: ceo\n{key}: {json.dumps(value)}\n"))
        problems_of(root)
