"""Anchors against the current tree: each one ok, moved, changed, missing or ambiguous, and the check-and-mend flow.

Every anchor (a target's key symbols and every citation in the notes) is found again by name; nothing trusts a
recorded line. A missing one gets ranked suggestions (renamed in place, moved to another class or file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from phase17.drift.findings import REVIEWED, Finding, Location, Status, Suggestion
from phase17.drift.mends import Mend, accept_changed, fix_moved, relink_missing, retire_deleted
from phase17.drift.suggestions import History, definitions_in, diff_against_recorded, recorded_symbol, suggest
from phase17.errors import Phase17Error
from phase17.index.lookup import editor_lines, file_definitions
from phase17.index.tree import Tree
from phase17.notes.store import (
    Anchor,
    Citation,
    LastCheck,
    PinStamp,
    list_notes_files,
    load_notes,
    save_last_check,
)
from phase17.source.symbols import Symbol

if TYPE_CHECKING:
    from phase17.notes.guide import ReadingList
    from phase17.upstream.pin import Pin

# A missing anchor whose best candidate scores below this is `deleted`: its candidates are the closest code, not a
# successor. Measured on the real releases (v0.22.1 -> v0.33.0): a deleted method's best look-alike scored 0.56
# and the next ones 0.52 to 0.55 (same-file methods with similar names), while a rename scored 0.87 and a method
# hoisted into the base class in another file 0.65.
DELETED_BELOW = 0.6


# ---------------------------------------------------------------- checking


def missing_or_deleted(suggestions: Sequence[Suggestion]) -> Status:
    """The verdict on an anchor whose name is gone: `missing` (look at the best successor) when one scores at least
    DELETED_BELOW, else `deleted`. Code that was already there when the note was written is no successor."""
    successors = [item for item in suggestions if not item.existed]
    return "missing" if successors and successors[0].score >= DELETED_BELOW else "deleted"


def check_notes(notes_dir: Path, upstream: Tree, history_roots: Sequence[Path] = ()) -> list[Finding]:
    """Find every anchor of every notes file again in `upstream`; old texts come from `history_roots`' git history."""
    context = History(upstream=upstream, history_roots=tuple(history_roots) or (upstream.root,))
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
    finding = replace(
        finding, note=citation.note, cited=citation.cited, line=citation.line, last_line=citation.last_line
    )
    if citation.anchor.retired:
        return finding
    if citation.line_text is not None and citation.line is not None and finding.current is not None:
        if finding.status in ("ok", "moved", "changed"):
            return _check_cited_line(context, finding, citation)
    if citation.line is not None and finding.current is not None and finding.status in ("ok", "moved", "changed"):
        inside = (
            finding.current.start <= citation.line <= finding.current.end
            and finding.current.path == citation.anchor.path
        )
        finding = replace(finding, line_inside=inside)
    return finding


def _check_cited_line(context: History, finding: Finding, citation: Citation) -> Finding:
    """A `file.py:LINE` (or `file.py:A-B`) citation is an anchor of its own: its text, found again inside the
    definition it was cited in, judged by itself and its neighbours, never by the rest of that definition.

    ok: the same text at the same line; moved: the same text at another line of the definition (the nearest to
    where it sat), its neighbours as they were; changed: the text is gone from the definition, or a line within
    NEIGHBOURS of it changed. A text now in another definition is a hint (`moved_into`), never the verdict: two
    methods can end in the same `return`, and a sentence about one is not about the other."""
    assert finding.current is not None and citation.line is not None and citation.line_text is not None
    current = finding.current
    lines = context.lines_now(current.path)
    span = citation.last_line - citation.line if citation.last_line is not None else 0
    expected = current.start + (citation.line - citation.anchor.start)
    found = [
        number
        for number in range(current.start, current.end - span + 1)
        if _holds(lines, number, citation.line_text)
        and (not span or _holds(lines, number + span, citation.last_text or ""))
    ]
    base = replace(finding, line_text=citation.line_text, symbol_status=finding.status, line_inside=None)
    if not found:
        elsewhere = _line_elsewhere(context, current, citation.line_text)
        if elsewhere is not None:
            base = replace(base, moved_into=elsewhere[1], elsewhere_line=elsewhere[0])
        return replace(base, status="changed", nearby=_where_now(lines, current, citation.line_text, expected))
    nearest = min(found, key=lambda line: (abs(line - expected), line))
    before = _neighbours_then(context, citation, span)
    if before is not None and before != _neighbours(lines, nearest, span):
        return replace(
            base,
            status="changed",
            line_now=nearest,
            nearby=_shown(lines, nearest - NEIGHBOURS, nearest + span + NEIGHBOURS),
        )
    return replace(base, status="ok" if nearest == citation.line else "moved", line_now=nearest)


