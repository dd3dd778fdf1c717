"""Anchors against the current tree: each one ok, moved, changed, missing or ambiguous, with safe mends.

Every anchor (a target's key symbols and every citation in the notes) is found again by name; nothing trusts a
recorded line. A missing one gets ranked suggestions (renamed in place, moved to another class or file).
"""

from __future__ import annotations

import difflib
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from phase17.annotations import Anchor, Citation, NotesFile, list_notes_files, load_notes, locked, save_notes
from phase17.errors import Phase17Error
from phase17.fetch import ProgressReporter, fetch_upstream
from phase17.pin import Pin, ProjectPaths, file_history, inspect_upstream, write_pin
from phase17.reading import LAST_CHECK_FILE
from phase17.symbols import Symbol, file_definitions, find_symbol, parse_definitions, parse_ref, python_files, source_lines

Status = Literal["ok", "moved", "changed", "missing", "ambiguous"]
STATUSES: tuple[Status, ...] = ("ok", "moved", "changed", "missing", "ambiguous")
SUGGESTION_THRESHOLD = 0.45
MAX_SUGGESTIONS = 5
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Location:
    path: str
    start: int
    end: int
    fingerprint: str


@dataclass(frozen=True)
class Suggestion:
    """Where a missing anchor may have gone, with a score from 0 to 1 (name and source similarity)."""

    ref: str
    path: str
    start: int
    end: int
    score: float
    reason: str


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


@dataclass
class _Context:
    """Per-check caches: files parsed once, histories read once."""

    upstream: Path
    history_roots: tuple[Path, ...]
    histories: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)


# ---------------------------------------------------------------- checking


def check_notes(notes_dir: Path, upstream: Path, history_roots: Sequence[Path] = ()) -> list[Finding]:
    """Find every anchor of every notes file again in `upstream`; old texts come from `history_roots`' git history."""
    context = _Context(upstream=upstream, history_roots=tuple(history_roots) or (upstream,))
    findings: list[Finding] = []
    for name in list_notes_files(notes_dir):
        notes = load_notes(notes_dir, name)
        for anchor in notes.anchors:
            findings.append(_check_anchor(context, name, anchor))
        for citation in notes.citations:
            findings.append(_check_citation(context, name, citation))
    return findings


def _check_citation(context: _Context, target: str, citation: Citation) -> Finding:
    finding = _check_anchor(context, target, citation.anchor)
    finding = replace(finding, note=citation.note, cited=citation.cited, line=citation.line)
    if citation.line is not None and finding.current is not None and finding.status in ("ok", "moved", "changed"):
        inside = finding.current.start <= citation.line <= finding.current.end and finding.current.path == citation.anchor.path
        finding = replace(finding, line_inside=inside)
    return finding


def _check_anchor(context: _Context, target: str, anchor: Anchor) -> Finding:
    recorded = Location(anchor.path, anchor.start, anchor.end, anchor.fingerprint)
    base = Finding(target=target, anchor=anchor.symbol, kind=anchor.kind, status="missing", recorded=recorded)
    try:
        same_name = [symbol for symbol in file_definitions(context.upstream, anchor.path) if symbol.qualname == anchor.qualname]
    except Phase17Error:
        same_name = []  # the file is gone or unreadable: look for the symbol elsewhere
    if len(same_name) > 1:
        return replace(base, status="ambiguous", matches=tuple(_location(symbol) for symbol in same_name))
    if not same_name:
        return replace(base, suggestions=tuple(suggest(context, anchor)))
    symbol = same_name[0]
    current = _location(symbol)
    if symbol.fingerprint != anchor.fingerprint:
        return replace(base, status="changed", current=current, diff=_diff(context, anchor, symbol))
    status: Status = "ok" if (symbol.start_line, symbol.end_line) == (anchor.start, anchor.end) else "moved"
    return replace(base, status=status, current=current)


def _location(symbol: Symbol) -> Location:
    return Location(symbol.path, symbol.start_line, symbol.end_line, symbol.fingerprint)


# ---------------------------------------------------------------- old text, diffs and suggestions


