"""Anchors against the current tree: each one ok, moved, changed, missing or ambiguous, and the check-and-mend flow.

Every anchor (a target's key symbols and every citation in the notes) is found again by name; nothing trusts a
recorded line. A missing one gets ranked suggestions (renamed in place, moved to another class or file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from phase17.annotations import Anchor, Citation, list_notes_files, load_notes, save_health
from phase17.errors import Phase17Error
from phase17.mends import Mend, accept_changed, fix_moved, relink_missing
from phase17.sourcetree import file_definitions
from phase17.suggestions import History, Suggestion, diff_against_recorded, suggest
from phase17.symbols import Symbol

Status = Literal["ok", "moved", "changed", "missing", "ambiguous"]
STATUSES: tuple[Status, ...] = ("ok", "moved", "changed", "missing", "ambiguous")


@dataclass(frozen=True)
class Location:
    path: str
    start: int
    end: int
    fingerprint: str


@dataclass(frozen=True)
class Finding:
    """One anchor's verdict."""

    target: str  # the notes file (target key, or "questions")
    anchor: str  # path::qualname as recorded
    kind: str
    status: Status
    recorded: Location
    current: Location | None = None
    matches: tuple[Location, ...] = ()  # every definition, when ambiguous
    suggestions: tuple[Suggestion, ...] = ()
    note: str | None = None  # set for a citation: the note it was cited in
    cited: str | None = None  # the citation as written
    line: int | None = None  # a path:line citation's line
    line_inside: bool | None = None  # does that line still lie in the symbol it pointed into?
    diff: str | None = None  # recorded -> current source of a changed anchor, when git has the old text

    @property
    def is_problem(self) -> bool:
        return self.status != "ok" or self.line_inside is False

    @property
    def qualname(self) -> str:
        return self.anchor.split("::", 1)[-1]


# ---------------------------------------------------------------- checking


def check_notes(notes_dir: Path, upstream: Path, history_roots: Sequence[Path] = ()) -> list[Finding]:
    """Find every anchor of every notes file again in `upstream`; old texts come from `history_roots`' git history."""
    context = History(upstream=upstream, history_roots=tuple(history_roots) or (upstream,))
    findings: list[Finding] = []
    for name in list_notes_files(notes_dir):
        notes = load_notes(notes_dir, name)
        for anchor in notes.anchors:
            findings.append(_check_anchor(context, name, anchor))
        for citation in notes.citations:
            findings.append(_check_citation(context, name, citation))
    return findings


def _check_citation(context: History, target: str, citation: Citation) -> Finding:
    finding = _check_anchor(context, target, citation.anchor)
    finding = replace(finding, note=citation.note, cited=citation.cited, line=citation.line)
    if citation.line is not None and finding.current is not None and finding.status in ("ok", "moved", "changed"):
        inside = (
            finding.current.start <= citation.line <= finding.current.end
            and finding.current.path == citation.anchor.path
        )
        finding = replace(finding, line_inside=inside)
    return finding


def _check_anchor(context: History, target: str, anchor: Anchor) -> Finding:
    recorded = Location(anchor.path, anchor.start, anchor.end, anchor.fingerprint)
    base = Finding(target=target, anchor=anchor.symbol, kind=anchor.kind, status="missing", recorded=recorded)
    try:
        same_name = [
            symbol for symbol in file_definitions(context.upstream, anchor.path) if symbol.qualname == anchor.qualname
        ]
    except Phase17Error:
        same_name = []  # the file is gone or unreadable: look for the symbol elsewhere
    if len(same_name) > 1:
        return replace(base, status="ambiguous", matches=tuple(_location(symbol) for symbol in same_name))
    if not same_name:
        return replace(base, suggestions=tuple(suggest(context, anchor)))
    symbol = same_name[0]
    current = _location(symbol)
    if not symbol.has_fingerprint(anchor.fingerprint):
        return replace(base, status="changed", current=current, diff=diff_against_recorded(context, anchor, symbol))
    unmoved = (symbol.start_line, symbol.end_line) == (anchor.start, anchor.end)
    # a record of the old fingerprint form counts as moved, so that `check --fix` rewrites it in the new form
    status: Status = "ok" if unmoved and symbol.fingerprint == anchor.fingerprint else "moved"
    return replace(base, status=status, current=current)


def _location(symbol: Symbol) -> Location:
    return Location(symbol.path, symbol.start_line, symbol.end_line, symbol.fingerprint)


# ---------------------------------------------------------------- check, then mend


@dataclass(frozen=True)
class MendRequest:
    """What a reader asked `check` to mend: moved lines, reviewed changes, one relink."""

    fix: bool = False
    accept: tuple[str, ...] = ()
    relink: tuple[str, str] | None = None

    @property
    def any(self) -> bool:
        return self.fix or bool(self.accept) or self.relink is not None


@dataclass(frozen=True)
class CheckOutcome:
    """The findings after any mends, and what each mend rewrote (action, mends)."""

    findings: list[Finding]
    mended: tuple[tuple[str, tuple[Mend, ...]], ...] = ()

    @property
    def has_problems(self) -> bool:
        return any(finding.is_problem for finding in self.findings)


def check_and_mend(notes_dir: Path, upstream: Path, request: MendRequest = MendRequest()) -> CheckOutcome:
    """Check every anchor, apply the mends asked for, check again, and remember the health for `list`."""
    findings = check_notes(notes_dir, upstream)
    mended: list[tuple[str, tuple[Mend, ...]]] = []
    if request.fix:
        mended.append(("rewrote the lines of", tuple(fix_moved(notes_dir, findings))))
    for ref in request.accept:
        mended.append(("accepted the current code of", tuple(accept_changed(notes_dir, findings, ref))))
    if request.relink:
        mended.append(("relinked", tuple(relink_missing(notes_dir, upstream, findings, *request.relink))))
    if request.any:
        findings = check_notes(notes_dir, upstream)
    write_last_check(notes_dir, findings)
    return CheckOutcome(findings=findings, mended=tuple(mended))


def summary_counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {status: 0 for status in STATUSES}
    for finding in findings:
        counts[finding.status] += 1
    counts["line left its symbol"] = sum(1 for finding in findings if finding.line_inside is False)
    return counts


def write_last_check(notes_dir: Path, findings: Sequence[Finding]) -> None:
    """Remember each target's anchor health for `phase17 list`."""
    health: dict[str, str] = {}
    for name in sorted({finding.target for finding in findings}):
        problems = [finding for finding in findings if finding.target == name and finding.is_problem]
        health[name] = "ok" if not problems else f"{len(problems)} to review"
    save_health(notes_dir, health)


def finding_data(finding: Finding) -> dict[str, object]:
    """The JSON record of a finding (see `phase17 check --json`)."""

    def place(location: Location | None) -> dict[str, object] | None:
        return (
            None
            if location is None
            else {
                "path": location.path,
                "start": location.start,
                "end": location.end,
                "fingerprint": location.fingerprint,
            }
        )

    data: dict[str, object] = {
        "target": finding.target,
        "anchor": finding.anchor,
        "kind": finding.kind,
        "status": finding.status,
        "recorded": place(finding.recorded),
        "current": place(finding.current),
        "suggestions": [suggestion.to_data() for suggestion in finding.suggestions],
    }
    if finding.matches:
        data["matches"] = [place(location) for location in finding.matches]
    if finding.cited is not None:
        data.update({"note": finding.note, "cited": finding.cited})
    if finding.line is not None:
        data.update({"line": finding.line, "line_inside": finding.line_inside})
    if finding.diff is not None:
        data["diff"] = finding.diff
    return data
