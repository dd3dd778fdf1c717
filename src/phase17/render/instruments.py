"""What the study instruments show: uses of a name, the contract, the gates, how plugins load."""

from __future__ import annotations

import shlex

from rich.console import Group, RenderableType
from rich.text import Text

from phase17.instruments.backends import BackendChoice, by_condition
from phase17.instruments.callers import CallerNode
from phase17.instruments.changes import CHANGE_KINDS, ContractChanges
from phase17.instruments.classes import ClassInfo
from phase17.instruments.contract import Contract, Difference, shorten
from phase17.instruments.effects import EffectsReport
from phase17.instruments.gates import Gate, GatesReport
from phase17.instruments.material import Material
from phase17.instruments.plugins import PluginsReport
from phase17.instruments.usages import UsageReport
from phase17.render.layout import FittedTable, Wrapped

SHOWN_PER_GROUP = 3  # the rest with --attr GROUP (or --json)


def usage_report(report: UsageReport, *, every: bool) -> RenderableType:
    """Counts per group, most used first, each with its first uses (all of them with `every`); one use per line,
    printed whole (a path is what a reader copies)."""
    kinds = "attributes" if report.mode == "attributes" else "receivers"
    lines: list[RenderableType] = [
        Text(
            f"{report.name}: {len(report.usages)} uses in code, {len(report.groups())} {kinds}, "
            f"{report.files_searched} files searched",
            style="bold",
        )
    ]
    for group, count in report.groups():
        uses = [usage for usage in report.usages if usage.group == group]
        calls = sum(usage.is_call for usage in uses)
        label = f"{report.name}.{group}" if report.mode == "attributes" and not group.startswith("(") else group
        lines.append(Text.assemble((f"{label}", "bold cyan"), f"  {count} use(s), {calls} call(s)"))
        if report.is_declared(group) is False:
            served = f"{report.served_by} serves it" if report.served_by else "no platform class declares it"
            lines.append(Text(f"    undeclared: {served}", style="yellow"))
        shown = uses if every else uses[:SHOWN_PER_GROUP]
        for usage in shown:
            lines.append(
                Text(
                    f"    {usage.path}:{usage.line}  in {usage.enclosing or '(module)'}",
                    no_wrap=True,
                    overflow="ignore",
                )
            )
        if len(uses) > len(shown):
            more = len(uses) - len(shown)
            if group.startswith("("):  # a kind of use, not an attribute: --json lists every use
                hint = f"phase17 usages {shlex.quote(report.name)} --json lists them all"
            else:
                hint = f"phase17 usages {shlex.quote(report.name)} --attr {shlex.quote(group)}"
            lines.append(Text(f"    ... {more} more: {hint}", style="dim"))
    return Group(*lines)


def contract_matrix(contract: Contract, backends: dict[str, tuple[BackendChoice, ...]] | None = None) -> RenderableType:
    """The base's members against each subclass; a narrow terminal gets one record per member. With `backends`,
    then the attention backends each class's get_attn_backend_cls names, by condition, in its order."""
    names = [info.name for info in contract.platforms]
    parts: list[RenderableType] = [
        Text(
            f"{contract.base.name} ({contract.base.path}:{contract.base.line}): {len(contract.rows)} members, "
            f"{len(names)} subclasses",
            style="bold",
        )
    ]
    rows = []
    for member, cells in contract.rows:
        base_text = shorten(member.value or "(annotated)") if member.kind == "attribute" else member.label
        rows.append([member.name, base_text] + [cells[name].text for name in names])
    parts.append(FittedTable(["member", contract.base.name, *names], rows))
    for alias, chosen in sorted(contract.aliases.items()):
        parts.append(Text(f"alias {alias} = {' or '.join(chosen)} (chosen at import time)", style="dim"))
    for name, members in contract.added.items():
        listed = ", ".join(member.name for member in members)
        parts.append(Text(f"{name} adds: {listed}", no_wrap=True, overflow="ignore"))
    if backends:
        parts.append(
            Text("Attention backends each get_attn_backend_cls names (in its order, by condition):", style="bold")
        )
        for name, choices in backends.items():
            if not choices:
                continue  # (Platform's own answers "": no backend)
            parts.append(Text(f"  {name}", style="bold cyan"))
            for when, named in by_condition(choices):
                said = f"{', '.join(named)}" + (f"  when {when}" if when else "  always")
                parts.append(Wrapped(said, "    ", "        "))
    return Group(*parts)


def differences_table(sub: ClassInfo, root: ClassInfo, differences: list[Difference]) -> RenderableType:
    title = Text(f"{sub.name} ({sub.path}:{sub.line}) against {root.name} ({root.path}:{root.line})", style="bold")
    rows = [(item.member, item.kind, str(item.line), item.summary) for item in differences]
    return Group(title, FittedTable(("member", "kind", "line", "what differs"), rows))