def recorded_source(context: _Context, anchor: Anchor) -> list[str] | None:
    """The anchor's source as recorded: the version in upstream/'s history whose definition has its fingerprint."""
    if anchor.path not in context.histories:
        versions: list[tuple[str, bytes]] = []
        for root in context.history_roots:
            versions += [(item.carries, item.content) for item in file_history(root, anchor.path)]
        context.histories[anchor.path] = versions
    for _, content in context.histories[anchor.path]:
        for symbol in parse_definitions(content, anchor.path):
            if symbol.qualname == anchor.qualname and symbol.fingerprint == anchor.fingerprint:
                lines = content.decode("utf-8", errors="replace").split("\n")
                return [line.rstrip("\r") for line in lines[symbol.start_line - 1 : symbol.end_line]]
    return None


def _diff(context: _Context, anchor: Anchor, symbol: Symbol) -> str | None:
    old = recorded_source(context, anchor)
    if old is None:
        return None
    new = source_lines(context.upstream, symbol)
    header_old = f"{anchor.path} (recorded, lines {anchor.start}-{anchor.end})"
    header_new = f"{symbol.path} (now, lines {symbol.start_line}-{symbol.end_line})"
    lines = difflib.unified_diff(old, new, header_old, header_new, lineterm="", n=2)
    return "\n".join(_real_line_numbers(line, anchor.start, symbol.start_line) for line in lines)


_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _real_line_numbers(line: str, old_start: int, new_start: int) -> str:
    """difflib numbers hunks from the slice; shift them to the file's own lines."""
    match = _HUNK.match(line)
    if not match:
        return line
    old_line = int(match.group(1)) + old_start - 1
    new_line = int(match.group(3)) + new_start - 1
    return f"@@ -{old_line}{match.group(2) or ''} +{new_line}{match.group(4) or ''} @@{line[match.end():]}"


def suggest(context: _Context, anchor: Anchor) -> list[Suggestion]:
    """Rank where a missing anchor went: same file (renamed, moved to another class), or the same name elsewhere."""
    old_lines = recorded_source(context, anchor)
    old_tokens = _tokens("\n".join(old_lines)) if old_lines else None
    candidates: dict[str, Symbol] = {}
    name = anchor.qualname.rsplit(".", 1)[-1]
    same_file = [anchor.path] if (context.upstream / anchor.path).is_file() else []
    basename = "/" + anchor.path.rsplit("/", 1)[-1]
    # the file itself, or, when it is gone, files of the same name elsewhere (a moved module)
    for relative in same_file or [path for path in python_files(context.upstream) if path.endswith(basename)]:
        try:
            candidates.update((symbol.ref, symbol) for symbol in file_definitions(context.upstream, relative))
        except Phase17Error:
            continue
    for symbol in _named_anywhere(context.upstream, name):
        candidates[symbol.ref] = symbol
    scored = []
    for symbol in candidates.values():
        if _family(symbol.kind) != _family(anchor.kind):
            continue
        score = _score(anchor, symbol, old_tokens, context.upstream)
        if score >= SUGGESTION_THRESHOLD:
            scored.append(
                Suggestion(ref=symbol.ref, path=symbol.path, start=symbol.start_line, end=symbol.end_line, score=round(score, 2), reason=_reason(anchor, symbol))
            )
    scored.sort(key=lambda item: (-item.score, item.ref))
    return scored[:MAX_SUGGESTIONS]


def _named_anywhere(upstream: Path, name: str) -> Iterable[Symbol]:
    """Every definition whose last name is `name`, at any scope, across upstream/ (byte pre-filtered)."""
    needle = name.encode()
    for relative in python_files(upstream):
        try:
            if needle not in (upstream / relative).read_bytes():
                continue
            yield from (symbol for symbol in file_definitions(upstream, relative) if symbol.name == name)
        except (OSError, Phase17Error):
            continue


def _family(kind: str) -> str:
    if kind == "class":
        return "class"
    if kind in ("assignment", "attribute"):
        return "name"
    return "function"


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)[:3000]


