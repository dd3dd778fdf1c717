"""The contract's changelog between two releases: the base class's members added, removed or renamed (a removed
member whose best look-alike among the added ones is close enough), signatures and forms changed, and for every
platform the overrides gained or lost. Read from both trees with tree-sitter, never run."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from phase17.index.tree import Tree
from phase17.instruments.classes import ClassInfo, Member
from phase17.instruments.contract import BASE_NAME, BASE_PATH, build_contract

ChangeKind = Literal["added", "removed", "renamed", "re-signed", "form", "override-gained", "override-lost"]
CHANGE_KINDS: tuple[ChangeKind, ...] = get_args(ChangeKind)
RENAMED_FROM = 0.75  # a removed member's look-alike scoring this much is its successor (both names and signatures)


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    cls: str
    member: str
    before: str | None  # path:line and what it was (a signature, a form)
    after: str | None
    successor: str | None = None
    score: float | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Change:
        return cls(
            data["kind"], data["class"], data["member"], data["before"], data["after"], data["successor"], data["score"]
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "class": self.cls,
            "member": self.member,
            "before": self.before,
            "after": self.after,
            "successor": self.successor,
            "score": None if self.score is None else round(self.score, 2),
        }


@dataclass(frozen=True)
class ContractChanges:
    pin: str
    release: str
    changes: tuple[Change, ...]

    def to_data(self) -> dict[str, Any]:
        return {"from": self.pin, "to": self.release, "changes": [change.to_data() for change in self.changes]}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ContractChanges:
        return cls(data["from"], data["to"], tuple(Change.from_data(change) for change in data["changes"]))

    def successor_of(self, member: str) -> Change | None:
        return next((c for c in self.changes if c.member == member and c.kind in ("renamed", "removed")), None)


def kept_contract_changes(
    pinned: Tree, other: Tree, pin: str, release: str, release_commit: str, under: Sequence[str] = ("vllm",)
) -> ContractChanges:
    """contract_changes, kept: the pinned tree by its contents, the other (a verified release) by its commit."""
    from phase17.index.kept import remembered

    def compute() -> dict[str, Any]:
        return contract_changes(pinned, other, pin, release, under).to_data()

    return ContractChanges.from_data(remembered(pinned, f"changes:{release_commit}:{pin}:{release}", under, compute))


def contract_changes(
    pinned: Tree, other: Tree, pin: str, release: str, under: Sequence[str] = ("vllm",)
) -> ContractChanges:
    """What changed in Platform's contract from the tree `pinned` to the tree `other`."""
    before = build_contract(pinned, BASE_NAME, BASE_PATH, under=under)
    after = build_contract(other, BASE_NAME, BASE_PATH, under=under)
    changes = _base_changes(before.base, after.base)
    old_platforms = {info.name: info for info in before.platforms}
    for info in after.platforms:
        previous = old_platforms.get(info.name)
        if previous is not None:
            changes += _override_changes(previous, info, before.base, after.base)
    return ContractChanges(pin, release, tuple(changes))


def _where(info: ClassInfo, member: Member) -> str:
    return f"{info.path}:{member.line} {member.signature or member.value or ''}".strip()


def _base_changes(old: ClassInfo, new: ClassInfo) -> list[Change]:
    old_names = {member.name: member for member in old.members}
    new_names = {member.name: member for member in new.members}
    removed = [member for name, member in old_names.items() if name not in new_names]
    added = [member for name, member in new_names.items() if name not in old_names]
    changes: list[Change] = []
    taken: set[str] = set()
    for member in removed:
        scored = sorted(
            ((_likeness(member, candidate), candidate) for candidate in added if candidate.kind == member.kind),
            key=lambda item: -item[0],
        )
        best = scored[0] if scored else None
        if best is not None and best[0] >= RENAMED_FROM and best[1].name not in taken:
            taken.add(best[1].name)
            changes.append(
                Change(
                    "renamed", old.name, member.name, _where(old, member), _where(new, best[1]), best[1].name, best[0]
                )
            )
        else:
            closest = (best[1].name, best[0]) if best is not None else (None, None)
            changes.append(Change("removed", old.name, member.name, _where(old, member), None, None, closest[1]))
    changes += [
        Change("added", new.name, member.name, None, _where(new, member))
        for member in added
        if member.name not in taken
    ]
    for name, member in old_names.items():
        later = new_names.get(name)
        if later is None or member.kind != "method":
            continue
        if later.form != member.form:
            changes.append(
                Change(
                    "form",
                    old.name,
                    name,
                    f"{old.path}:{member.line} {member.label}",
                    f"{new.path}:{later.line} {later.label}",
                )
            )
        if _parameters(later) != _parameters(member):
            changes.append(Change("re-signed", old.name, name, _where(old, member), _where(new, later)))
    return changes


def _override_changes(old: ClassInfo, new: ClassInfo, old_base: ClassInfo, new_base: ClassInfo) -> list[Change]:
    own_before = {m.name for m in old.members if m.kind == "method" and old_base.member(m.name) is not None}
    own_after = {m.name for m in new.members if m.kind == "method" and new_base.member(m.name) is not None}
    changes = [
        Change("override-gained", new.name, name, None, _where(new, member))
        for name in sorted(own_after - own_before)
        if (member := new.member(name)) is not None
    ]
    changes += [
        Change("override-lost", old.name, name, _where(old, member), None)
        for name in sorted(own_before - own_after)
        if (member := old.member(name)) is not None
    ]
    return changes


def _parameters(member: Member) -> str:
    """A signature without its annotations' spelling: what a caller can pass (names, defaults, stars)."""
    return member.signature.split(" -> ")[0].replace(" ", "")


def _likeness(old: Member, new: Member) -> float:
    """How much `new` looks like `old`: the names, mostly, and what they take."""
    names = difflib.SequenceMatcher(None, old.name, new.name).ratio()
    signatures = difflib.SequenceMatcher(None, _parameters(old), _parameters(new)).ratio()
    return 0.7 * names + 0.3 * signatures
