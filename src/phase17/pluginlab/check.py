"""An out-of-tree platform plugin met with vLLM's Platform contract at the pin: each member of the plugin's class
(and of its bases inside the plugin) against the base's, and against every call the engine makes of it through
`current_platform`; what the plugin leaves unimplemented; the attributes the engine reads of a platform.

A keyword the engine passes that the override does not take, or more positional arguments than it accepts, fails
only at run time, on the device: those are errors (exit 1). The rest are warnings and facts.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from phase17.instruments.changes import ContractChanges
from phase17.instruments.classes import ClassInfo, Member, classes_of
from phase17.instruments.contract import BASE_NAME, BASE_PATH, build_contract
from phase17.pluginlab.calls import EngineCall, Parameters, calls_by_name
from phase17.pluginlab.source import (
    PLATFORM_GROUP,
    EntryPoint,
    PluginError,
    PluginTree,
    entry_points,
    module_file,
    registered_class,
)

FindingKind = Literal[
    "signature", "decorator", "call", "overrides-nothing", "not-implemented", "removed", "renamed", "attribute"
]
FINDING_KINDS: tuple[FindingKind, ...] = get_args(FindingKind)
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
PLATFORM_ATTRIBUTES = ("device_name", "device_type", "dispatch_key", "dist_backend")


@dataclass(frozen=True)
class Finding:
    cls: str
    member: str
    kind: FindingKind
    severity: Severity
    message: str
    base: str | None = None  # the base's side (a signature, a form, a value)
    plugin: str | None = None  # the plugin's side
    site: str | None = None  # path:line of the engine's call, for a call that cannot be accepted
    successor: str | None = None
    release: str | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "class": self.cls,
            "member": self.member,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "base": self.base,
            "plugin": self.plugin,
            "site": self.site,
            "successor": self.successor,
            "release": self.release,
        }


@dataclass
class PluginReport:
    plugin: str
    version: str | None
    entry_points: list[EntryPoint]
    platform_classes: list[str]
    findings: list[Finding] = field(default_factory=list)

    @property
    def fails(self) -> bool:
        return any(finding.severity == "error" for finding in self.findings)

    def to_data(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "version": self.version,
            "entry_points": [entry.to_data() for entry in self.entry_points],
            "platform_classes": self.platform_classes,
            "findings": [finding.to_data() for finding in self.findings],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PluginReport:
        findings = [
            Finding(
                item["class"],
                item["member"],
                item["kind"],
                item["severity"],
                item["message"],
                item["base"],
                item["plugin"],
                item["site"],
                item["successor"],
                item["release"],
            )
            for item in data["findings"]
        ]
        points = [EntryPoint(**entry) for entry in data["entry_points"]]
        return cls(data["plugin"], data["version"], points, list(data["platform_classes"]), findings)


def kept_check(
    upstream: Path, tree: PluginTree, other: tuple[Path, ContractChanges, str] | None = None
) -> PluginReport:
    """check_plugin (or check_against the release `other`: its tree, the changes, its commit), kept: the plugin by
    its files' contents, the pinned tree by its own, the release by its commit."""
    from phase17.instruments.memo import remembered

    digest = hashlib.sha256()
    for path in sorted(tree.root.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.suffix in (".py", ".toml", ".cfg", ".txt"):
            digest.update(path.relative_to(tree.root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    release = f"{other[2]}:{other[1].release}" if other else ""

    def compute() -> dict[str, Any]:
        if other is None:
            return check_plugin(upstream, tree).to_data()
        return check_against(upstream, other[0], tree, other[1]).to_data()

    kind = f"plugin:{tree.name}:{tree.version}:{digest.hexdigest()}:{release}"
    return PluginReport.from_data(remembered(upstream, kind, ("vllm",), compute))


# ---------------------------------------------------------------- the plugin's classes


def plugin_classes(root: Path, qualname: str) -> list[tuple[ClassInfo, str]]:
    """The class `qualname` names and its bases inside the plugin, most derived first, with each one's module."""
    chain: list[tuple[ClassInfo, str]] = []
    wanted: list[tuple[str, str]] = [tuple(qualname.rsplit(".", 1))]  # type: ignore[list-item]
    seen: set[tuple[str, str]] = set()
    while wanted:
        module, name = wanted.pop(0)
        if (module, name) in seen:
            continue
        seen.add((module, name))
        path = module_file(root, module)
        if path is None:
            if not chain:
                raise PluginError(f"{qualname}: no module {module} in the plugin; is its source there?")
            continue
        source = path.read_bytes()
        relative = path.relative_to(root).as_posix()
        records = {item["name"]: item for item in classes_of(relative, source)["classes"]}
        if name not in records:
            if not chain:
                raise PluginError(f"{qualname}: no class {name} in {relative}.")
            continue
        info = _class_info(relative, records[name])
        chain.append((info, module))
        imports = _imported_names(source, module)
        for base in info.bases:
            last = base.rsplit(".", 1)[-1].split("[", 1)[0]
            if last in records:
                wanted.append((module, last))
            elif last in imports:
                wanted.append((imports[last], last))
    return chain


def _class_info(path: str, item: dict[str, Any]) -> ClassInfo:
    from phase17.instruments.classes import _StoredMembers

    members = _StoredMembers(item["members"])
    return ClassInfo(item["name"], path, item["line"], item["end"], tuple(item["bases"]), members)


def _imported_names(source: bytes, module: str) -> dict[str, str]:
    """`from X import Name` in a module: Name -> X (relative imports made absolute within the plugin)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    package = module.rsplit(".", 1)[0] if "." in module else ""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: -node.level] if node.level <= module.count(".") + 1 else []
                base = ".".join([*parts, base] if base else parts) or package
            for alias in node.names:
                names[alias.asname or alias.name] = base
    return names


# ---------------------------------------------------------------- the check


def check_against(
    upstream: Path, other: Path, tree: PluginTree, changes: ContractChanges, under: Sequence[str] = ("vllm",)
) -> PluginReport:
    """The plugin at the pin, then at the other release: what would break on upgrading. The other release's
    findings carry its name; a member the plugin overrides that the release removed or renamed says so."""
    report = check_plugin(upstream, tree, under)
    later = check_plugin(other, tree, under, release=changes.release)
    seen = {(finding.cls, finding.member, finding.kind, finding.message) for finding in report.findings}
    report.findings += [
        finding
        for finding in later.findings
        if finding.kind in ("call", "signature", "decorator", "not-implemented")
        and (finding.cls, finding.member, finding.kind, finding.message) not in seen
    ]
    for qualname in report.platform_classes:
        for info, _ in plugin_classes(tree.root, qualname):
            for member in info.members:
                change = changes.successor_of(member.name)
                if change is None or change.cls != BASE_NAME:
                    continue
                renamed = change.kind == "renamed"
                fate = f"renamed to {change.successor}" if renamed else "gone"
                report.findings.append(
                    Finding(
                        info.name,
                        member.name,
                        "renamed" if renamed else "removed",
                        "error",
                        f"{BASE_NAME}.{member.name} is {fate} at {changes.release}: this override is never called",
                        base=change.before,
                        plugin=member.signature,
                        successor=change.successor,
                        release=changes.release,
                    )
                )
    return report


def check_plugin(
    upstream: Path, tree: PluginTree, under: Sequence[str] = ("vllm",), release: str | None = None
) -> PluginReport:
    """Every finding for the platform classes the plugin registers, against the Platform of `upstream`."""
    points = entry_points(tree.root)
    if not points:
        raise PluginError(
            f"{tree.root}: no entry point in pyproject.toml, setup.cfg, setup.py or *-info/entry_points.txt; "
            "a vLLM plugin declares one (group vllm.platform_plugins for a platform)."
        )
    registering = [entry for entry in points if entry.group == PLATFORM_GROUP]
    report = PluginReport(tree.name, tree.version, points, [])
    if not registering:
        return report  # a general plugin: no platform to check, and nothing wrong with that
    contract = build_contract(upstream, BASE_NAME, BASE_PATH, under=under)
    platforms = {contract.base.name} | {info.name for info in contract.platforms}
    calls = calls_by_name(upstream, under)
    for entry in registering:
        qualname = registered_class(tree.root, entry)
        report.platform_classes.append(qualname)
        chain = plugin_classes(tree.root, qualname)
        inside = {info.name for info, _ in chain}
        outside = {base.rsplit(".", 1)[-1].split("[", 1)[0] for info, _ in chain for base in info.bases} - inside
        if not outside & platforms:
            raise PluginError(
                f"{qualname}: not a subclass of vLLM's {BASE_NAME} (its bases outside the plugin: "
                f"{', '.join(sorted(outside)) or 'none'}); register() must return a Platform subclass's name."
            )
        report.findings += _findings(chain, contract.base, calls, tree.root, release)
    return report


def _findings(
    chain: list[tuple[ClassInfo, str]],
    base: ClassInfo,
    calls: dict[str, list[EngineCall]],
    root: Path,
    release: str | None,
) -> list[Finding]:
    leaf = chain[0][0].name
    defined: dict[str, tuple[ClassInfo, Member]] = {}
    for info, _ in reversed(chain):  # the most derived definition wins
        for member in info.members:
            defined[member.name] = (info, member)
    findings: list[Finding] = []
    plugin_text = _plugin_code(root)
    for name, (info, member) in sorted(defined.items(), key=lambda item: item[1][1].line):
        origin = base.member(name)
        if member.kind == "attribute":
            continue
        if origin is None:
            findings += _unknown_member(info.name, member, calls, plugin_text, release)
        elif origin.kind == "method":
            findings += _against_base(info.name, member, origin, calls.get(name, []), release)
    for origin in base.members:
        if origin.kind == "method" and origin.abstract and origin.name not in defined:
            called = calls.get(origin.name, [])
            findings.append(
                Finding(
                    leaf,
                    origin.name,
                    "not-implemented",
                    "warning",  # fails only if the engine takes the path that calls it
                    f"inherits {base.name}.{origin.name}, which raises NotImplementedError"
                    + ("; the engine calls it" if called else "; the engine never calls it"),
                    base=origin.signature,
                    site=f"{called[0][0]}:{called[0][1]}" if called else None,
                    release=release,
                )
            )
    for attribute in PLATFORM_ATTRIBUTES:
        own = defined.get(attribute)
        value = own[1].value if own else None
        declared = base.member(attribute)
        default = declared.value if declared is not None else None
        findings.append(
            Finding(
                own[0].name if own else leaf,
                attribute,
                "attribute",
                "info" if own else "warning",
                f"{attribute} = {value}" if own else f"{attribute} not set: the base's {default or '(annotated only)'}",
                base=default,
                plugin=value,
                release=release,
            )
        )
    return findings


def _against_base(
    cls: str, member: Member, origin: Member, sites: list[EngineCall], release: str | None
) -> list[Finding]:
    findings = []
    if member.form != origin.form:
        findings.append(
            Finding(
                cls,
                member.name,
                "decorator",
                "error" if "property" in (member.form, origin.form) else "warning",
                f"a {member.label} where the base has a {origin.label}",
                base=origin.label,
                plugin=member.label,
                release=release,
            )
        )
    mine, theirs = Parameters.of(member.signature, member.form), Parameters.of(origin.signature, origin.form)
    if mine is None or theirs is None:
        return findings
    taken = set(mine.positional) | mine.keyword_only
    lacking = [name for name in (*theirs.positional, *sorted(theirs.keyword_only)) if name not in taken]
    if theirs.positional != mine.positional[: len(theirs.positional)] or (lacking and not mine.star_kwargs):
        what = f"lacks {', '.join(lacking)}" if lacking else "positional parameters differ in name or order"
        findings.append(
            Finding(
                cls,
                member.name,
                "signature",
                "warning",
                f"{what}: {member.signature} against the base's {origin.signature}",
                base=origin.signature,
                plugin=member.signature,
                release=release,
            )
        )
    for path, line, positional, keywords, unpacked in sites:
        why = mine.refuses(positional, keywords, unpacked)
        if why is not None:
            findings.append(
                Finding(
                    cls,
                    member.name,
                    "call",
                    "error",
                    f"the engine calls it with {why}: a TypeError at run time",
                    base=origin.signature,
                    plugin=member.signature,
                    site=f"{path}:{line}",
                    release=release,
                )
            )
    return findings


def _unknown_member(
    cls: str,
    member: Member,
    calls: dict[str, list[EngineCall]],
    plugin_text: str,
    release: str | None,
) -> list[Finding]:
    if member.name.startswith("__") or member.name in calls:
        return []
    used = plugin_text.count(f".{member.name}(") + plugin_text.count(f".{member.name} ") > 0
    return [
        Finding(
            cls,
            member.name,
            "overrides-nothing",
            "info" if used else "warning",
            "not a member of Platform and never called by the engine; "
            + ("the plugin calls it itself (a helper)" if used else "nothing calls it (dead, or renamed upstream)"),
            plugin=member.signature,
            release=release,
        )
    ]


def _plugin_code(root: Path) -> str:
    """Every Python file of the plugin, joined: to tell its own helpers from dead code."""
    texts = []
    for path in sorted(root.rglob("*.py")):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 4 * 1024 * 1024:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)