def _score(anchor: Anchor, symbol: Symbol, old_tokens: list[str] | None, upstream: Path) -> float:
    old_name, new_name = anchor.qualname.rsplit(".", 1)[-1], symbol.name
    name_score = 0.8 * difflib.SequenceMatcher(None, old_name, new_name).ratio() + 0.2 * difflib.SequenceMatcher(None, anchor.qualname, symbol.qualname).ratio()
    if old_tokens is None:
        return name_score
    new_tokens = _tokens("\n".join(source_lines(upstream, symbol)))
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    source_score = matcher.ratio() if matcher.real_quick_ratio() > 0.3 else matcher.real_quick_ratio()
    return 0.4 * name_score + 0.6 * source_score


def _reason(anchor: Anchor, symbol: Symbol) -> str:
    old_scope, _, old_name = anchor.qualname.rpartition(".")
    renamed = old_name != symbol.name
    if symbol.path != anchor.path:
        into = f" (into {symbol.scope})" if symbol.scope and symbol.scope != old_scope else ""
        return "moved to another file" + into + (" and renamed" if renamed else "")
    if old_scope != symbol.scope:
        return "moved to another class" + (" and renamed" if renamed else "") if symbol.scope or old_scope else "moved in its file"
    return "renamed in place" if renamed else "moved in its file"


# ---------------------------------------------------------------- mends


AnchorChange = Callable[[Anchor, Finding], Anchor]


@dataclass(frozen=True)
class Mend:
    """One anchor rewritten: which, and from what to what."""

    target: str
    anchor: str
    before: str
    after: str


def fix_moved(notes_dir: Path, findings: Sequence[Finding]) -> list[Mend]:
    """Rewrite the recorded lines of anchors that only moved (same fingerprint). The reader's prose is untouched."""
    moved = [finding for finding in findings if finding.status == "moved" and finding.current is not None]
    return _rewrite(notes_dir, moved, lambda anchor, finding: replace(anchor, start=finding.current.start, end=finding.current.end) if finding.current else anchor)


def accept_changed(notes_dir: Path, findings: Sequence[Finding], ref: str) -> list[Mend]:
    """Take the current lines and fingerprint of a changed anchor, once the reader has reviewed the change."""
    chosen = [f for f in findings if f.status == "changed" and _names(f, ref)]
    if not chosen:
        candidates = sorted({f.anchor for f in findings if f.status == "changed"})
        raise Phase17Error(f"no changed anchor named {ref!r}; changed now: {', '.join(candidates) or 'none'}.")
    return _rewrite(
        notes_dir,
        chosen,
        lambda anchor, finding: replace(anchor, start=finding.current.start, end=finding.current.end, fingerprint=finding.current.fingerprint) if finding.current else anchor,
    )


def relink_missing(notes_dir: Path, upstream: Path, findings: Sequence[Finding], ref: str, new_ref: str) -> list[Mend]:
    """Point a missing anchor at another symbol, which must resolve to exactly one definition."""
    chosen = [f for f in findings if f.status == "missing" and _names(f, ref)]
    if not chosen:
        candidates = sorted({f.anchor for f in findings if f.status == "missing"})
        raise Phase17Error(f"no missing anchor named {ref!r}; missing now: {', '.join(candidates) or 'none'}.")
    matches = find_symbol(upstream, parse_ref(new_ref)).symbols
    if len(matches) != 1:
        where = ", ".join(symbol.ref for symbol in matches[:4])
        raise Phase17Error(f"{new_ref!r} names {len(matches)} definitions{': ' + where if where else ''}; give path::qualname of exactly one.")
    target = matches[0]
    return _rewrite(
        notes_dir,
        chosen,
        lambda anchor, finding: Anchor(symbol=target.ref, kind=target.kind, start=target.start_line, end=target.end_line, fingerprint=target.fingerprint),
    )


def _names(finding: Finding, ref: str) -> bool:
    return ref in (finding.anchor, finding.qualname, finding.cited)


def _rewrite(notes_dir: Path, findings: Sequence[Finding], change: AnchorChange) -> list[Mend]:
    mends: list[Mend] = []
    for name in sorted({finding.target for finding in findings}):
        mine = [finding for finding in findings if finding.target == name]
        with locked(notes_dir, name):
            notes = load_notes(notes_dir, name)
            updated, done = _apply(notes, mine, change)
            if done:
                save_notes(notes_dir, updated, backup=True)
                mends.extend(done)
    return mends


