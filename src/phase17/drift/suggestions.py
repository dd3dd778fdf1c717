"""Where a missing anchor went, and what a changed one looked like: old texts from upstream/'s git history,
unified diffs in real file lines, and ranked suggestions (renamed in place, moved to another class or file).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from phase17.drift.findings import Suggestion
from phase17.errors import Phase17Error
from phase17.index.lookup import editor_lines, file_definitions, python_files, source_lines, source_text
from phase17.index.tree import Tree
from phase17.notes.store import Anchor
from phase17.source.symbols import Symbol, parse_definitions
from phase17.upstream.checkout import HistoricFile, file_history

SUGGESTION_THRESHOLD = 0.45
MAX_SUGGESTIONS = 5
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class History:
    """The tree being checked and where old texts come from; each file's history is read once per check."""

    upstream: Tree
    history_roots: tuple[Path, ...]
    versions: dict[str, list[HistoricFile]] = field(default_factory=dict)
    current: dict[str, list[str]] = field(default_factory=dict)

    def lines_now(self, path: str) -> list[str]:
        """A file's lines in the tree being checked, read once per check however many cited lines it holds."""
        if path not in self.current:
            self.current[path] = editor_lines(source_text(self.upstream, path))
        return self.current[path]

    def of(self, path: str) -> list[HistoricFile]:
        if path not in self.versions:
            self.versions[path] = [item for root in self.history_roots for item in file_history(root, path)]
        return self.versions[path]


@dataclass(frozen=True)
class Recorded:
    """An anchor's definition as it was recorded, its lines, and the version of its file that holds it."""

    symbol: Symbol
    lines: list[str]
    version: HistoricFile


def recorded_source(context: History, anchor: Anchor) -> list[str] | None:
    """The anchor's source as recorded: the version in upstream/'s history whose definition has its fingerprint."""
    found = recorded_symbol(context, anchor)
    return found.lines if found else None


def recorded_symbol(context: History, anchor: Anchor) -> Recorded | None:
    """The anchor's definition as recorded, and its lines, from upstream/'s history (None when not kept there)."""
    for version in context.of(anchor.path):
        for symbol in definitions_in(version.content, anchor.path):
            if symbol.qualname == anchor.qualname and symbol.has_fingerprint(anchor.fingerprint):
                lines = editor_lines(version.content.decode("utf-8", errors="replace"))
                return Recorded(symbol, lines[symbol.start_line - 1 : symbol.end_line], version)
    return None


def _existed_then(context: History, recorded: Recorded | None, symbol: Symbol) -> bool:
    """Was `symbol` already defined (same file, same qualified name) in the commit the note was recorded at?"""
    if recorded is None or not recorded.version.commit:
        return False
    for version in context.of(symbol.path):
        if version.commit == recorded.version.commit:
            return any(old.qualname == symbol.qualname for old in definitions_in(version.content, symbol.path))
    return False  # the file was not there then


def _bases_then(recorded: Recorded | None, anchor: Anchor) -> set[str]:
    """The base classes (last name parts) the anchor's class had when the note was recorded."""
    scope = anchor.qualname.rpartition(".")[0]
    if recorded is None or not scope:
        return set()
    from phase17.instruments.classes import classes_of

    classes = classes_of(anchor.path, recorded.version.content)["classes"]
    return {
        base.rsplit(".", 1)[-1]
        for item in classes
        if item["name"] == scope.rsplit(".", 1)[-1]
        for base in item["bases"]
    }


@lru_cache(maxsize=64)
def definitions_in(content: bytes, path: str) -> tuple[Symbol, ...]:
    """Each old version of a file is parsed once per process, however many anchors it holds."""
    return tuple(parse_definitions(content, path))


def diff_against_recorded(context: History, anchor: Anchor, symbol: Symbol) -> str | None:
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
    return f"@@ -{old_line}{match.group(2) or ''} +{new_line}{match.group(4) or ''} @@{line[match.end() :]}"