def plugins_screen(report: PluginsReport) -> RenderableType:
    """Plugin groups and where they load, the builtin platform plugins and where one is chosen, and an entry
    point to copy; one fact per line, printed whole."""
    lines: list[RenderableType] = [Text("Plugin groups defined upstream (entry-point groups):", style="bold")]
    for group in report.groups:
        lines.append(
            Text(
                f"  {group.value}  ({group.constant or 'as a string'}, {group.path}:{group.line})",
                no_wrap=True,
                overflow="ignore",
            )
        )
        for site in group.loaded_at:
            lines.append(
                Text(
                    f"    loaded in {site.enclosing or '(module)'}  {site.path}:{site.line}",
                    no_wrap=True,
                    overflow="ignore",
                )
            )
        if not group.loaded_at:
            lines.append(Text("    no load site found", style="dim"))
    lines.append(Text("Loader functions:", style="bold"))
    lines += [
        Text(f"  {site.enclosing}  {site.path}:{site.line}", no_wrap=True, overflow="ignore")
        for site in sorted(report.loaders, key=lambda s: (s.path, s.line))
    ]
    if report.builtin_platforms:
        lines.append(
            Text("Builtin platform plugins (each returns a Platform class's qualified name, or None):", style="bold")
        )
        for key, function, site in report.builtin_platforms:
            lines.append(Text(f"  {key}: {function}  {site.path}:{site.line}", no_wrap=True, overflow="ignore"))
    if report.chooser:
        lines.append(Text("Where one is chosen:", style="bold"))
        lines += [
            Text(f"  {site.enclosing}  {site.path}:{site.line}", no_wrap=True, overflow="ignore")
            for site in report.chooser
        ]
    lines += material_lines(report.material)
    lines.append(Text("Your own plugin:", style="bold"))
    lines.append(
        Text("  phase17 plugins check PATH_OR_WHEEL_OR_NAME==VERSION [--against REF]  (exit 1: it would fail)")
    )
    lines.append(Text("  phase17 plugins new NAME --dir PATH  (a minimal plugin that checks clean)"))
    example = report.entry_point_example()
    if example:
        lines.append(
            Text(f"A minimal out-of-tree platform plugin, for the group {report.platform_group}:", style="bold")
        )
        lines += [Text(f"  {line}", no_wrap=True, overflow="ignore") for line in example.splitlines()]
    return Group(*lines)


def gates_screen(report: GatesReport) -> RenderableType:
    """Each gate, most different across platforms first: its call sites, then the platforms grouped by answer.
    One fact per line, names whole: it reads the same at 60 columns and piped."""
    lines: list[RenderableType] = [
        Text(
            f"{len(report.gates)} gates of {report.base.name} ({report.base.path}:{report.base.line}) on "
            f"{len(report.platforms)} classes, most different first. Call sites: current_platform.<gate> in code. "
            "* inherited; computed: known at run time, from the code at path:line.",
            style="bold",
        )
    ]
    for gate in report.gates:
        more = gate.call_sites - len(gate.first_sites)
        lines.append(Text.assemble((gate.name, "bold cyan"), f"  {gate.call_sites} call site(s)"))
        lines += [Text(f"    {site}", style="dim", no_wrap=True, overflow="ignore") for site in gate.first_sites]
        if more > 0:
            lines.append(Text(f"    ... {more} more: phase17 usages current_platform --attr {gate.name}", style="dim"))
        for value, label in ((True, "True"), (False, "False"), (None, "computed")):
            named = []
            for name, answer in gate.answers.items():
                if answer.value is not value:
                    continue
                mark = "*" if answer.how == "inherited" else ""
                where = f" ({answer.path}:{answer.line})" if value is None and answer.how == "computed" else ""
                named.append(f"{name}{mark}{where}")
            if named:  # wrapped between names (each is shorter than a line)
                lines.append(Text(f"  {label}: {', '.join(named)}"))
            if value is None:  # what decides each computed answer, inline
                lines += _gate_reasons(gate)
    return Group(*lines)


def _gate_reasons(gate: Gate) -> list[RenderableType]:
    """Under `computed:`, each own computed definition's deciding lines and docstring summary, once per place."""
    shown: list[RenderableType] = []
    seen: set[tuple[str | None, int | None]] = set()
    for name, answer in gate.answers.items():
        if answer.value is not None or answer.how != "computed" or (answer.path, answer.line) in seen:
            continue
        seen.add((answer.path, answer.line))
        shown.append(Text(f"    {name}:" + (f' "{answer.summary}"' if answer.summary else ""), style="dim"))
        shown += [Text(f"      {line}", no_wrap=True, overflow="ignore") for line in answer.why]
    return shown


