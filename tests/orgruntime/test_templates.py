"""Templates make real org repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orgruntime import TemplateError, check_org, create_org, list_templates, load_org, template_names

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"


def test_there_are_at_least_three_templates_with_titles_and_descriptions():
    infos = list_templates()
    assert {"startup", "research-lab", "support-desk"} <= {info.name for info in infos}
    assert all(info.title and info.description for info in infos)


@pytest.mark.parametrize("template", template_names())
def test_a_new_org_is_a_clean_repository_with_one_commit(tmp_path, template):
    root = create_org(tmp_path / "org", template)
    log = subprocess.run(["git", "-C", str(root), "log", "--format=%s"], capture_output=True, text=True, check=True).stdout
    assert log.splitlines() == [f"Create the org from the '{template}' template"]
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--ignored"], capture_output=True, text=True, check=True).stdout
    assert status == ""
    assert (root / ".gitignore").read_text().splitlines()[-1] == ".orgide/runs/"
    org, problems = check_org(root)
    assert org is not None and problems == ()
    assert len(org.layout.positions) == len(org.agents)


def test_the_support_desk_has_a_human_seat():
    org = load_org(TEMPLATES / "support-desk")
    assert [a.id for a in org.agents if a.is_human] == ["supervisor"]


def test_an_unknown_template_is_refused_with_a_suggestion(tmp_path):
    with pytest.raises(TemplateError, match="unknown template 'startpu' \\(did you mean 'startup'\\?\\)"):
        create_org(tmp_path / "org", "startpu")
    assert not (tmp_path / "org").exists()


def test_a_folder_that_is_not_empty_is_never_touched(tmp_path):
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "notes.txt").write_text("mine")
    with pytest.raises(TemplateError, match="not an empty folder"):
        create_org(tmp_path / "org")
    assert [p.name for p in (tmp_path / "org").iterdir()] == ["notes.txt"]


def test_an_empty_folder_is_fine_and_without_git_no_repository_is_made(tmp_path):
    (tmp_path / "org").mkdir()
    root = create_org(tmp_path / "org", "research-lab", git=False)
    assert not (root / ".git").exists()
    assert load_org(root).name == "Research Lab"
