"""What the plugin lab shows: a plugin's check (its entry points, classes, what is left to do, its findings by
severity, each with the releases it holds at and the engine's call sites there) and the compatibility matrix."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from phase17.pluginlab.findings import SEVERITIES, Finding, PluginReport, Site
from phase17.pluginlab.matrix import Matrix, grouped_breaks
from phase17.render.layout import FittedTable
from phase17.safety.text import neutralized

SHOWN_SITES = 2  # per release; --json lists them all
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "bold"}
assert set(_SEVERITY_STYLE) == set(SEVERITIES)


def plugin_check_screen(report: PluginReport) -> RenderableType:
    """The plugin, its entry points and classes, what is left to do, then its findings, errors first."""
    several = len(report.releases) > 1
    at = " and ".join(report.releases)
    version = f" {report.version}" if report.version else ""
    lines: list[RenderableType] = [
        Text(f"Plugin {report.plugin}{version} ({report.source}), read at {at}", style="bold")
    ]
    for entry in report.entry_points:
        lines.append(Text(f"  entry point {entry.group}: {entry.name} = {entry.value}  ({entry.path}:{entry.line})"))
    if not report.classes:
        lines.append(Text("  no platform class to check (no vllm.platform_plugins entry point)", style="dim"))
    for item in report.classes:
        lines.append(Text.assemble("  platform class ", (item.qualname, "bold"), f"  ({item.where})"))
        lines.append(Text(f"    {item.found}", style="dim"))
        lines.append(Text(f"    lineage: {' -> '.join(item.lineage)}", style="dim"))
    for unread in report.unread:
        lines.append(Text(f"  not read: {neutralized(unread)}", style="yellow"))
    to_do = [finding for finding in report.findings if finding.kind == "stub" and finding.severity == "error"]
    if to_do:
        lines.append(
            Text(f"To do ({len(to_do)}): hooks the engine calls that the plugin leaves unimplemented", style="bold red")
        )
        for finding in to_do:
            lines += _finding(finding, several)
    for severity in SEVERITIES:
        found = [finding for finding in report.findings if finding.severity == severity and finding not in to_do]
        if found:
            lines.append(Text(f"{len(found)} {severity}(s):", style=_SEVERITY_STYLE[severity]))
            for finding in found:
                lines += _finding(finding, several)
    lines.append(Text(_verdict(report), style="bold"))
    return Group(*lines)


def _finding(finding: Finding, several: bool) -> list[RenderableType]:
    where = f"  {finding.where}" if finding.where else ""
    releases = f"  [{' + '.join(finding.releases)}]" if several else ""
    lines: list[RenderableType] = [
        Text.assemble(
            f"  {finding.cls}.",
            (finding.member or "(class)", "bold"),
            where,
            f"  [{finding.kind}] ",
            neutralized(finding.message),
            (releases, "cyan"),
        )
    ]
    for role, label in (("call", "called at"), ("refusal", "raises on the answer at")):
        sites = _sites(tuple(site for site in finding.sites if site.role == role), several)
        if sites:
            lines.append(Text(f"    {label} {sites}", style="dim", no_wrap=True, overflow="ignore"))
    return lines


def _sites(sites: tuple[Site, ...], several: bool) -> str:
    by_release: dict[str, list[Site]] = {}
    for site in sites:
        by_release.setdefault(site.release, []).append(site)
    parts = []
    for release, found in by_release.items():
        shown = ", ".join(f"{site.path}:{site.line}" for site in found[:SHOWN_SITES])
        more = f" and {len(found) - SHOWN_SITES} more" if len(found) > SHOWN_SITES else ""
        parts.append(f"{shown}{more}" + (f" ({release})" if several else ""))
    return "; ".join(parts)


def _verdict(report: PluginReport) -> str:
    if not any(finding.severity == "error" for finding in report.findings):
        return f"{report.plugin}: nothing found that would fail at run time (0 errors)."
    counts = ", ".join(f"{len(report.errors_at(release))} error(s) at {release}" for release in report.releases)
    to_do = sum(finding.kind == "stub" and finding.severity == "error" for finding in report.findings)
    left = f" ({to_do} of them to do)" if to_do else ""
    return f"{report.plugin}: would fail at run time: {counts}{left}."


def plugin_matrix_screen(matrix: Matrix) -> RenderableType:
    """Plugins down, releases across: ok, warnings (n) or breaks (n) in each cell; then each break with the first
    release it appears at."""
    rows = []
    for row in matrix.rows:
        cells: list[Text | str] = [row.label]
        for release in matrix.releases:
            cell = row.cells.get(release)
            if cell is None:
                cells.append(Text("-", style="dim"))
            elif cell.status == "breaks":
                cells.append(Text(f"breaks ({cell.errors})", style="bold red"))
            elif cell.status == "warnings":
                cells.append(Text(f"warnings ({cell.warnings})", style="yellow"))
            elif cell.status == "unreadable":
                cells.append(Text("unreadable", style="bold red"))
            else:
                cells.append(Text("ok", style="green"))
        rows.append(cells)
    table = FittedTable(["plugin", *matrix.releases], rows, title="Plugins x vLLM releases")
    lines: list[RenderableType] = [table]
    for row in matrix.rows:
        if row.problem:
            lines.append(Text(f"{row.label}: {neutralized(row.problem)}", style="yellow"))
        for group in grouped_breaks(row):
            lines.append(Text(f"{row.label}: {neutralized(group.line())}"))
    return Group(*lines)
