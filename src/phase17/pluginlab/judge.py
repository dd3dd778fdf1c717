"""The judgement of one platform class at one release: each member its lineage defines, the plugin's own against
what it overrides (kind, signature, the engine's calls, stubs), what it inherits from vLLM (NotImplementedError, an
answer the engine refuses), the attributes the engine reads, and, for a class that is no Platform, what it lacks."""

from __future__ import annotations

import re

from phase17.instruments.changes import ContractChanges
from phase17.instruments.classes import ClassInfo, Member
from phase17.pluginlab.calls import EngineCall, Parameters
from phase17.pluginlab.code import ClassRef
from phase17.pluginlab.findings import Finding, FindingKind, Severity, Site
from phase17.pluginlab.lineage import Lineage, is_platform_base

PLATFORM_ATTRIBUTES = ("device_name", "device_type", "dispatch_key", "dist_backend")
_EMPTY_LITERALS = frozenset({'""', "''", "None", "[]", "{}", "()"})


def _kind(member: Member) -> str:
    return "attribute" if member.kind == "attribute" else ("def" if member.form == "method" else member.form)


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _callable(member: Member) -> bool:
    return member.kind == "method" and member.form != "property"


class Judge:
    """The findings for one class at one release."""

    def __init__(
        self,
        cls: ClassRef,
        lineage: Lineage,
        calls: dict[str, list[EngineCall]],
        release: str,
        pin_hooks: frozenset[str] | None,
        changes: ContractChanges | None,
        plugin_text: str,
    ) -> None:
        self.cls, self.lineage, self.calls, self.release = cls, lineage, calls, release
        self.pin_hooks, self.changes, self.plugin_text = pin_hooks, changes, plugin_text
        self.defined = lineage.defined()
        base = lineage.platform()
        self.platform: ClassInfo | None = base[1] if base else None
        # the in-tree platform the plugin builds on (CpuPlatform, ...), if any
        self.in_tree = next((c for c in lineage.order if c.origin == "upstream" and not is_platform_base(c)), None)
        self.out: list[Finding] = []

    def findings(self) -> list[Finding]:
        if self.platform is None:
            self._add(
                self.cls.name,
                "",
                "base",
                "warning",
                "does not derive from vLLM's Platform: no default of "
                "Platform applies, and every member the engine uses that it lacks is an AttributeError",
                self.cls.where,
            )
        for name, (owner, member) in sorted(
            self.defined.items(), key=lambda item: (item[1][0] != self.cls, item[1][1].line)
        ):
            if owner.origin == "plugin" and not (name.startswith("__") and name.endswith("__")):
                self._own(name, owner, member)
        self._inherited()
        self._attributes()
        return self.out

    # -- what the plugin's own classes define

    def _own(self, name: str, owner: ClassRef, member: Member) -> None:
        where = f"{owner.path}:{member.line}"
        above = self.lineage.above(name)
        if name == "_enum":
            self._enum(owner, member, where)
            return
        if above is None:
            self._unknown(name, owner, member, where)
            return
        contract = above[1]
        if self.pin_hooks is not None and name not in self.pin_hooks and is_platform_base(above[0]):
            self._add(
                owner.name,
                name,
                "becomes-hook",
                "info",
                f"becomes a hook at {self.release}: now overrides Platform.{name}",
                where,
                base=contract.signature or contract.value,
            )
        self._kind_against(name, owner, member, above, where)
        if member.kind == "method" and contract.kind == "method" and member.form != "property":
            self._signature(name, owner, member, contract, where)
            self._stub(name, owner, member, above, where)

    def _unknown(self, name: str, owner: ClassRef, member: Member, where: str) -> None:
        change = self.changes.successor_of(name) if self.changes else None
        if change is not None and self.pin_hooks is not None and name in self.pin_hooks:
            renamed = change.kind == "renamed"
            self._add(
                owner.name,
                name,
                "renamed" if renamed else "removed",
                "error" if renamed else "warning",
                f"Platform.{name} is {'renamed to ' + str(change.successor) if renamed else 'gone'} at {self.release}: "
                "this override is never called",
                where,
                base=change.before,
                plugin=member.signature or member.value,
                successor=change.successor,
            )
            return
        if name in self.calls or member.kind == "attribute" or name.startswith("__"):
            return  # the engine uses it by name (served by Platform.__getattr__ otherwise); or a value of the class
        used = re.search(rf"\.{re.escape(name)}\b", self.plugin_text) is not None
        self._add(
            owner.name,
            name,
            "overrides-nothing",
            "info" if used else "warning",
            "no class above it defines it and the engine never calls it; "
            + ("the plugin calls it itself (a helper)" if used else "nothing calls it (dead, or renamed upstream)"),
            where,
            plugin=member.signature,
        )

    def _kind_against(
        self, name: str, owner: ClassRef, member: Member, above: tuple[ClassRef, Member], where: str
    ) -> None:
        theirs, mine = _kind(above[1]), _kind(member)
        if theirs == mine:
            return
        sites = self._sites(name)
        message = f"{_a(mine)} where {above[0].name} has {_a(theirs)}"
        severity: Severity = "warning"
        if _callable(above[1]) and not _callable(member) and sites:
            severity, message = "error", message + f": the engine calls it, and a {mine}'s value is no function"
        elif {theirs, mine} == {"property", "attribute"}:
            value = f" {member.returns}" if member.returns else ""
            message += (
                f": read on the instance (current_platform.{name}) it is{value or ' its value'}; read on the class "
                f"(cls.{name} in a classmethod) it is the property object"
            )
        elif not _callable(above[1]) and _callable(member):
            message += f": the engine reads current_platform.{name} and gets a bound method, not a value"
        elif theirs == "classmethod" and mine == "def":
            message += f": current_platform.{name}(...) works, but a classmethod calling cls.{name}(...) lacks self"
        self._add(
            owner.name,
            name,
            "kind",
            severity,
            message,
            where,
            base=theirs,
            plugin=self._written(member),
            sites=sites if severity == "error" else (),
        )

    def _signature(self, name: str, owner: ClassRef, member: Member, contract: Member, where: str) -> None:
        mine, theirs = Parameters.of(member.signature, member.form), Parameters.of(contract.signature, contract.form)
        if mine is None or theirs is None:
            return
        taken = set(mine.positional) | mine.keyword_only
        lacking = [item for item in (*theirs.positional, *sorted(theirs.keyword_only)) if item not in taken]
        if theirs.positional != mine.positional[: len(theirs.positional)] or (lacking and not mine.star_kwargs):
            what = f"lacks {', '.join(lacking)}" if lacking else "positional parameters differ in name or order"
            self._add(
                owner.name,
                name,
                "signature",
                "warning",
                f"{what}: {member.signature} against the contract's {contract.signature}",
                where,
                base=contract.signature,
                plugin=member.signature,
            )
        refused: dict[str, list[Site]] = {}
        for call in self.calls.get(name, []):
            why = mine.refuses(call.positional, call.keywords, call.unpacked)
            if why is not None and not call.handles("TypeError"):
                refused.setdefault(why, []).append(Site(self.release, call.path, call.line))
        for why, sites in refused.items():
            self._add(
                owner.name,
                name,
                "call",
                "error",
                f"the engine calls it with {why}: a TypeError at run time",
                where,
                base=contract.signature,
                plugin=member.signature,
                sites=tuple(sites),
            )

    def _stub(self, name: str, owner: ClassRef, member: Member, above: tuple[ClassRef, Member], where: str) -> None:
        sites = self._sites(name)
        refusals = self._refusals(name)
        contract = above[1]
        returned = member.expression or ""
        passes_on = re.fullmatch(rf"super\(\)\.{re.escape(name)}\(.*\)", returned, re.DOTALL) is not None
        if member.abstract:
            uncaught = self._sites(name, "NotImplementedError")
            message = f"raises NotImplementedError; {self._how_called(name, uncaught)}"
            self._add(
                owner.name, name, "stub", "error" if uncaught else "info", message, where, sites=uncaught or sites
            )
        elif refusals and (member.returns in _EMPTY_LITERALS or (passes_on and contract.returns in _EMPTY_LITERALS)):
            value = member.returns if member.returns in _EMPTY_LITERALS else f"super()'s {contract.returns}"
            every = len(refusals) == len(sites)  # raised on wherever it is asked: no path takes the answer
            self._add(
                owner.name,
                name,
                "stub",
                "error" if every else "warning",
                f"returns {value}, which the engine raises on" + self._refused_where(refusals, sites),
                where,
                sites=refusals,
            )
        elif member.empty and sites and not contract.empty:
            annotation = contract.signature.partition(" -> ")[2].strip().strip("\"'")
            if annotation and annotation != "None" and "None" not in annotation and "Optional" not in annotation:
                severity: Severity = "warning" if annotation == "bool" else "error"
                self._add(
                    owner.name,
                    name,
                    "stub",
                    severity,
                    f"does nothing, so it returns None where {above[0].name}.{name} returns {annotation}",
                    where,
                    sites=sites,
                )

    def _enum(self, owner: ClassRef, member: Member, where: str) -> None:
        value = (member.value or "").strip()
        found = re.fullmatch(r"(?:\w+\.)*PlatformEnum\.(\w+)", value)
        if found is None or found.group(1) in ("OOT", "UNSPECIFIED") or self.platform is None:
            return
        enum = f"PlatformEnum.{found.group(1)}"
        tests = re.compile(  # `self._enum == PlatformEnum.X`, or `self._enum in (..., PlatformEnum.X, ...)`
            rf"^(self|cls)\._enum\s*(==\s*{re.escape(enum)}|in\s*[(\[{{][^)\]}}]*\b{re.escape(enum)}\b[^)\]}}]*[)\]}}])$"
        )
        gates = sorted(  # the gates that answer True for it, as the class has them (its own, or Platform's)
            name
            for name, (_, item) in self.defined.items()
            if item.kind == "method" and tests.match(item.expression or "")
        )
        what = (
            f"{', '.join(f'{gate}()' for gate in gates)} answer True on it, so where the engine asks them it takes "
            "that platform's code paths"
            if gates
            else "no gate of its lineage tests it"
        )
        message = f"_enum = {enum}: an out-of-tree class that says it is an in-tree platform; {what}"
        sites = tuple(site for gate in gates for site in self._sites(gate))
        self._add(owner.name, "_enum", "enum", "info", message, where, plugin=value, sites=sites)

    # -- what the class inherits from vLLM

    def _inherited(self) -> None:
        contract = self.platform.members if self.platform is not None else []
        for name in sorted({member.name for member in contract if member.kind == "method"}):
            owner, member = self.defined[name]
            if owner.origin == "plugin" or member.kind != "method":
                continue
            uncaught = self._sites(name, "NotImplementedError")
            refusals = self._refusals(name)
            if member.abstract:
                self._add(
                    self.cls.name,
                    name,
                    "not-implemented",
                    "warning" if uncaught else "info",
                    f"inherits {owner.name}.{name}, which raises NotImplementedError; "
                    + self._how_called(name, uncaught),
                    self.cls.where,
                    base=member.signature,
                    sites=uncaught or self._sites(name),
                )
            elif member.returns in _EMPTY_LITERALS and refusals:
                self._add(  # a warning, as for NotImplementedError: it fails only if the engine takes that path
                    self.cls.name,
                    name,
                    "not-implemented",
                    "warning",
                    f"inherits {owner.name}.{name}, which returns {member.returns}; the engine raises on that answer"
                    + self._refused_where(refusals, self._sites(name)),
                    self.cls.where,
                    base=member.signature,
                    sites=refusals,
                )
        if self.platform is None:
            self._missing()

    def _missing(self) -> None:
        """A class that is no Platform: each member the engine calls that no class in its lineage defines."""
        for name in sorted(self.calls):
            uncaught = self._sites(name, "AttributeError")
            if name in self.defined or name.startswith("__") or not uncaught:
                continue
            message = (
                f"the engine calls current_platform.{name}(...), and {self.cls.name} has no {name}: an "
                "AttributeError at run time"
            )
            self._add(self.cls.name, name, "missing", "error", message, self.cls.where, sites=uncaught)

    def _attributes(self) -> None:
        for name in PLATFORM_ATTRIBUTES:
            got = self.defined.get(name)
            if got is None:
                self._add(
                    self.cls.name,
                    name,
                    "missing" if self.platform is None else "attribute",
                    "error" if self.platform is None else "warning",
                    f"{name} is not set anywhere in its lineage; the engine reads current_platform.{name}",
                    self.cls.where,
                )
                continue
            owner, member = got
            written = self._written(member)
            if owner.origin == "plugin":
                self._add(
                    owner.name,
                    name,
                    "attribute",
                    "info",
                    f"{name}: {written}",
                    f"{owner.path}:{member.line}",
                    plugin=written,
                )
            elif is_platform_base(owner) and self.in_tree is not None:  # the in-tree platform's own choice
                message = f"{name}: inherited from {self.in_tree.name} (Platform's), {written}"
                self._add(self.cls.name, name, "attribute", "info", message, self.cls.where, base=written)
            elif is_platform_base(owner):
                default = member.value or "(annotated only: no value)"
                message = f"{name} not set: Platform's {default}"
                self._add(self.cls.name, name, "attribute", "warning", message, self.cls.where, base=member.value)
            else:
                self._add(
                    self.cls.name,
                    name,
                    "attribute",
                    "info",
                    f"{name}: inherited from {owner.name}, {written}",
                    self.cls.where,
                    base=written,
                )

    # -- helpers

    @staticmethod
    def _written(member: Member) -> str:
        """A member's value as written: `= "cuda"`, `a property returning "cuda"`, `a classmethod`."""
        if member.kind == "attribute":
            return f"= {member.value}" if member.value is not None else "annotated only (no value)"
        if member.form == "property":
            return f"a property returning {member.returns}" if member.returns else "a property"
        return f"a {_kind(member)}"

    def _sites(self, name: str, uncaught: str | None = None) -> tuple[Site, ...]:
        """The engine's calls of `name`; with `uncaught`, only those where no `try` around the call catches it."""
        return tuple(
            Site(self.release, call.path, call.line)
            for call in self.calls.get(name, [])
            if uncaught is None or not call.handles(uncaught)
        )

    def _how_called(self, name: str, uncaught: tuple[Site, ...]) -> str:
        if uncaught:
            return "the engine calls it"
        if self.calls.get(name):
            return "the engine calls it only inside a `try` that catches that"
        return "the engine never calls it"

    @staticmethod
    def _refused_where(refusals: tuple[Site, ...], sites: tuple[Site, ...]) -> str:
        return "" if len(refusals) == len(sites) else f" at {len(refusals)} of the {len(sites)} places it is asked"

    def _refusals(self, name: str) -> tuple[Site, ...]:
        return tuple(
            Site(self.release, call.path, call.refuses_empty, "refusal")
            for call in self.calls.get(name, [])
            if call.refuses_empty is not None
        )

    def _add(
        self,
        cls: str,
        member: str,
        kind: FindingKind,
        severity: Severity,
        message: str,
        where: str | None,
        *,
        base: str | None = None,
        plugin: str | None = None,
        successor: str | None = None,
        sites: tuple[Site, ...] = (),
    ) -> None:
        self.out.append(
            Finding(cls, member, kind, severity, message, where, base, plugin, successor, (self.release,), sites)
        )
