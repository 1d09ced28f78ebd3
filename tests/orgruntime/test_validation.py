"""Validation reports every problem at once, each with its exact file, line, column and message."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgruntime import OrgLoadError, check_org, load_org, template_names, validate_org
from tests.orgruntime.validation_cases import CASES

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def test_there_are_at_least_twenty_malformed_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_org_reports_exact_problems(tmp_path, name):
    files, expected = CASES[name]
    org, problems = check_org(write_tree(tmp_path, files))
    assert [str(problem) for problem in problems] == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_load_refuses_exactly_when_a_problem_blocks_the_model(tmp_path, name):
    files, _ = CASES[name]
    root = write_tree(tmp_path, files)
    org, problems = check_org(root)
    if org is None:
        with pytest.raises(OrgLoadError) as raised:
            load_org(root)
        assert raised.value.diagnostics
        assert all(str(d) in str(raised.value) for d in raised.value.diagnostics[:20])
    else:
        assert load_org(root) == org


def test_problems_of_several_files_are_reported_together(tmp_path):
    files, _ = CASES["unknown agent key with a suggestion"]
    files = {**files, "org.yaml": files["org.yaml"].replace("entry: ceo", "entry: boss")}
    _, problems = check_org(write_tree(tmp_path, files))
    assert [str(p) for p in problems] == [
        "agents/dev.md:3:1: error: unknown key 'temprature' (did you mean 'temperature'?)",
        "org.yaml:2:8: error: entry: unknown agent 'boss'",
    ]


@pytest.mark.parametrize("template", template_names())
def test_every_template_validates_without_any_problem(template):
    org, problems = check_org(TEMPLATES / template)
    assert org is not None
    assert [str(p) for p in problems] == []


def test_validating_an_edited_org_without_sources_names_the_right_files():
    org = load_org(TEMPLATES / "startup")
    broken = org.__class__(**{**{f: getattr(org, f) for f in ("name", "description", "defaults", "budget", "channels", "agents", "layout")}, "entry": "nobody"})
    assert [str(p) for p in validate_org(broken)] == ["org.yaml:1:1: error: entry: unknown agent 'nobody'"]


def test_a_problem_names_the_agent_whose_file_it_is_in(tmp_path):
    files, _ = CASES["unknown tool is a warning"]
    _, problems = check_org(write_tree(tmp_path, files))
    assert [p.agent_id for p in problems] == ["dev"]
    files, _ = CASES["entry names an unknown agent"]
    _, problems = check_org(write_tree(tmp_path / "b", files))
    assert [p.agent_id for p in problems] == [None]
