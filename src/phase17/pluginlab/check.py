"""An out-of-tree platform plugin met with vLLM's Platform contract, release by release: the classes its entry
points lead to (pluginlab.lineage), each judged against what it really inherits (Platform, or an in-tree platform
such as CpuPlatform) and against every call the engine makes through `current_platform` in that release's tree.

A call the plugin's def cannot accept, a hook the engine calls that raises NotImplementedError, returns nothing or
returns an answer the engine refuses, or a member the class lacks fail only at run time, on the device: those are
errors (exit 1). The rest are warnings and facts. Each finding names the plugin's own file:line and the releases
it holds at, with the engine's call sites in each release's tree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from phase17.index.tree import Tree
from phase17.instruments.changes import ContractChanges
from phase17.pluginlab.calls import calls_by_name
from phase17.pluginlab.code import ClassRef, Code
from phase17.pluginlab.findings import Finding, PlatformClass, PluginReport, merged
from phase17.pluginlab.judge import Judge
from phase17.pluginlab.lineage import (
    BASE_MODULE,
    Chosen,
    classes_of_entry,
    lineage_of,
    plugin_platform_classes,
)
from phase17.pluginlab.source import PLATFORM_GROUP, PluginError, PluginTree, entry_points


@dataclass(frozen=True)
class Release:
    """One vLLM tree a plugin is checked against: its label (v0.22.1), where it is, and its commit."""

    label: str
    upstream: Tree
    commit: str


@dataclass
class AtRelease:
    """What the check found at one release."""

    classes: list[PlatformClass] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return {
            "classes": [item.to_data() for item in self.classes],
            "findings": [finding.to_data() for finding in self.findings],
            "unread": self.unread,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> AtRelease:
        return cls(
            [PlatformClass.from_data(item) for item in data["classes"]],
            [Finding.from_data(item) for item in data["findings"]],
            list(data["unread"]),
        )


def check_plugin(
    tree: PluginTree, releases: Sequence[Release], changes: Mapping[str, ContractChanges] | None = None
) -> PluginReport:
    """The plugin at each release (the pin first), its findings merged: one finding for what holds at several."""
    points, unread = entry_points(tree.files)
    if not points:
        raise PluginError(
            f"{tree.shown}: no entry point in pyproject.toml, setup.cfg, setup.py or *-info/entry_points.txt; a vLLM "
            "plugin declares one (group vllm.platform_plugins for a platform)."
        )
    report = PluginReport(tree.name, tree.version, tree.shown, [r.label for r in releases], points, unread=unread)
    report.unread += tree.files.skipped
    if not any(entry.group == PLATFORM_GROUP for entry in points):
        return report  # a general plugin: no platform to check, and nothing wrong with that
    pin_hooks = platform_members(tree, releases[0])
    findings: list[Finding] = []
    for position, release in enumerate(releases):
        later = (pin_hooks, (changes or {}).get(release.label)) if position else (None, None)
        found = kept_check_at(tree, release, *later)
        if position == 0:
            report.classes = found.classes
        findings += found.findings
        report.unread += [line for line in found.unread if line not in report.unread]
    report.findings = merged(findings)
    return report


def platform_members(tree: PluginTree, release: Release) -> frozenset[str]:
    """The names Platform defines at `release`."""
    from phase17.pluginlab.lineage import lineage_of as _lineage
    from phase17.pluginlab.reading import Reader

    code = Code(tree.files, release.upstream)
    found = Reader(code).attribute_of_module(BASE_MODULE, "Platform", BASE_MODULE)
    base = next((value for value in found if isinstance(value, ClassRef)), None)
    if base is None:
        raise PluginError(f"{release.label}: no class Platform in {BASE_MODULE}; is this a vLLM tree?")
    lineage = _lineage(base, code)
    return frozenset(member.name for member in lineage.infos[base].members)


def kept_check_at(
    tree: PluginTree, release: Release, pin_hooks: frozenset[str] | None, changes: ContractChanges | None
) -> AtRelease:
    """check_at, kept between runs: keyed on the bytes of the plugin phase17 read, the release's commit and tree,
    and what it is compared with."""
    from phase17.index.kept import remembered

    context = f"{sorted(pin_hooks) if pin_hooks else ''}:{changes.to_data() if changes else ''}"
    kind = f"plugin:{tree.files.digest()}:{release.label}:{release.commit}:{context}"
    return AtRelease.from_data(
        remembered(release.upstream, kind, ("vllm",), lambda: check_at(tree, release, pin_hooks, changes).to_data())
    )


def check_at(
    tree: PluginTree, release: Release, pin_hooks: frozenset[str] | None = None, changes: ContractChanges | None = None
) -> AtRelease:
    """Every finding for the platform classes the plugin registers, against `release`'s tree."""
    points, _ = entry_points(tree.files)
    code = Code(tree.files, release.upstream)
    calls = calls_by_name(release.upstream, ("vllm",))
    found = AtRelease()
    targets: list[tuple[ClassRef, str]] = []
    for entry in [point for point in points if point.group == PLATFORM_GROUP]:
        chosen = classes_of_entry(entry, code)
        found.unread += [f"{item} (entry point {entry.name})" for item in chosen.unread]
        targets += [(cls, _how_found(cls, chosen)) for cls in chosen.classes]
    if not targets:
        found.unread.append(
            "the entry point's choice of class could not be read; every Platform subclass the plugin defines is checked"
        )
        targets = [(cls, "defined by the plugin") for cls in plugin_platform_classes(code, _plugin_modules(tree))]
    text = _plugin_code(tree)
    for cls, how in dict(targets).items():
        lineage = lineage_of(cls, code)
        found.classes.append(
            PlatformClass(
                cls.qualname, cls.where, how, tuple(_shown(item) for item in lineage.order), lineage.derives_platform
            )
        )
        found.unread += [str(item) for item in lineage.unread]
        judge = Judge(cls, lineage, calls, release.label, pin_hooks, changes, text)
        found.findings += judge.findings()
    found.unread += code.unreadable
    return found


def _how_found(cls: ClassRef, chosen: Chosen) -> str:
    named = next(
        (text for text in chosen.named if text.value.rsplit(".", 1)[-1] in (cls.name, chosen.aliases.get(cls))), None
    )
    how = f"named by {named.value!r} at {named.where}" if named else "named by the entry point"
    alias = chosen.aliases.get(cls)
    if alias:
        others = [item.name for item in chosen.classes if chosen.aliases.get(item) == alias and item != cls]
        how += f"; {alias} is bound to {cls.name}" + (f" or {', '.join(others)} (each is checked)" if others else "")
    return how


def _shown(cls: ClassRef) -> str:
    return f"{cls.name} ({cls.where})" if cls.origin == "upstream" else f"{cls.name} ({cls.where}, the plugin's)"


def _plugin_modules(tree: PluginTree) -> list[str]:
    modules = []
    roots = tree.files.package_roots()
    for path in sorted(tree.files.files):
        if not path.endswith(".py") or "/tests/" in f"/{path}" or path.startswith("test"):
            continue
        root = max((root for root in roots if path.startswith(root)), key=len)
        dotted = path[len(root) : -3].replace("/", ".").removesuffix(".__init__")
        if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", dotted):
            modules.append(dotted)
    return modules


def _plugin_code(tree: PluginTree) -> str:
    """The plugin's Python, joined: to tell its own helpers from dead code."""
    return "\n".join(
        data.decode("utf-8", "replace") for path, data in sorted(tree.files.files.items()) if path.endswith(".py")
    )
