"""Generated orgs for layout tests and the benchmark: a reporting tree plus cross channels (up to `channels`)."""

from __future__ import annotations

import random

from orgruntime import Agent, Channel, ChannelKind, Org


def generated_org(agents: int, channels: int, *, seed: int = 0, components: int = 1) -> Org:
    rng = random.Random(seed)
    ids = [f"a{index:04d}" for index in range(agents)]
    chosen: dict[tuple, Channel] = {}
    group_size = max(1, agents // components)
    for index in range(1, agents):
        group_start = (index // group_size) * group_size
        if index == group_start:
            continue  # the first agent of each group starts a part not connected to the others
        lead = ids[rng.randrange(group_start, index)]
        chosen[(lead, ids[index])] = Channel(source=lead, target=ids[index], kind=ChannelKind.DELEGATES)
    kinds = list(ChannelKind)
    attempts = 0
    while len(chosen) < channels and agents > 1 and attempts < 50 * channels:
        attempts += 1
        a, b = rng.sample(range(agents), 2)
        if a // group_size != b // group_size:
            continue
        source, target = ids[a], ids[b]
        if (source, target) in chosen or (target, source) in chosen:
            continue
        chosen[(source, target)] = Channel(source=source, target=target, kind=rng.choice(kinds))
    return Org(name="Generated", entry=ids[0],
               agents=tuple(Agent(id=agent_id, name=f"Agent {agent_id}", role="works", prompt="Work.") for agent_id in ids),
               channels=tuple(chosen.values()))