def _apply(notes: NotesFile, findings: list[Finding], change: AnchorChange) -> tuple[NotesFile, list[Mend]]:
    done: list[Mend] = []

    def mended(anchor: Anchor, finding: Finding) -> Anchor:
        new = change(anchor, finding)
        if new != anchor:
            done.append(Mend(notes.name, anchor.symbol, f"{anchor.symbol} {anchor.start}-{anchor.end}", f"{new.symbol} {new.start}-{new.end}"))
        return new

    by_anchor = {(f.anchor, f.recorded.start, f.recorded.fingerprint, f.cited): f for f in findings}
    anchors = tuple(
        mended(anchor, by_anchor[(anchor.symbol, anchor.start, anchor.fingerprint, None)]) if (anchor.symbol, anchor.start, anchor.fingerprint, None) in by_anchor else anchor
        for anchor in notes.anchors
    )
    citations = []
    for citation in notes.citations:
        key = (citation.anchor.symbol, citation.anchor.start, citation.anchor.fingerprint, citation.cited)
        citations.append(replace(citation, anchor=mended(citation.anchor, by_anchor[key])) if key in by_anchor else citation)
    return replace(notes, anchors=anchors, citations=tuple(citations)), done


# ---------------------------------------------------------------- re-pinning


def repin(
    project: ProjectPaths,
    current: Pin,
    new: Pin,
    *,
    cache_dir: Path,
    reporter: ProgressReporter,
    dry_run: bool = False,
    force: bool = False,
    replaceable: bool = True,
) -> list[Finding]:
    """Move upstream/ and the pin to `new` (the old tree kept in upstream/'s history), then check every anchor.

    With `dry_run` the new tree goes to a scratch folder instead, checked with old texts from upstream/, and
    neither the pin nor upstream/ changes. Only a full sha can be fetched with git; a sdist prefix needs PyPI.
    """
    source = "auto" if len(new.commit) == 40 else "pypi"
    if dry_run:
        with tempfile.TemporaryDirectory(prefix=".phase17-dry-run-", dir=project.root) as scratch:
            trial = Path(scratch) / "upstream"
            fetch_upstream(new, trial, source=source, cache_dir=cache_dir, reporter=reporter)
            return check_notes(project.annotations, trial, history_roots=(project.upstream,))
    state = inspect_upstream(project.upstream, current)
    fetch_upstream(
        new,
        project.upstream,
        source=source,
        force=force or state.status in ("missing", "matches", "other-commit"),  # local edits need --force
        cache_dir=cache_dir,
        reporter=reporter,
        replaceable=replaceable,
        keep_history_as=current.tag,
    )
    write_pin(project.pin_file, new)
    findings = check_notes(project.annotations, project.upstream)
    write_last_check(project.annotations, findings)
    return findings


# ---------------------------------------------------------------- summaries


def summary_counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {status: 0 for status in STATUSES}
    for finding in findings:
        counts[finding.status] += 1
    counts["line left its symbol"] = sum(1 for finding in findings if finding.line_inside is False)
    return counts


def write_last_check(notes_dir: Path, findings: Sequence[Finding]) -> None:
    """Remember each target's anchor health for `phase17 list` (a cache, git-ignored)."""
    health: dict[str, str] = {}
    for name in sorted({finding.target for finding in findings}):
        problems = [finding for finding in findings if finding.target == name and finding.is_problem]
        health[name] = "ok" if not problems else f"{len(problems)} to review"
    try:
        (notes_dir / LAST_CHECK_FILE).write_text(json.dumps(health, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:
        pass  # only a cache for `list`; the check's own report has been given


def finding_data(finding: Finding) -> dict[str, object]:
    """The JSON record of a finding (see `phase17 check --json`)."""

    def place(location: Location | None) -> dict[str, object] | None:
        return None if location is None else {"path": location.path, "start": location.start, "end": location.end, "fingerprint": location.fingerprint}

    data: dict[str, object] = {
        "target": finding.target,
        "anchor": finding.anchor,
        "kind": finding.kind,
        "status": finding.status,
        "recorded": place(finding.recorded),
        "current": place(finding.current),
        "suggestions": [{"ref": s.ref, "path": s.path, "start": s.start, "end": s.end, "score": s.score, "reason": s.reason} for s in finding.suggestions],
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
