"""Hypothesis strategies for orgs: valid-by-construction orgs and edits that apply to them."""

from __future__ import annotations

from hypothesis import strategies as st

from orgruntime import (
    AddAgent,
    AddChannel,
    Agent,
    AgentKind,
    Budget,
    Channel,
    ChannelKind,
    EditBatch,
    Layout,
    ModelDefaults,
    MoveNodes,
    Org,
    Point,
    RemoveAgent,
    RemoveChannel,
    RenameAgent,
    ReplaceChannel,
    SetAgentField,
    SetOrgField,
)

agent_ids = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True)
# Any text a person can type: no surrogates, no NUL (text files cannot hold them).
texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
one_line_texts = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\x85"), max_size=40)
prompts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"), max_size=200)
models = st.one_of(st.none(), st.sampled_from(["openai/gpt-4o-mini", "local/smollm2-135m-instruct", "anthropic/claude-3-5-haiku", "ollama/llama3.2"]))
# Values as people write them: a few decimals (ruamel re-emits subnormal floats in another form).
temperatures = st.one_of(st.none(), st.floats(min_value=0, max_value=2).map(lambda v: round(v, 2)), st.sampled_from([0, 1, 2]))
token_limits = st.one_of(st.none(), st.integers(min_value=1, max_value=200_000))
budgets = st.builds(
    Budget,
    max_steps=st.one_of(st.none(), st.integers(1, 1000)),
    max_tokens=token_limits,
    max_cost_usd=st.one_of(st.none(), st.floats(min_value=0, max_value=100).map(lambda v: round(v, 4))),
    max_seconds=st.one_of(st.none(), st.floats(min_value=0.5, max_value=10_000).map(lambda v: round(v, 2))),
)
tool_lists = st.lists(st.sampled_from(["read_file", "write_file", "list_files", "run_python"]), unique=True, max_size=4).map(tuple)
points = st.builds(Point, st.floats(-5000, 5000, allow_nan=False).map(lambda v: round(v, 2)), st.floats(-5000, 5000, allow_nan=False).map(lambda v: round(v, 2)))


def agents_for(agent_id: str) -> st.SearchStrategy[Agent]:
    return st.builds(
        Agent,
        id=st.just(agent_id),
        name=one_line_texts,
        role=texts,
        kind=st.sampled_from(list(AgentKind)),
        model=models,
        temperature=temperatures,
        max_tokens=token_limits,
        tools=tool_lists,
        budget=budgets,
        prompt=prompts,
    )


@st.composite
def orgs(draw, min_agents: int = 1, max_agents: int = 6) -> Org:
    ids = draw(st.lists(agent_ids, min_size=min_agents, max_size=max_agents, unique=True))
    agents = tuple(draw(agents_for(agent_id)) for agent_id in ids)
    channels: list[Channel] = []
    keys = set()
    if len(ids) >= 2:
        pairs = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids), st.sampled_from(list(ChannelKind))), max_size=10))
        for source, target, kind in pairs:
            channel = Channel(source=source, target=target, kind=kind)
            if source != target and channel.key not in keys:
                keys.add(channel.key)
                channels.append(channel)
    positions = draw(st.dictionaries(st.sampled_from(ids), points, max_size=len(ids))) if ids else {}
    return Org(
        name=draw(one_line_texts.filter(lambda s: s.strip() != "")),
        description=draw(texts),
        entry=draw(st.sampled_from(ids)) if ids else "",
        defaults=draw(st.builds(ModelDefaults, model=models, temperature=temperatures, max_tokens=token_limits)),
        budget=draw(budgets),
        max_concurrency=draw(st.one_of(st.none(), st.integers(1, 64))),
        channels=tuple(channels),
        agents=agents,
        layout=Layout.of(positions),
    )


ORG_SCALAR_FIELDS = {
    "name": one_line_texts.filter(lambda s: s.strip() != ""),
    "description": texts,
    "max_concurrency": st.one_of(st.none(), st.integers(1, 64)),
}
AGENT_FIELDS = {
    "name": one_line_texts,
    "role": texts,
    "model": models,
    "temperature": temperatures,
    "max_tokens": token_limits,
    "tools": tool_lists,
    "budget": budgets,
    "prompt": prompts,
    "kind": st.sampled_from(list(AgentKind)),
}


@st.composite
def edits_for(draw, org: Org):
    """One edit that applies to `org`."""
    ids = org.agent_ids
    choices = ["add_agent", "set_org"]
    if ids:
        choices += ["remove_agent", "rename_agent", "set_agent", "move"]
    if len(ids) >= 2:
        choices += ["add_channel"]
    if org.channels:
        choices += ["remove_channel", "replace_channel"]
    kind = draw(st.sampled_from(choices))
    if kind == "add_agent":
        new_id = draw(agent_ids.filter(lambda i: i not in ids))
        return AddAgent(draw(agents_for(new_id)), draw(st.one_of(st.none(), points)))
    if kind == "remove_agent":
        return RemoveAgent(draw(st.sampled_from(ids)))
    if kind == "rename_agent":
        return RenameAgent(draw(st.sampled_from(ids)), draw(agent_ids.filter(lambda i: i not in ids)))
    if kind == "set_org":
        field = draw(st.sampled_from([*ORG_SCALAR_FIELDS, "entry", "budget"]))
        if field == "entry":
            return SetOrgField("entry", draw(st.sampled_from(ids)) if ids else "")
        if field == "budget":
            return SetOrgField("budget", draw(budgets))
        return SetOrgField(field, draw(ORG_SCALAR_FIELDS[field]))
    if kind == "set_agent":
        field = draw(st.sampled_from(sorted(AGENT_FIELDS)))
        return SetAgentField(draw(st.sampled_from(ids)), field, draw(AGENT_FIELDS[field]))
    if kind == "move":
        moves = draw(st.lists(st.tuples(st.sampled_from(ids), st.one_of(st.none(), points)), min_size=1, max_size=4))
        return MoveNodes(tuple(moves))
    existing = {c.key for c in org.channels}
    if kind == "add_channel":
        source, target = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
        channel = Channel(source=source, target=target, kind=draw(st.sampled_from(list(ChannelKind))))
        if channel.key in existing:
            return RemoveChannel(org.channels[[c.key for c in org.channels].index(channel.key)])
        return AddChannel(channel, draw(st.one_of(st.none(), st.integers(0, len(org.channels)))))
    old = draw(st.sampled_from(org.channels))
    if kind == "remove_channel":
        return RemoveChannel(old)
    kinds = [k for k in ChannelKind if Channel(source=old.source, target=old.target, kind=k).key not in existing]
    if not kinds:
        return RemoveChannel(old)
    return ReplaceChannel(old, Channel(source=old.source, target=old.target, kind=draw(st.sampled_from(kinds))))


@st.composite
def org_and_edits(draw, max_edits: int = 4):
    org = draw(orgs())
    steps = []
    current = org
    from orgruntime import apply

    for _ in range(draw(st.integers(1, max_edits))):
        edit = draw(edits_for(current))
        steps.append(edit)
        current = apply(current, edit)
    return org, (steps[0] if len(steps) == 1 else EditBatch(tuple(steps)))
