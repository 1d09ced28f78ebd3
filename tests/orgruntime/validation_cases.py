"""Malformed orgs and the exact problems each must report (file:line:col: severity: message)."""

ORG = """name: Shop
entry: ceo
channels:
  - {from: ceo, to: dev, kind: delegates}
"""
CEO = "---\nname: CEO\n---\nYou run the shop.\n"
DEV = "---\nname: Dev\ntools: [read_file]\n---\nYou build.\n"


def base(**files: str | bytes) -> dict[str, str | bytes]:
    """The valid two-agent org, with some files replaced (None removes one)."""
    tree: dict[str, str | bytes] = {"org.yaml": ORG, "agents/ceo.md": CEO, "agents/dev.md": DEV}
    for name, text in files.items():
        key = name.replace("__", "/").replace("_md", ".md").replace("org_yaml", "org.yaml")
        if text is None:
            tree.pop(key, None)
        else:
            tree[key] = text
    return tree


CASES: dict[str, tuple[dict[str, str | bytes], list[str]]] = {
    "yaml syntax error in org.yaml": (
        base(org_yaml="name: Shop\nentry: [ceo\n"),
        [
            "org.yaml:3:1: error: YAML syntax: while parsing a flow sequence: did not find expected ',' or ']'",
        ],
    ),
    "unknown top-level key with a suggestion": (
        base(org_yaml=ORG + "entyr: dev\n"),
        [
            "org.yaml:5:1: error: unknown key 'entyr' (did you mean 'entry'?)",
        ],
    ),
    "unknown agent key with a suggestion": (
        base(agents__dev_md="---\nname: Dev\ntemprature: 0.3\n---\nYou build.\n"),
        [
            "agents/dev.md:3:1: error: unknown key 'temprature' (did you mean 'temperature'?)",
        ],
    ),
    "bad agent id in the file name": (
        {**base(), "agents/Dev Ops.md": "---\nname: X\n---\nHi.\n"},
        [
            "agents/Dev Ops.md:1:1: error: bad agent id 'Dev Ops': ids are lowercase letters, digits, '-' and '_', starting with a letter, at most 64 characters",
        ],
    ),
    "entry names an unknown agent": (
        base(org_yaml=ORG.replace("entry: ceo", "entry: cto")),
        [
            "org.yaml:2:8: error: entry: unknown agent 'cto' (did you mean 'ceo'?)",
        ],
    ),
    "channel to an unknown agent": (
        base(org_yaml=ORG + "  - {from: dev, to: qa, kind: reviews}\n"),
        [
            "org.yaml:5:21: error: channel dev -> qa (reviews): unknown agent 'qa'",
        ],
    ),
    "duplicate channel": (
        base(org_yaml=ORG + "  - {from: ceo, to: dev, kind: delegates}\n"),
        [
            'org.yaml:5:5: error: duplicate channel ceo -> dev (delegates): listed twice (first at line 4)',
        ],
    ),
    "peers written both ways is one channel twice": (
        base(org_yaml=ORG + "  - {from: ceo, to: dev, kind: peers}\n  - {from: dev, to: ceo, kind: peers}\n"),
        [
            'org.yaml:6:5: error: duplicate channel dev -> ceo (peers): the same peers channel (first at line 5)',
        ],
    ),
    "channel to itself": (
        base(org_yaml=ORG + "  - {from: dev, to: dev, kind: peers}\n"),
        [
            'org.yaml:5:5: error: channel dev -> dev (peers): an agent cannot have a channel to itself',
        ],
    ),
    "unknown channel kind": (
        base(org_yaml=ORG.replace("kind: delegates", "kind: manages")),
        [
            "org.yaml:4:32: error: kind must be one of delegates, reports, reviews, peers, not the string 'manages'",
        ],
    ),
    "channel missing its target": (
        base(org_yaml=ORG.replace("to: dev, ", "")),
        [
            "org.yaml:4:5: error: missing required key 'to'",
        ],
    ),
    "missing prompt body": (
        base(agents__dev_md="---\nname: Dev\n---\n\n"),
        [
            "agents/dev.md:5:1: error: agent 'dev' has no prompt: write its system prompt below the front matter",
        ],
    ),
    "unreachable agent is a warning": (
        {**base(), "agents/intern.md": "---\nname: Intern\n---\nYou help.\n"},
        [
            "agents/intern.md:2:1: warning: agent 'intern' cannot be reached from the entry agent 'ceo' along any channel",
        ],
    ),
    "unknown tool is a warning": (
        base(agents__dev_md="---\nname: Dev\ntools: [read_file, search_web]\n---\nYou build.\n"),
        [
            "agents/dev.md:3:20: warning: unknown tool 'search_web' (known: list_files, read_file, run_python, write_file)",
        ],
    ),
    "temperature of the wrong type": (
        base(agents__dev_md="---\nname: Dev\ntemperature: hot\n---\nYou build.\n"),
        [
            "agents/dev.md:3:14: error: temperature must be a finite number, not the string 'hot'",
        ],
    ),
    "temperature out of range": (
        base(agents__dev_md="---\nname: Dev\ntemperature: 3.5\n---\nYou build.\n"),
        [
            'agents/dev.md:3:14: error: temperature must be between 0 and 2, not 3.5',
        ],
    ),
    "budget with a negative cost and a boolean step count": (
        base(org_yaml=ORG + "budget:\n  max_cost_usd: -1\n  max_steps: true\n"),
        [
            'org.yaml:6:17: error: budget.max_cost_usd must be 0 or more, not -1',
            'org.yaml:7:14: error: budget.max_steps must be a whole number, not true',
        ],
    ),
    "missing name and entry": (
        base(org_yaml="channels:\n  - {from: ceo, to: dev, kind: delegates}\n"),
        [
            "org.yaml:1:1: error: missing required key 'entry'",
            "org.yaml:1:1: error: missing required key 'name'",
        ],
    ),
    "org.yaml is a list": (
        base(org_yaml="- name: Shop\n"),
        [
            'org.yaml:1:1: error: org.yaml must be a mapping with name, entry, channels, ...; it is a list',
        ],
    ),
    "front matter is not closed": (
        base(agents__dev_md="---\nname: Dev\nYou build.\n"),
        [
            "agents/dev.md:1:1: error: the front matter is not closed: add a '---' line after it",
        ],
    ),
    "no front matter at all": (
        base(agents__dev_md="You build.\n"),
        [
            "agents/dev.md:1:1: error: missing front matter: an agent file starts with a '---' line, then YAML (name, role, ...), then '---', then the prompt",
        ],
    ),
    "yaml syntax error inside front matter": (
        base(agents__dev_md="---\nname: Dev\nrole: [builds\n---\nYou build.\n"),
        [
            "agents/dev.md:4:1: error: YAML syntax: while parsing a flow sequence: did not find expected ',' or ']'",
        ],
    ),
    "anchors and aliases are refused": (
        base(org_yaml=ORG + "defaults: &d\n  model: openai/gpt-4o-mini\nbudget: *d\n"),
        [
            'org.yaml:5:11: error: anchors and aliases (&name) are not allowed in org files',
        ],
    ),
    "not UTF-8": (
        base(agents__dev_md=b"---\nname: D\xe9v\n---\nYou build.\n"),
        [
            'agents/dev.md:2:8: error: dev.md is not valid UTF-8 (byte 0xe9)',
        ],
    ),
    "binary junk": (
        base(org_yaml=b"\x7fELF\x02\x01\x01\x00\x00\x00"),
        [
            'org.yaml:1:8: error: org.yaml contains NUL bytes: this is a binary file, not text',
        ],
    ),
    "duplicate key": (
        base(org_yaml=ORG + "name: Again\n"),
        [
            "org.yaml:5:1: error: duplicate key 'name' (first at line 1)",
        ],
    ),
    "model without a provider is a warning": (
        base(agents__dev_md="---\nname: Dev\nmodel: gpt-4o\n---\nYou build.\n"),
        [
            "agents/dev.md:3:8: warning: model 'gpt-4o' has no provider: write it as provider/name, e.g. openai/gpt-4o-mini or local/smollm2-135m-instruct",
        ],
    ),
    "no agents at all": (
        {"org.yaml": "name: Empty\nentry: ceo\nchannels: []\n"},
        [
            'org.yaml:1:1: error: the org has no agents: add a file agents/<id>.md',
            "org.yaml:2:8: error: entry: unknown agent 'ceo'",
        ],
    ),
    "tools is not a list": (
        base(agents__dev_md="---\nname: Dev\ntools: read_file\n---\nYou build.\n"),
        [
            "agents/dev.md:3:8: error: tools must be a list, not the string 'read_file'",
        ],
    ),
    "python tag refused": (
        base(org_yaml=ORG + "description: !!python/object:os.system ls\n"),
        [
            'org.yaml:5:14: error: the tag !!python/object:os.system is not allowed in org files',
        ],
    ),
}
