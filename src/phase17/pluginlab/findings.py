"""What the plugin check finds, as records every layer shares: a finding (with the releases it holds at and the
engine's call sites at each), the platform classes an entry point leads to, and the whole report."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

FindingKind = Literal[
    "call",  # the engine calls it in a way the plugin's def cannot accept: a TypeError
    "missing",  # the engine calls it and the class has no such member at all: an AttributeError
    "stub",  # the plugin's own body raises NotImplementedError, returns nothing, or an answer the engine refuses
    "not-implemented",  # inherited, and what it inherits raises NotImplementedError or returns such an answer
    "signature",  # parameters differ from the contract's
    "kind",  # property, attribute, classmethod, staticmethod or plain def where the contract has another
    "overrides-nothing",  # a member no class above it declares, that the engine never calls
    "becomes-hook",  # overrode nothing at the pin, overrides a Platform member at this release
    "renamed",  # overrides a Platform member renamed at this release: never called now
    "removed",  # overrides a Platform member removed at this release
    "attribute",  # one of the attributes the engine reads of every platform: its value, or its absence
    "enum",  # an out-of-tree class that says it is an in-tree platform (`_enum`)
    "base",  # the class does not derive from vLLM's Platform
]
FINDING_KINDS: tuple[FindingKind, ...] = get_args(FindingKind)
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)


SiteRole = Literal["call", "refusal"]  # a call of the hook, or the line that raises on its answer


@dataclass(frozen=True)
class Site:
    """Where the engine calls a hook (or raises on its answer), in one release's tree."""

    release: str
    path: str
    line: int
    role: SiteRole = "call"

    def to_data(self) -> dict[str, Any]:
        return {"release": self.release, "path": self.path, "line": self.line, "role": self.role}


@dataclass(frozen=True)
class Finding:
    cls: str
    member: str
    kind: FindingKind
    severity: Severity
    message: str
    where: str | None = None  # path:line in the plugin's code (the member, else its class)
    base: str | None = None  # the contract's side (a signature, a form, a value)
    plugin: str | None = None  # the plugin's side
    successor: str | None = None
    releases: tuple[str, ...] = ()  # the releases it holds at
    sites: tuple[Site, ...] = ()

    @property
    def key(self) -> tuple[str, str, str, str, str, str | None]:
        """What makes two releases' findings the same finding."""
        return (self.cls, self.member, self.kind, self.severity, self.message, self.where)

    def to_data(self) -> dict[str, Any]:
        return {
            "class": self.cls,
            "member": self.member,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "where": self.where,
            "base": self.base,
            "plugin": self.plugin,
            "successor": self.successor,
            "releases": list(self.releases),
            "sites": [site.to_data() for site in self.sites],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Finding:
        return cls(
            data["class"],
            data["member"],
            data["kind"],
            data["severity"],
            data["message"],
            data["where"],
            data["base"],
            data["plugin"],
            data["successor"],
            tuple(data["releases"]),
            tuple(Site(**site) for site in data["sites"]),
        )


def merged(findings: list[Finding]) -> list[Finding]:
    """One finding for each that holds at several releases, with every release's call sites, in first-seen order."""
    kept: dict[tuple[str, str, str, str, str, str | None], Finding] = {}
    for finding in findings:
        earlier = kept.get(finding.key)
        if earlier is None:
            kept[finding.key] = finding
        else:
            releases = tuple(dict.fromkeys((*earlier.releases, *finding.releases)))
            kept[finding.key] = replace(earlier, releases=releases, sites=(*earlier.sites, *finding.sites))
    return list(kept.values())


@dataclass(frozen=True)
class PlatformClass:
    """A class an entry point leads to: where it is, how it was found, and the classes it inherits from."""

    qualname: str
    where: str  # path:line in the plugin
    found: str  # how the entry point leads to it ("returns 'a.b.C' at a/__init__.py:4")
    lineage: tuple[str, ...]  # its method resolution order, each "Name (path:line)"
    derives_platform: bool

    def to_data(self) -> dict[str, Any]:
        return {
            "qualname": self.qualname,
            "where": self.where,
            "found": self.found,
            "lineage": list(self.lineage),
            "derives_platform": self.derives_platform,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PlatformClass:
        return cls(data["qualname"], data["where"], data["found"], tuple(data["lineage"]), data["derives_platform"])


@dataclass(frozen=True)
class EntryPoint:
    group: str
    name: str
    value: str  # module:function
    path: str  # where it is declared, relative to the plugin's folder
    line: int

    def to_data(self) -> dict[str, Any]:
        return {"group": self.group, "name": self.name, "value": self.value, "path": self.path, "line": self.line}


@dataclass
class PluginReport:
    plugin: str
    version: str | None
    source: str  # what the reader named: a folder, a file, NAME==VERSION
    releases: list[str]
    entry_points: list[EntryPoint]
    classes: list[PlatformClass] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)  # what could not be read, each "path:line: why"

    @property
    def fails(self) -> bool:
        return any(finding.severity == "error" for finding in self.findings)

    def errors_at(self, release: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error" and release in f.releases]

    def to_data(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "version": self.version,
            "source": self.source,
            "releases": self.releases,
            "entry_points": [entry.to_data() for entry in self.entry_points],
            "classes": [item.to_data() for item in self.classes],
            "findings": [finding.to_data() for finding in self.findings],
            "unread": self.unread,
        }
