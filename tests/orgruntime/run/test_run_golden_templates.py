"""Scripted runs of every template, each transcript checked against its golden file.

Set ORGIDE_UPDATE_GOLDEN=1 to rewrite the expected transcripts after an intended change."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from orgruntime import create_org, load_org, template_names
from orgruntime.run import FixedAnswers, RunConfig, Runner, render_transcript

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "runs"


def test_every_template_has_a_golden_run() -> None:
    assert sorted(template_names()) == sorted(path.name for path in GOLDEN.iterdir() if path.is_dir())


@pytest.mark.parametrize("template", sorted(path.name for path in GOLDEN.iterdir() if path.is_dir()))
def test_scripted_run_of_template_matches_golden_transcript(tmp_path: Path, template: str) -> None:
    case = GOLDEN / template
    root = create_org(tmp_path / template, template, git=False)
    org = load_org(root)
    config = RunConfig(model=f"scripted/{case / 'script.yaml'}", human=FixedAnswers(["Approved: refund the double charge."]))

    async def main():
        stream = Runner(config).stream(org, (case / "task.txt").read_text().strip(), runs_dir=root / ".orgide" / "runs")
        return stream, [event async for event in stream]

    stream, events = asyncio.run(main())
    transcript = "\n".join(render_transcript(events)) + "\n"
    expected_path = case / "expected.txt"
    if os.environ.get("ORGIDE_UPDATE_GOLDEN") == "1":
        expected_path.write_text(transcript, encoding="utf-8")
    assert transcript == expected_path.read_text(encoding="utf-8")
    assert stream.outcome is not None and stream.outcome.status == "completed"
