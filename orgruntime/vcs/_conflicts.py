"""Merge conflicts and merge results: frozen values with stable ids, each resolvable as ours, theirs or edited."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orgruntime._model import Channel, Org


class ConflictKind(StrEnum):
    FIELD = "field"  # both sides set one field to different values
    TEXT = "text"  # overlapping line edits in a prompt or description
    DELETE_MODIFY = "delete-modify"  # one side deleted an agent the other changed
    DELETE_USE = "delete-use"  # one side deleted an agent the other newly points at (channel or entry)
    ADD_ADD = "add-add"  # both sides added the same agent id with different contents
    RENAME_RENAME = "rename-rename"  # both sides renamed one agent to different ids
    FILE = "file"  # an ordinary file (not org code) changed differently on both sides


class Side(StrEnum):
    OURS = "ours"
    THEIRS = "theirs"


@dataclass(frozen=True)
class Edited:
    """A resolution with a value the user wrote (an Agent, an id, a text, a number, ...)."""

    value: object


Choice = Side | Edited


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """One true conflict. `ours` / `theirs` are what choosing that side puts in the result.

    For agent conflicts the values are `Agent | None` (None: deleted); for renames, agent ids; for
    prompts and descriptions, the whole merged text with the overlapping hunks taken from that side
    (`marked` shows them with git-style markers); for files, `str` or `bytes` (None: deleted).
    """

    id: str
    kind: ConflictKind
    message: str
    base: object
    ours: object
    theirs: object
    agent: str | None = None  # the agent it concerns, by its id in the merged org
    field: str | None = None  # dotted field path (`prompt`, `budget.max_steps`), or a file path
    marked: str | None = None
    channels: tuple[Channel, ...] = ()  # for agent conflicts: the keeping side's channels (those touching it come back)
    fallback_entry: str | None = None  # for agent conflicts: the entry to use if the agent is deleted

    def value(self, choice: Choice) -> object:
        if isinstance(choice, Edited):
            return choice.value
        return self.ours if Side(choice) is Side.OURS else self.theirs

    def as_json(self) -> dict[str, object]:
        from orgruntime.vcs._codec import value_to_json

        return {"id": self.id, "kind": str(self.kind), "message": self.message, "agent": self.agent,
                "field": self.field, "base": value_to_json(self.base), "ours": value_to_json(self.ours),
                "theirs": value_to_json(self.theirs), "marked": self.marked}


@dataclass(frozen=True, kw_only=True)
class MergeResult:
    """The merged org (every conflict provisionally settled, as the conflict's docs say) and the conflicts."""

    org: Org
    conflicts: tuple[Conflict, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()  # (base id, merged id) for every detected rename

    @property
    def clean(self) -> bool:
        return not self.conflicts

    def conflict(self, conflict_id: str) -> Conflict:
        for conflict in self.conflicts:
            if conflict.id == conflict_id:
                return conflict
        raise KeyError(conflict_id)

    def resolve(self, conflict_id: str, choice: Choice) -> MergeResult:
        from orgruntime.vcs._resolve import apply_resolution, rekey_after_rename

        conflict = self.conflict(conflict_id)
        org = apply_resolution(self.org, conflict, choice)
        rest = tuple(other for other in self.conflicts if other.id != conflict_id)
        if conflict.kind is ConflictKind.RENAME_RENAME:
            rest = rekey_after_rename(rest, str(conflict.agent), str(conflict.value(choice)))
        return MergeResult(org=org, conflicts=rest, renames=self.renames)