NEIGHBOURS = 3  # lines either side of a cited line whose change may change what the note says of it


def _holds(lines: list[str], number: int, text: str) -> bool:
    return 1 <= number <= len(lines) and lines[number - 1].strip() == text


def _neighbours(lines: list[str], first: int, span: int) -> tuple[str, ...]:
    """The cited lines and NEIGHBOURS lines either side, stripped, as a file has them."""
    window = range(first - NEIGHBOURS, first + span + NEIGHBOURS + 1)
    return tuple(lines[number - 1].strip() if 1 <= number <= len(lines) else "" for number in window)


def _neighbours_then(context: History, citation: Citation, span: int) -> tuple[str, ...] | None:
    """The cited lines' neighbourhood as the note's tree had it (from upstream/'s history); None when not kept."""
    assert citation.line is not None
    anchor = citation.anchor
    for version in context.of(anchor.path):  # the version the note was written at: the symbol where it stood
        if any(
            symbol.qualname == anchor.qualname
            and symbol.start_line == anchor.start
            and symbol.has_fingerprint(anchor.fingerprint)
            for symbol in definitions_in(version.content, anchor.path)
        ):
            whole = editor_lines(version.content.decode("utf-8", errors="replace"))
            return _neighbours(whole, citation.line, span)
    return None


def _where_now(lines: list[str], current: Location, text: str, expected: int) -> tuple[str, ...]:
    """The lines now where the cited text most likely went: around the most alike line of its definition (a line
    of another definition is a look-alike, not the cited one), else around where it sat."""
    import difflib

    def likeness(number: int) -> float:
        return difflib.SequenceMatcher(None, lines[number - 1].strip(), text).ratio()

    candidates = [number for number in range(current.start, current.end + 1) if lines[number - 1].strip()]
    best = max(candidates, key=likeness, default=None)
    if best is not None and likeness(best) >= 0.6:
        return _shown(lines, best - 1, best + 1)
    around = max(expected - 1, current.start)
    return _shown(lines, around, around + 2)


def _shown(lines: list[str], low: int, high: int) -> tuple[str, ...]:
    return tuple(f"{number}: {lines[number - 1].strip()}" for number in range(max(low, 1), min(high, len(lines)) + 1))


# A line this short or this common (`return x`, `pass`) found elsewhere says nothing about where the cited one went.
_DISTINCT_LINE = 12


def _line_elsewhere(context: History, current: Location, text: str) -> tuple[int, str] | None:
    """Where a cited line's text is now outside its symbol, and the definition holding it: only when the file
    holds it exactly once, and it is long enough to be that line."""
    if len(text) < _DISTINCT_LINE:
        return None
    lines = context.lines_now(current.path)
    found = [
        number
        for number, line in enumerate(lines, 1)
        if line.strip() == text and not current.start <= number <= current.end
    ]
    if len(found) != 1:
        return None
    holders = [
        symbol
        for symbol in file_definitions(context.upstream, current.path)
        if symbol.start_line <= found[0] <= symbol.end_line
    ]
    if not holders:
        return found[0], "(module)"
    innermost = min(holders, key=lambda symbol: (symbol.end_line - symbol.start_line, -symbol.start_line))
    return found[0], innermost.qualname


