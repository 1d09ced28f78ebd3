"""Writes the golden merge cases: `<case>/{base,ours,theirs,expected}` org folders and `<case>/case.json`.

Every expected org is written out by hand below, never computed by the merge under test. Run from the
repository root with `python tests/golden/merge/build_cases.py` after changing a case; review the diff.
`expected` is the merged org; where there are conflicts it is the provisional result (a field keeps ours,
a text takes ours' side of each overlapping hunk, an agent deleted on one side and changed or newly used
on the other is kept, a rename-rename keeps our id).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from orgruntime import Agent, AgentKind, Budget, Channel, ChannelKind, Layout, ModelDefaults, Org, Point, save_org  # noqa: E402

HERE = Path(__file__).resolve().parent
D, R, V, P = ChannelKind.DELEGATES, ChannelKind.REPORTS, ChannelKind.REVIEWS, ChannelKind.PEERS


def ch(source: str, target: str, kind: ChannelKind) -> Channel:
    return Channel(source=source, target=target, kind=kind)


ENGINEER_PROMPT = "\n".join([
    "You are the engineer of a small startup.",
    "Write the code the CEO asks for.",
    "Keep functions small.",
    "Test what you write.",
    "Report back when done.",
])
CEO = Agent(id="ceo", name="CEO", role="Runs the company", prompt="You run a small startup.\nDelegate the work.\nAnswer the user.")
ENGINEER = Agent(id="engineer", name="Engineer", role="Writes the code", model="openai/gpt-4o-mini",
                 tools=("read_file", "write_file"), budget=Budget(max_steps=10), prompt=ENGINEER_PROMPT)
REVIEWER = Agent(id="reviewer", name="Reviewer", role="Checks the code", tools=("read_file",),
                 prompt="You review code.\nBe strict about tests.\nBe kind about style.")
BASE = Org(
    name="Tiny Startup",
    description="A CEO delegates.\nAn engineer builds.\nA reviewer checks.",
    entry="ceo",
    defaults=ModelDefaults(model="local/smollm2-135m-instruct", temperature=0.2, max_tokens=512),
    budget=Budget(max_steps=40, max_cost_usd=0.5),
    channels=(ch("ceo", "engineer", D), ch("engineer", "reviewer", V), ch("reviewer", "ceo", R)),
    agents=(CEO, ENGINEER, REVIEWER),
    layout=Layout.of({"ceo": Point(0, 0), "engineer": Point(200, 0), "reviewer": Point(400, 0)}),
)
ANALYST = Agent(id="analyst", name="Analyst", role="Reads the numbers", prompt="You analyse data.\nShow your working.")


def agent(org: Org, agent_id: str) -> Agent:
    return org.agent(agent_id)


def with_agent(org: Org, new: Agent) -> Org:
    return replace(org, agents=tuple(a for a in org.agents if a.id != new.id) + (new,))


def without_agent(org: Org, agent_id: str) -> Org:
    """As the editor deletes an agent: its file, its channels and its node go."""
    return replace(
        org, agents=tuple(a for a in org.agents if a.id != agent_id),
        channels=tuple(c for c in org.channels if not c.touches(agent_id)),
        layout=Layout.of({k: v for k, v in org.layout.as_dict().items() if k != agent_id}))


def renamed(org: Org, old: str, new: str) -> Org:
    """As the editor renames an agent: file moved, channels, entry and layout follow."""
    def m(x: str) -> str:
        return new if x == old else x
    return replace(
        org, entry=m(org.entry),
        agents=tuple(replace(a, id=m(a.id)) for a in org.agents),
        channels=tuple(ch(m(c.source), m(c.target), c.kind) for c in org.channels),
        layout=Layout.of({m(k): v for k, v in org.layout.as_dict().items()}))


def edit(org: Org, agent_id: str, **fields: object) -> Org:
    return with_agent(org, replace(org.agent(agent_id), **fields))


def prompt_lines(*lines: str) -> str:
    return "\n".join(lines)


def moved(org: Org, agent_id: str, x: float, y: float) -> Org:
    positions = org.layout.as_dict()
    positions[agent_id] = Point(x, y)
    return replace(org, layout=Layout.of(positions))


def add_channels(org: Org, *channels: Channel) -> Org:
    return replace(org, channels=org.channels + channels)


E1 = prompt_lines("You are the lead engineer of a small startup.", *ENGINEER_PROMPT.split("\n")[1:])
E5 = prompt_lines(*ENGINEER_PROMPT.split("\n")[:4], "Report back with a short summary.")
E1_5 = prompt_lines("You are the lead engineer of a small startup.", *ENGINEER_PROMPT.split("\n")[1:4],
                    "Report back with a short summary.")
E3_OURS = prompt_lines(*ENGINEER_PROMPT.split("\n")[:2], "Keep functions short.", *ENGINEER_PROMPT.split("\n")[3:])
E3_THEIRS = prompt_lines(*ENGINEER_PROMPT.split("\n")[:2], "Keep functions tiny and pure.", *ENGINEER_PROMPT.split("\n")[3:])

CASES: dict[str, tuple[str, Org, Org, Org, list[tuple[str, str]]]] = {}


def case(name: str, description: str, ours: Org, theirs: Org, expected: Org,
         conflicts: list[tuple[str, str]] | None = None, base: Org = BASE) -> None:
    CASES[name] = (description, base, ours, theirs, expected, conflicts or [])  # type: ignore[assignment]


# --- clean merges
case("identical-changes", "both sides make the same change",
     replace(BASE, name="Tiny Co"), replace(BASE, name="Tiny Co"), replace(BASE, name="Tiny Co"))
case("only-ours-changed", "theirs is the base", edit(BASE, "ceo", role="Leads"), BASE, edit(BASE, "ceo", role="Leads"))
case("only-theirs-changed", "ours is the base", BASE, edit(BASE, "ceo", role="Leads"), edit(BASE, "ceo", role="Leads"))
case("disjoint-org-fields", "ours renames the org, theirs raises the step budget",
     replace(BASE, name="Tiny Co"), replace(BASE, budget=Budget(max_steps=80, max_cost_usd=0.5)),
     replace(BASE, name="Tiny Co", budget=Budget(max_steps=80, max_cost_usd=0.5)))
case("disjoint-agent-fields", "ours changes the engineer's model, theirs its role",
     edit(BASE, "engineer", model="anthropic/claude-haiku"), edit(BASE, "engineer", role="Builds things"),
     edit(BASE, "engineer", model="anthropic/claude-haiku", role="Builds things"))
case("prompt-disjoint-lines", "ours edits the first prompt line, theirs the last: both land",
     edit(BASE, "engineer", prompt=E1), edit(BASE, "engineer", prompt=E5), edit(BASE, "engineer", prompt=E1_5))
case("description-disjoint-lines", "the org description edited on different lines",
     replace(BASE, description="A CEO delegates work.\nAn engineer builds.\nA reviewer checks."),
     replace(BASE, description="A CEO delegates.\nAn engineer builds.\nA reviewer checks everything."),
     replace(BASE, description="A CEO delegates work.\nAn engineer builds.\nA reviewer checks everything."))
case("agent-added-each-side", "ours adds an analyst, theirs a designer, each with a channel",
     add_channels(with_agent(BASE, ANALYST), ch("ceo", "analyst", D)),
     add_channels(with_agent(BASE, Agent(id="designer", name="Designer")), ch("ceo", "designer", D)),
     add_channels(with_agent(with_agent(BASE, ANALYST), Agent(id="designer", name="Designer")),
                  ch("ceo", "analyst", D), ch("ceo", "designer", D)))
case("agent-added-identically", "both sides add the same analyst the same way",
     add_channels(with_agent(BASE, ANALYST), ch("ceo", "analyst", D)),
     add_channels(with_agent(BASE, ANALYST), ch("ceo", "analyst", D)),
     add_channels(with_agent(BASE, ANALYST), ch("ceo", "analyst", D)))
case("agent-deleted-one-side", "ours deletes the reviewer (and its channels); theirs left it alone",
     without_agent(BASE, "reviewer"), replace(BASE, name="Tiny Co"), replace(without_agent(BASE, "reviewer"), name="Tiny Co"))
case("agent-deleted-both-sides", "both delete the reviewer",
     without_agent(BASE, "reviewer"), without_agent(BASE, "reviewer"), without_agent(BASE, "reviewer"))
case("channels-added-each-side", "each side adds a different channel",
     add_channels(BASE, ch("ceo", "reviewer", V)), add_channels(BASE, ch("engineer", "ceo", R)),
     add_channels(BASE, ch("ceo", "reviewer", V), ch("engineer", "ceo", R)))
case("channel-removed-and-added", "ours removes reviewer->ceo, theirs adds engineer->ceo",
     replace(BASE, channels=BASE.channels[:2]), add_channels(BASE, ch("engineer", "ceo", R)),
     replace(BASE, channels=(*BASE.channels[:2], ch("engineer", "ceo", R))))
case("same-channel-added-both", "both add ceo->reviewer reviews",
     add_channels(BASE, ch("ceo", "reviewer", V)), add_channels(BASE, ch("ceo", "reviewer", V)),
     add_channels(BASE, ch("ceo", "reviewer", V)))
case("peers-written-both-ways", "ours adds engineer<->reviewer peers, theirs writes it reviewer<->engineer",
     add_channels(BASE, ch("engineer", "reviewer", P)), add_channels(BASE, ch("reviewer", "engineer", P)),
     add_channels(BASE, ch("engineer", "reviewer", P)))
case("tools-as-a-set", "ours adds list_files, theirs removes write_file",
     edit(BASE, "engineer", tools=("read_file", "write_file", "list_files")), edit(BASE, "engineer", tools=("read_file",)),
     edit(BASE, "engineer", tools=("read_file", "list_files")))
case("layout-union", "ours moves the ceo, theirs the engineer",
     moved(BASE, "ceo", 10, 20), moved(BASE, "engineer", 210, 30), moved(moved(BASE, "ceo", 10, 20), "engineer", 210, 30))
case("layout-ours-wins", "both move the ceo: ours wins and it is no conflict",
     moved(BASE, "ceo", 10, 20), moved(moved(BASE, "ceo", 99, 99), "reviewer", 400, 50),
     moved(moved(BASE, "ceo", 10, 20), "reviewer", 400, 50))
case("rename-ours-edit-theirs", "ours renames engineer to developer; theirs edits the engineer: the developer carries the edit",
     renamed(BASE, "engineer", "developer"), edit(BASE, "engineer", prompt=E5, temperature=0.1),
     edit(renamed(BASE, "engineer", "developer"), "developer", prompt=E5, temperature=0.1))
case("rename-theirs-edit-ours", "theirs renames the reviewer to qa; ours edits the reviewer's role",
     edit(BASE, "reviewer", role="Checks everything"), renamed(BASE, "reviewer", "qa"),
     edit(renamed(BASE, "reviewer", "qa"), "qa", role="Checks everything"))
case("rename-and-new-channel", "ours renames the engineer; theirs adds a channel to the engineer: it follows the rename",
     renamed(BASE, "engineer", "developer"), add_channels(BASE, ch("reviewer", "engineer", R)),
     add_channels(renamed(BASE, "engineer", "developer"), ch("reviewer", "developer", R)))
case("rename-entry-agent", "theirs renames the entry agent ceo to boss; ours edits the ceo's prompt",
     edit(BASE, "ceo", prompt="You run a small startup.\nDelegate the work.\nAnswer the user briefly."),
     renamed(BASE, "ceo", "boss"),
     edit(renamed(BASE, "ceo", "boss"), "boss", prompt="You run a small startup.\nDelegate the work.\nAnswer the user briefly."))
case("rename-same-both", "both rename the engineer to developer",
     renamed(BASE, "engineer", "developer"), renamed(BASE, "engineer", "developer"), renamed(BASE, "engineer", "developer"))
case("entry-changed-one-side", "theirs makes the engineer the entry",
     replace(BASE, name="Tiny Co"), replace(BASE, entry="engineer"), replace(BASE, name="Tiny Co", entry="engineer"))
case("defaults-split", "ours changes the default model, theirs the default temperature",
     replace(BASE, defaults=replace(BASE.defaults, model="openai/gpt-4o-mini")),
     replace(BASE, defaults=replace(BASE.defaults, temperature=0.7)),
     replace(BASE, defaults=ModelDefaults(model="openai/gpt-4o-mini", temperature=0.7, max_tokens=512)))
case("budget-field-dropped", "ours drops the cost limit, theirs raises the step limit",
     replace(BASE, budget=Budget(max_steps=40)), replace(BASE, budget=Budget(max_steps=60, max_cost_usd=0.5)),
     replace(BASE, budget=Budget(max_steps=60)))
case("human-seat-and-prompt", "ours turns the reviewer into a human seat, theirs edits its prompt",
     edit(BASE, "reviewer", kind=AgentKind.HUMAN), edit(BASE, "reviewer", prompt="You review code.\nBe strict about tests."),
     edit(BASE, "reviewer", kind=AgentKind.HUMAN, prompt="You review code.\nBe strict about tests."))
case("delete-vs-pure-rename", "ours deletes the reviewer, theirs only renames it: the deletion wins",
     without_agent(BASE, "reviewer"), renamed(BASE, "reviewer", "qa"), without_agent(BASE, "reviewer"))

# --- conflicts
case("org-field-conflict", "both rename the org differently",
     replace(BASE, name="Tiny Co"), replace(BASE, name="Small Startup"), replace(BASE, name="Tiny Co"),
     [("org:name", "field")])
case("agent-field-conflict", "both change the engineer's model differently",
     edit(BASE, "engineer", model="openai/gpt-4o"), edit(BASE, "engineer", model="local/qwen2.5-0.5b"),
     edit(BASE, "engineer", model="openai/gpt-4o"), [("agent:engineer:model", "field")])
case("budget-conflict", "both change the org's cost limit differently",
     replace(BASE, budget=Budget(max_steps=40, max_cost_usd=1.0)), replace(BASE, budget=Budget(max_steps=40, max_cost_usd=0.1)),
     replace(BASE, budget=Budget(max_steps=40, max_cost_usd=1.0)), [("org:budget.max_cost_usd", "field")])
case("entry-conflict", "both change the entry differently",
     replace(BASE, entry="engineer"), replace(BASE, entry="reviewer"), replace(BASE, entry="engineer"), [("org:entry", "field")])
case("prompt-overlap", "both edit the same prompt line; their other edit still lands",
     edit(BASE, "engineer", prompt=E3_OURS),
     edit(BASE, "engineer", prompt=prompt_lines(*E3_THEIRS.split("\n")[:4], "Report back with a short summary.")),
     edit(BASE, "engineer", prompt=prompt_lines(*E3_OURS.split("\n")[:4], "Report back with a short summary.")),
     [("agent:engineer:prompt", "text")])
case("description-overlap", "both rewrite the description's first line",
     replace(BASE, description="The CEO delegates.\nAn engineer builds.\nA reviewer checks."),
     replace(BASE, description="A boss delegates.\nAn engineer builds.\nA reviewer checks."),
     replace(BASE, description="The CEO delegates.\nAn engineer builds.\nA reviewer checks."),
     [("org:description", "text")])
case("delete-modify-ours-deletes", "ours deletes the reviewer, theirs edits it: it is kept, with its channels",
     without_agent(BASE, "reviewer"), edit(BASE, "reviewer", role="Checks everything"),
     edit(BASE, "reviewer", role="Checks everything"), [("agent:reviewer", "delete-modify")])
case("delete-modify-theirs-deletes", "theirs deletes the engineer, ours edits it",
     edit(BASE, "engineer", temperature=0.0), without_agent(BASE, "engineer"),
     edit(BASE, "engineer", temperature=0.0), [("agent:engineer", "delete-modify")])
case("channel-to-deleted-agent", "ours deletes the reviewer, theirs adds a channel ceo->reviewer",
     without_agent(BASE, "reviewer"), add_channels(BASE, ch("ceo", "reviewer", V)),
     add_channels(BASE, ch("ceo", "reviewer", V)), [("agent:reviewer", "delete-use")])
case("entry-to-deleted-agent", "theirs makes the reviewer the entry, ours deletes the reviewer",
     without_agent(BASE, "reviewer"), replace(BASE, entry="reviewer"), replace(BASE, entry="reviewer"),
     [("agent:reviewer", "delete-use")])
case("add-add-different", "both add an analyst, differently",
     with_agent(BASE, ANALYST), with_agent(BASE, replace(ANALYST, role="Counts things")), with_agent(BASE, ANALYST),
     [("agent:analyst", "add-add")])
case("rename-rename", "ours renames the engineer to developer, theirs to builder",
     renamed(BASE, "engineer", "developer"), renamed(BASE, "engineer", "builder"), renamed(BASE, "engineer", "developer"),
     [("rename:engineer", "rename-rename")])
case("several-conflicts", "a field, a prompt and a delete-modify conflict at once, beside clean changes",
     edit(edit(without_agent(replace(BASE, name="Tiny Co"), "reviewer"), "engineer", prompt=E3_OURS), "ceo", model="openai/gpt-4o"),
     edit(edit(edit(replace(BASE, name="Small Startup"), "engineer", prompt=E3_THEIRS), "reviewer", role="QA"), "ceo", role="Boss"),
     edit(edit(edit(replace(BASE, name="Tiny Co"), "engineer", prompt=E3_OURS), "reviewer", role="QA"), "ceo",
          model="openai/gpt-4o", role="Boss"),
     [("org:name", "field"), ("agent:engineer:prompt", "text"), ("agent:reviewer", "delete-modify")])


def main() -> None:
    for old in HERE.iterdir():
        if old.is_dir() and (old / "case.json").exists():
            shutil.rmtree(old)
    for name, (description, base, ours, theirs, expected, conflicts) in CASES.items():
        folder = HERE / name
        for side, org in (("base", base), ("ours", ours), ("theirs", theirs), ("expected", expected)):
            save_org(org, folder / side)
        (folder / "case.json").write_text(json.dumps(
            {"description": description, "conflicts": [{"id": cid, "kind": kind} for cid, kind in conflicts]}, indent=2) + "\n")
    print(f"wrote {len(CASES)} cases")


if __name__ == "__main__":
    main()