def suggest(context: History, anchor: Anchor) -> list[Suggestion]:
    """Rank where a missing anchor went: same file (renamed, moved to another class), or the same name elsewhere.

    The structure counts, not only the text: a candidate that already existed when the note was recorded (in
    upstream/'s history) is never ranked as a successor, only listed after them as the closest code; among
    close scores a method of a base class of the anchor's old class (a method hoisted into its base) comes
    first; remaining ties go to the better source match, then the better name match, never to path order.
    """
    recorded = recorded_symbol(context, anchor)
    old_tokens = _tokens("\n".join(recorded.lines)) if recorded else None
    bases = _bases_then(recorded, anchor)
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
    ranked = []
    for symbol in candidates.values():
        if _family(symbol.kind) != _family(anchor.kind):
            continue
        score, source_score, name_score = _score(anchor, symbol, old_tokens, context.upstream)
        if score >= SUGGESTION_THRESHOLD:
            existed = _existed_then(context, recorded, symbol)
            in_base = symbol.scope.rsplit(".", 1)[-1] in bases if symbol.scope else False
            suggestion = Suggestion(
                ref=symbol.ref,
                path=symbol.path,
                start=symbol.start_line,
                end=symbol.end_line,
                score=round(score, 2),
                reason=_reason(anchor, symbol) + (", already there when the note was written" if existed else ""),
                existed=existed,
            )
            # close scores (within 0.05) count as a tie, settled by the hierarchy, then by score detail
            ranked.append(
                ((existed, -round(score * 20), not in_base, -source_score, -name_score, symbol.ref), suggestion)
            )
    ranked.sort(key=lambda item: item[0])
    return [suggestion for _, suggestion in ranked[:MAX_SUGGESTIONS]]


def _named_anywhere(upstream: Tree, name: str) -> Iterable[Symbol]:
    """Every definition whose last name is `name`, at any scope, across upstream/ (from the symbol index)."""
    from phase17.index.symbolindex import find_sites

    sites, _ = find_sites(upstream, name=name)
    for path in sorted({site.path for site in sites}):
        try:
            yield from (symbol for symbol in file_definitions(upstream, path) if symbol.name == name)
        except Phase17Error:
            continue


def _family(kind: str) -> str:
    if kind == "class":
        return "class"
    if kind in ("assignment", "attribute"):
        return "name"
    return "function"


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)[:3000]


def _score(anchor: Anchor, symbol: Symbol, old_tokens: list[str] | None, upstream: Tree) -> tuple[float, float, float]:
    """(score, source similarity, name similarity), each from 0 to 1."""
    old_name, new_name = anchor.qualname.rsplit(".", 1)[-1], symbol.name
    name_score = (
        0.8 * difflib.SequenceMatcher(None, old_name, new_name).ratio()
        + 0.2 * difflib.SequenceMatcher(None, anchor.qualname, symbol.qualname).ratio()
    )
    if old_tokens is None:
        return name_score, 0.0, name_score
    new_tokens = _tokens("\n".join(source_lines(upstream, symbol)))
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    source_score = matcher.ratio() if matcher.real_quick_ratio() > 0.3 else matcher.real_quick_ratio()
    return 0.4 * name_score + 0.6 * source_score, source_score, name_score


def _reason(anchor: Anchor, symbol: Symbol) -> str:
    old_scope, _, old_name = anchor.qualname.rpartition(".")
    renamed = old_name != symbol.name
    if symbol.path != anchor.path:
        into = f" (into {symbol.scope})" if symbol.scope and symbol.scope != old_scope else ""
        return "moved to another file" + into + (" and renamed" if renamed else "")
    if old_scope != symbol.scope:
        return (
            "moved to another class" + (" and renamed" if renamed else "")
            if symbol.scope or old_scope
            else "moved in its file"
        )
    return "renamed in place" if renamed else "moved in its file"
