"""HumanDesk: a human seat's question waits until a front end answers it by its id."""

from __future__ import annotations

import asyncio
from pathlib import Path

from orgruntime.run import NO_HUMAN_ANSWER, HumanDesk, HumanInputRequested, MessageSent, RunConfig, Runner
from tests.orgruntime.run.orgs import human_org, write_script

SCRIPT = {
    "agent": [{"send_message": {"to": "boss", "content": "May I ship?"}}, {"finish": {"result": "asked the boss"}}],
    "boss": [],
}


def run_with_desk(tmp_path: Path, act) -> tuple[HumanDesk, list, dict]:
    desk = HumanDesk()
    seen: dict = {}

    async def main():
        stream = Runner(RunConfig(human=desk)).stream(human_org(write_script(tmp_path, SCRIPT)), "ship it")
        events = []
        async for event in stream:
            events.append(event)
            if isinstance(event, HumanInputRequested):
                await act(desk, event, stream, seen)
        return events

    return desk, asyncio.run(main()), seen


def test_an_answer_given_later_reaches_the_agent(tmp_path: Path) -> None:
    async def act(desk, event, stream, seen):
        seen["waiting"] = desk.questions
        await asyncio.sleep(0.2)  # a person takes their time; the run waits
        seen["unknown"] = desk.respond("nope/m9", "hi")
        seen["first"] = desk.respond(event.question_id, "Yes, ship it")
        seen["again"] = desk.respond(event.question_id, "twice")

    desk, events, seen = run_with_desk(tmp_path, act)
    asked = next(event for event in events if isinstance(event, HumanInputRequested))
    assert seen["waiting"] == (asked,) and "May I ship?" in asked.question
    assert asked.question_id == f"{asked.run_id}/{asked.message_id}"
    assert (seen["unknown"], seen["first"], seen["again"]) == (False, True, False)
    replies = [(e.sender, e.recipient, e.content) for e in events if isinstance(e, MessageSent) and e.sender == "boss"]
    assert replies == [("boss", "agent", "Yes, ship it")]
    assert events[-1].status == "completed" and desk.questions == ()


def test_a_declined_question_tells_the_agent_nobody_is_there(tmp_path: Path) -> None:
    async def act(desk, event, stream, seen):
        assert desk.decline(event.question_id)

    _, events, _ = run_with_desk(tmp_path, act)
    replies = [e.content for e in events if isinstance(e, MessageSent) and e.sender == "boss"]
    assert replies == [NO_HUMAN_ANSWER]


def test_stopping_the_run_withdraws_its_question(tmp_path: Path) -> None:
    async def act(desk, event, stream, seen):
        stream.stop()
        await asyncio.sleep(0.1)
        seen["after_stop"] = desk.questions
        seen["late"] = desk.respond(event.question_id, "too late")

    _, events, seen = run_with_desk(tmp_path, act)
    assert events[-1].status == "stopped"
    assert seen["after_stop"] == () and seen["late"] is False