def effects_screen(report: EffectsReport) -> RenderableType:
    """Per platform, each config field its hook writes: the field and value, then the line and the conditions."""
    lines: list[RenderableType] = [
        Text(
            f"What {report.hook} writes to the config, per platform (fields below the config it is handed; "
            "aliases and the class's helpers followed):",
            style="bold",
        )
    ]
    for platform in report.platforms:
        lines.append(
            Text.assemble(
                (platform.name, "bold cyan"), f"  {platform.path}:{platform.line}  {len(platform.effects)} write(s)"
            )
        )
        if platform.helpers:
            lines.append(Text(f"  helpers handed the config: {', '.join(platform.helpers)}", style="dim"))
        for effect in platform.effects:
            wide = "  (process-wide)" if effect.process_wide else ""
            shown = f"  {effect.field} = {shorten(effect.value, 72)}"
            lines.append(Text.assemble(shown, (wide, "bold magenta"), no_wrap=True, overflow="ignore"))
            where = f"    line {effect.line}" + (f", in {effect.via}" if effect.via else "")
            lines.append(Text(where + (f", when {effect.when}" if effect.when else ", always"), style="dim"))
    inherited = [f"{name} runs {origin}'s" for name, origin in sorted(report.inherits.items())]
    if inherited:
        lines.append(Text("Inherited, no override: " + "; ".join(inherited) + "."))
    return Group(*lines)


def callers_tree(root: CallerNode, depth: int) -> RenderableType:
    """The callers, indented under what they call, each `name  path:line` printed whole."""
    where = f"  {root.path}:{root.line}" if root.path else ""
    lines: list[RenderableType] = [
        Text(f"Callers, {depth} level(s) up ({root.count() - 1} shown), of", style="bold"),
        Text.assemble((root.name, "bold cyan"), where, no_wrap=True, overflow="ignore"),
    ]

    def add(node: CallerNode, indent: int) -> None:
        for caller in node.callers:
            mark = "  (already on this path)" if caller.recursive else ""
            lines.append(
                Text(
                    f"{'  ' * indent}<- {caller.name}  {caller.path}:{caller.line}{mark}",
                    no_wrap=True,
                    overflow="ignore",
                )
            )
            add(caller, indent + 1)
        if node.more:
            lines.append(Text(f"{'  ' * indent}<- ... {node.more} more callers", style="dim"))

    add(root, 1)
    if root.looked_up and not root.callers:
        lines.append(Text("  no call of it found in code", style="dim"))
    return Group(*lines)


def material_lines(material: Material) -> list[RenderableType]:
    """Upstream's own design docs, example plugins and tests, each `path:line` first and printed whole."""
    if not material:
        return []

    def line(text: str) -> Text:
        return Text(text, no_wrap=True, overflow="ignore")

    lines: list[RenderableType] = [Text("Upstream's own material (in upstream/):", style="bold")]
    if material.docs:
        lines.append(Text("  design docs that name these:"))
        lines += [line(f"    {doc.path}:{doc.line}  {doc.title} ({', '.join(doc.names)})") for doc in material.docs]
    if material.examples:
        lines.append(Text("  example plugins its tests install (entry points):"))
        lines += [line(f"    {item.path}:{item.line}  {item.group}: {item.entry}") for item in material.examples]
    if material.tests:
        lines.append(Text("  tests that use them:"))
        lines += [line(f"    {site.path}:{site.line}  {site.name}") for site in material.tests]
    return lines


def changes_screen(changes: ContractChanges) -> RenderableType:
    """The contract's changelog, by kind: each member with where it was and where it is now."""
    lines: list[RenderableType] = [Text(f"Platform's contract from {changes.pin} to {changes.release}:", style="bold")]
    for kind in CHANGE_KINDS:
        found = [change for change in changes.changes if change.kind == kind]
        if not found:
            continue
        lines.append(Text(f"{len(found)} {kind}:", style="bold"))
        for change in found:
            head = f"  {change.cls}.{change.member}"
            if change.successor:
                head += f" -> {change.successor} ({change.score:.2f})"
            elif change.kind == "removed" and change.score is not None:
                head += f"  (no successor; the closest scored {change.score:.2f})"
            lines.append(Text(head, no_wrap=True, overflow="ignore"))
            for label, where in (("was", change.before), ("now", change.after)):
                if where:
                    lines.append(Text(f"    {label} {where}", style="dim", no_wrap=True, overflow="ignore"))
    if not changes.changes:
        lines.append(Text("  no change"))
    return Group(*lines)
