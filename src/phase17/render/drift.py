"""What `check` and `pin REF` show: findings, diffs, suggestions, mends."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from phase17.drift import STATUSES, CheckOutcome, Finding, summary_counts
from phase17.mends import Mend
from phase17.render.layout import FittedTable, diff_lines

_STATUS_STYLE = {"ok": "green", "moved": "cyan", "changed": "yellow", "missing": "red", "ambiguous": "magenta"}


def findings_report(findings: Sequence[Finding]) -> RenderableType:
    """A table per notes file, then the diff of each changed anchor and the suggestions for each missing one."""
    parts: list[RenderableType] = []
    for target in sorted({finding.target for finding in findings}, key=lambda name: (name == "questions", name)):
        mine = [finding for finding in findings if finding.target == target]
        rows = []
        for finding in mine:
            label = Text(finding.qualname)
            cited = (
                "-"
                if finding.cited is None
                else f"{finding.note}" + (f" ({finding.cited})" if finding.line is not None else "")
            )
            status = Text(finding.status, style=_STATUS_STYLE[finding.status])
            if finding.line_inside is False:
                status.append(" (line left)", style="red")
            now = "-" if finding.current is None else f"{finding.current.start}-{finding.current.end}"
            if finding.status == "ambiguous":
                now = ", ".join(f"{m.start}-{m.end}" for m in finding.matches)
            rows.append((label, status, finding.kind, f"{finding.recorded.start}-{finding.recorded.end}", now, cited))
        parts.append(FittedTable(("anchor", "status", "kind", "recorded", "now", "cited in"), rows, title=target))
        for finding in mine:
            parts.extend(_finding_details(finding))
    counts = summary_counts(findings)
    line = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
    if counts["line left its symbol"]:
        line += f"; {counts['line left its symbol']} cited line(s) left their symbol"
    parts.append(Text(line, style="bold"))
    return Group(*parts)


def _finding_details(finding: Finding) -> list[RenderableType]:
    details: list[RenderableType] = []
    where = f"{finding.target}: {finding.anchor}"
    if finding.status == "changed":
        details.append(
            Text(f"changed  {where} (review it, then: phase17 check --accept {finding.qualname})", style="yellow")
        )
        if finding.diff:
            details.append(diff_lines(finding.diff))
        else:
            details.append(
                Text("  (the recorded text is not in upstream/'s history, so no diff can be shown)", style="dim")
            )
    if finding.status == "missing":
        details.append(Text(f"missing  {where}", style="red"))
        if not finding.suggestions:
            details.append(
                Text("  no candidate found; relink by hand: phase17 check --relink REF NEW_REF", style="dim")
            )
        for suggestion in finding.suggestions:
            details.append(
                Text(
                    f"  -> {suggestion.ref}  lines {suggestion.start}-{suggestion.end}  score "
                    f"{suggestion.score:.2f}  {suggestion.reason}"
                )
            )
        if finding.suggestions:
            details.append(
                Text(f"  relink: phase17 check --relink {finding.qualname} {finding.suggestions[0].ref}", style="dim")
            )
    if finding.line_inside is False and finding.current is not None:
        details.append(
            Text(
                f"line left  {finding.cited}: line {finding.line} is no longer inside {finding.qualname} "
                f"(now {finding.current.start}-{finding.current.end}); edit the note's prose to cite the new line.",
                style="red",
            )
        )
    return details


def mends(items: Sequence[Mend], action: str) -> RenderableType:
    """What a mend rewrote, e.g. action="rewrote the lines of"."""
    if not items:
        return Text(f"No anchor to mend: nothing {action.split()[0]}.", style="dim")
    lines = [
        Text(
            f"{action[0].upper() + action[1:]} {len(items)} anchor(s); the previous files are kept as "
            "annotations/*.yaml.bak:",
            style="green",
        )
    ]
    lines += [Text(f"  {item.target}: {item.before}  ->  {item.after}") for item in items]
    return Group(*lines)


def check_outcome(outcome: CheckOutcome) -> RenderableType:
    """What the mends rewrote (stderr), before the findings themselves."""
    return Group(*(mends(items, action) for action, items in outcome.mended))
