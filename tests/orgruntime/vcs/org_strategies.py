"""Hypothesis strategies: small orgs, and sides made from them by the edits a user makes in the editor."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from orgruntime import Agent, AgentKind, Budget, Channel, ChannelKind, Layout, Org, Point

IDS = ("ceo", "eng", "qa", "ops", "pm", "dev", "law")
WORDS = ("plan", "build", "check", "ship", "ask", "fix", "write", "test")
MODELS = (None, "openai/gpt-4o-mini", "local/smollm2-135m-instruct")
TOOLS = ("list_files", "read_file", "run_python", "write_file")

lines = st.lists(st.sampled_from(WORDS).map(lambda w: f"You {w} things."), min_size=0, max_size=6)
prompts = lines.map("\n".join)


@st.composite
def agents(draw: st.DrawFn, agent_id: str) -> Agent:
    return Agent(
        id=agent_id, name=draw(st.sampled_from(("", agent_id.upper(), "Worker"))),
        role=draw(st.sampled_from(("", "Leads", "Builds"))), kind=draw(st.sampled_from((AgentKind.LLM, AgentKind.HUMAN))),
        model=draw(st.sampled_from(MODELS)), temperature=draw(st.sampled_from((None, 0.1, 0.5))),
        tools=tuple(draw(st.lists(st.sampled_from(TOOLS), unique=True, max_size=3))),
        budget=Budget(max_steps=draw(st.sampled_from((None, 5, 10)))),
        prompt=draw(prompts),
    )


@st.composite
def orgs(draw: st.DrawFn) -> Org:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, min_size=1, max_size=4))
    members = [draw(agents(agent_id)) for agent_id in ids]
    channels = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids), st.sampled_from(list(ChannelKind))),
                             max_size=5).map(lambda items: [Channel(source=s, target=t, kind=k) for s, t, k in items if s != t]))
    unique = list({c.key: c for c in channels}.values())
    return Org(name=draw(st.sampled_from(("Org", "Team"))), entry=ids[0], description=draw(prompts),
               budget=Budget(max_steps=draw(st.sampled_from((None, 10, 20)))), channels=tuple(unique),
               agents=tuple(members), layout=Layout.of({i: Point(float(n * 100), 0.0) for n, i in enumerate(ids)}))


def _edit_prompt(draw: st.DrawFn, text: str) -> str:
    parts = text.split("\n") if text else []
    action = draw(st.sampled_from(("insert", "delete", "replace")))
    at = draw(st.integers(0, len(parts)))
    word = draw(st.sampled_from(WORDS))
    if action == "insert" or not parts:
        parts.insert(at, f"Also {word}.")
    elif action == "delete":
        parts.pop(min(at, len(parts) - 1))
    else:
        parts[min(at, len(parts) - 1)] = f"Now {word}."
    return "\n".join(parts)


@st.composite
def edited(draw: st.DrawFn, org: Org, renames: bool = True) -> Org:
    """`org` after up to four editor actions."""
    for _ in range(draw(st.integers(0, 4))):
        ids = list(org.agent_ids)
        kinds = ["org-name", "org-budget", "description", "agent-field", "prompt", "tools", "add-agent",
                 "delete-agent", "add-channel", "remove-channel", "move"]
        if renames:
            kinds.append("rename")
        action = draw(st.sampled_from(kinds))
        if action == "org-name":
            org = replace(org, name=draw(st.sampled_from(("Org", "Team", "Crew"))))
        elif action == "org-budget":
            org = replace(org, budget=Budget(max_steps=draw(st.sampled_from((None, 10, 20, 30)))))
        elif action == "description":
            org = replace(org, description=_edit_prompt(draw, org.description))
        elif action in ("agent-field", "prompt", "tools") and ids:
            agent = org.agent(draw(st.sampled_from(ids)))
            if action == "agent-field":
                field = draw(st.sampled_from(("name", "model", "temperature", "role")))
                value = {"name": st.sampled_from(("A", "B", "")), "model": st.sampled_from(MODELS),
                         "temperature": st.sampled_from((None, 0.0, 0.9)), "role": st.sampled_from(("", "X", "Y"))}[field]
                agent = replace(agent, **{field: draw(value)})
            elif action == "prompt":
                agent = replace(agent, prompt=_edit_prompt(draw, agent.prompt))
            else:
                tool = draw(st.sampled_from(TOOLS))
                agent = replace(agent, tools=tuple(t for t in agent.tools if t != tool) if tool in agent.tools
                                else (*agent.tools, tool))
            org = replace(org, agents=tuple(a for a in org.agents if a.id != agent.id) + (agent,))
        elif action == "add-agent":
            free = [i for i in IDS if i not in ids]
            if free:
                new = draw(agents(draw(st.sampled_from(free))))
                org = replace(org, agents=(*org.agents, new))
                if ids:
                    org = replace(org, channels=(*org.channels, Channel(source=draw(st.sampled_from(ids)), target=new.id,
                                                                     kind=ChannelKind.DELEGATES)))
        elif action == "delete-agent" and len(ids) > 1:
            gone = draw(st.sampled_from([i for i in ids if i != org.entry]))
            org = replace(org, agents=tuple(a for a in org.agents if a.id != gone),
                          channels=tuple(c for c in org.channels if not c.touches(gone)),
                          layout=Layout.of({k: v for k, v in org.layout.as_dict().items() if k != gone}))
        elif action == "add-channel" and len(ids) > 1:
            source, target = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
            channel = Channel(source=source, target=target, kind=draw(st.sampled_from(list(ChannelKind))))
            if source != target and channel.key not in {c.key for c in org.channels}:
                org = replace(org, channels=(*org.channels, channel))
        elif action == "remove-channel" and org.channels:
            gone = draw(st.sampled_from(org.channels))
            org = replace(org, channels=tuple(c for c in org.channels if c != gone))
        elif action == "move" and ids:
            positions = org.layout.as_dict()
            positions[draw(st.sampled_from(ids))] = Point(float(draw(st.integers(0, 9))), 5.0)
            org = replace(org, layout=Layout.of(positions))
        elif action == "rename" and ids:
            free = [i for i in IDS if i not in ids]
            if free:
                old, new = draw(st.sampled_from(ids)), draw(st.sampled_from(free))
                m = {old: new}
                org = replace(org, entry=m.get(org.entry, org.entry),
                              agents=tuple(replace(a, id=m.get(a.id, a.id)) for a in org.agents),
                              channels=tuple(Channel(source=m.get(c.source, c.source), target=m.get(c.target, c.target),
                                                     kind=c.kind) for c in org.channels),
                              layout=Layout.of({m.get(k, k): v for k, v in org.layout.as_dict().items()}))
    return org