def _check_anchor(context: History, target: str, anchor: Anchor) -> Finding:
    recorded = Location(anchor.path, anchor.start, anchor.end, anchor.fingerprint)
    base = Finding(target=target, anchor=anchor.symbol, kind=anchor.kind, status="missing", recorded=recorded)
    if anchor.retired:
        return replace(base, status="retired")
    try:
        same_name = [
            symbol for symbol in file_definitions(context.upstream, anchor.path) if symbol.qualname == anchor.qualname
        ]
    except Phase17Error:
        same_name = []  # the file is gone or unreadable: look for the symbol elsewhere
    if len(same_name) > 1:
        return replace(base, status="ambiguous", matches=tuple(_location(symbol) for symbol in same_name))
    if not same_name:
        suggestions = tuple(suggest(context, anchor))
        return replace(base, status=missing_or_deleted(suggestions), suggestions=suggestions)
    symbol = same_name[0]
    current = _location(symbol)
    if not symbol.has_fingerprint(anchor.fingerprint):
        old = recorded_symbol(context, anchor)
        cosmetic = (
            old is not None
            and bool(symbol.logic_fingerprint)
            and old.symbol.logic_fingerprint == symbol.logic_fingerprint
        )
        diff = diff_against_recorded(context, anchor, symbol)
        return replace(base, status="changed", current=current, diff=diff, cosmetic=cosmetic)
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
    accept_cosmetic: bool = False
    retire: tuple[str, ...] = ()
    rewrite_lines: bool = False  # with fix: also rewrite `file.py:LINE` in the prose to the line's new number
    stamp: PinStamp | None = None  # the current pin: what mended lines belong to

    @property
    def any(self) -> bool:
        return self.fix or bool(self.accept) or self.relink is not None or self.accept_cosmetic or bool(self.retire)


@dataclass(frozen=True)
class CheckOutcome:
    """The findings after any mends, and what each mend rewrote (action, mends)."""

    findings: list[Finding]
    mended: tuple[tuple[str, tuple[Mend, ...]], ...] = ()

    @property
    def has_problems(self) -> bool:
        return any(finding.is_problem for finding in self.findings)


def check_and_mend(notes_dir: Path, upstream: Tree, request: MendRequest = MendRequest()) -> CheckOutcome:
    """Check every anchor, apply the mends asked for, check again, and remember the health for `list`."""
    findings = check_notes(notes_dir, upstream)
    mended: list[tuple[str, tuple[Mend, ...]]] = []
    stamp = request.stamp
    if request.fix:
        fixed = fix_moved(notes_dir, findings, stamp, rewrite_lines=request.rewrite_lines)
        mended.append(("rewrote the lines of", tuple(fixed)))
    for ref in request.accept:
        mended.append(("accepted the current code of", tuple(accept_changed(notes_dir, findings, ref, stamp))))
    if request.accept_cosmetic:
        cosmetic = accept_changed(notes_dir, findings, "", stamp, cosmetic=True)
        mended.append(("accepted the docstring-only changes of", tuple(cosmetic)))
    if request.relink:
        mended.append(("relinked", tuple(relink_missing(notes_dir, upstream, findings, *request.relink, stamp))))
    for ref in request.retire:
        mended.append(("retired", tuple(retire_deleted(notes_dir, findings, ref))))
    if request.any:
        findings = check_notes(notes_dir, upstream)
    write_last_check(notes_dir, findings)
    return CheckOutcome(findings=findings, mended=tuple(mended))


def check_mend_and_export(
    notes_dir: Path, notebooks_dir: Path, upstream: Tree, request: MendRequest, reading_list: ReadingList, pin: Pin
) -> CheckOutcome:
    """check_and_mend, then the exported notebook written again when a mend rewrote a notes file."""
    from phase17.notes.export import write_export

    outcome = check_and_mend(notes_dir, upstream, request)
    if outcome.mended:
        write_export(notes_dir, notebooks_dir, reading_list, pin)
    return outcome


def write_last_check(notes_dir: Path, findings: Sequence[Finding]) -> None:
    """Remember each target's anchor health (for `phase17 list`) and the citations still to review (for the
    export's marks): code that changed, is gone, or whose cited line now stands only in other code."""
    health: dict[str, str] = {}
    for name in sorted({finding.target for finding in findings}):
        problems = [finding for finding in findings if finding.target == name and finding.is_problem]
        health[name] = "ok" if not problems else f"{len(problems)} to review"
    unreviewed = frozenset(
        (finding.target, finding.note, finding.cited, finding.recorded.fingerprint)
        for finding in findings
        if finding.note is not None
        and finding.cited is not None
        and (finding.status in REVIEWED or finding.moved_into is not None)
    )
    save_last_check(notes_dir, LastCheck(health, unreviewed))
