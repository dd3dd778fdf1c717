"""Code a note cites, anchored when the note is saved: `Qual.name`, `path.py::Qual.name` and `file.py:LINE`.

What cannot be pinned to exactly one definition becomes a warning, never a refusal: the note's text is kept.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from phase17.errors import BadReferenceError, SymbolNotFoundError, UnreadableSourceError
from phase17.index.lookup import (
    editor_lines,
    every_name,
    file_definitions,
    find_symbol_near,
    python_files,
    source_text,
)
from phase17.index.tree import Tree
from phase17.notes.guide import ReadingList
from phase17.notes.store import Anchor, Citation, NotesFile
from phase17.source.refs import parse_ref
from phase17.source.symbols import Symbol

_BACKTICKED = re.compile(r"`([^`\n]+)`")
_PATH_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.py):(\d+)(?:-(\d+))?\b")


def anchor_of(symbol: Symbol) -> Anchor:
    return Anchor(
        symbol=symbol.ref,
        kind=symbol.kind,
        start=symbol.start_line,
        end=symbol.end_line,
        fingerprint=symbol.fingerprint,
    )


def resolve_citations(
    upstream: Tree,
    note: str,
    text: str,
    search_paths: tuple[str, ...],
    suggestions: dict[str, str] | None = None,
) -> tuple[list[Citation], list[str]]:
    """Anchor each piece of code a note cites: `Qual.name`, `path.py::Qual.name`, or path.py:LINE.

    Bare names are looked up in `search_paths` first, then across upstream/. What cannot be pinned to exactly
    one definition becomes a warning, never an anchor; a name close to a definition's gets did-you-mean, also
    kept in `suggestions` (as written -> closest) when given.
    """
    suggestions = {} if suggestions is None else suggestions
    citations: list[Citation] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for match in _PATH_LINE.finditer(text):
        cited = match.group(0)
        if cited in seen:
            continue
        seen.add(cited)
        last = int(match.group(3)) if match.group(3) else None
        citation, warning = _line_citation(upstream, note, match.group(1), int(match.group(2)), last, search_paths)
        if citation:
            citations.append(citation)
        if warning:
            warnings.append(warning)
    for match in _BACKTICKED.finditer(text):
        inner = match.group(1).strip().removesuffix("()")
        if _PATH_LINE.fullmatch(inner) or inner in seen or inner.startswith(NOT_A_CITATION):
            continue
        try:
            ref = parse_ref(inner)
        except BadReferenceError:
            continue  # `--flag`, `x + y`: code, but not a name to anchor
        seen.add(inner)
        try:
            found = find_symbol_near(upstream, ref, search_paths).symbols
        except (SymbolNotFoundError, UnreadableSourceError) as error:
            if not python_own(inner):
                warnings.append(f"`{inner}`: {error}; {_kept_as_text(upstream, inner, suggestions, search_paths)}")
            continue
        if len(found) == 1:
            citations.append(Citation(note=note, cited=inner, anchor=anchor_of(found[0])))
        elif not found and python_own(inner):
            continue  # `ValueError`, `os.environ`: Python's own, code in backticks, not a citation of the tree
        elif not found:
            kept = _kept_as_text(upstream, inner, suggestions, search_paths)
            warnings.append(f"`{inner}` is not defined in upstream/; {kept}")
        else:
            where = ", ".join(f"{symbol.path}:{symbol.start_line}" for symbol in found[:4])
            warnings.append(f"`{inner}` is defined {len(found)} times ({where}); write path::name to anchor one.")
    return citations, warnings


def python_own(name: str) -> bool:
    """A builtin (`ValueError`, `len`) or a name of the standard library (`os.environ`, `threading.Lock`): code a
    note may name in backticks without citing anything of the tree."""
    import builtins
    import sys

    first = name.split(".", 1)[0]
    return hasattr(builtins, first) or first in getattr(sys, "stdlib_module_names", ())


NOT_A_CITATION = "!"  # `!__getstate__`: code in backticks that is not a citation (nothing is anchored)


def _kept_as_text(upstream: Tree, inner: str, suggestions: dict[str, str], search_paths: tuple[str, ...]) -> str:
    close = closest_definition(upstream, inner, tuple(sorted({place.split("/")[0] for place in search_paths})) or ("",))
    if close:
        suggestions[inner] = close
    kept = (
        f"kept as text but not anchored (write `{NOT_A_CITATION}{inner}` for code that is not a citation; "
        "edit the note with phase17 notebook TARGET --edit)."
    )
    return f"did you mean `{close}`? It is {kept}" if close else f"it is {kept}"


def closest_definition(upstream: Tree, inner: str, within: tuple[str, ...] = ("",)) -> str | None:
    """The definition name below `within` (the folders of the note's targets) closest to a citation that names
    none (`load_genral_plugins`), or None."""
    import difflib

    try:
        ref = parse_ref(inner)
    except BadReferenceError:
        return None
    names = {name for group in every_name(upstream, within).values() for name in group if isinstance(name, str)}
    wanted = ref.qualname
    pool = names if "." in wanted else {name.rpartition(".")[2] for name in names}
    found = difflib.get_close_matches(wanted, sorted(pool), n=1, cutoff=0.8)
    return found[0] if found and found[0] != wanted else None


def misspelled_citations(upstream: Tree, text: str, search_paths: tuple[str, ...]) -> list[tuple[str, str]]:
    """(as written, closest definition) of each backticked name in `text` that anchors to nothing but is close
    to a definition: asked about before a note is saved."""
    suggestions: dict[str, str] = {}
    resolve_citations(upstream, "", text, search_paths, suggestions)
    return list(suggestions.items())


def _line_citation(
    upstream: Tree, note: str, path: str, line: int, last: int | None, search_paths: tuple[str, ...]
) -> tuple[Citation | None, str | None]:
    """A `path:LINE` (or `path:A-B`) citation: anchored to the innermost definition holding all its lines, with
    the text of its first (and last) line, so that the lines can be found again."""
    cited = f"{path}:{line}" + (f"-{last}" if last is not None else "")
    if last is not None and last <= line:
        return None, f"{cited}: a range ends after it starts (A-B with B > A); not anchored."
    candidates = _files_matching(upstream, path, search_paths)
    if not candidates:
        return None, f"{cited}: no file {path} in upstream/; not anchored."
    if len(candidates) > 1:
        return (
            None,
            f"{cited}: {path} matches {len(candidates)} files ({', '.join(candidates[:3])}); write the full path.",
        )
    end = line if last is None else last
    try:
        containing = [s for s in file_definitions(upstream, candidates[0]) if s.start_line <= line <= end <= s.end_line]
    except (SymbolNotFoundError, UnreadableSourceError) as error:
        return None, f"{cited}: {error}; not anchored."
    if not containing:
        where = f"line {line} of {candidates[0]} is" if last is None else f"lines {line}-{last} of {candidates[0]} are"
        return None, f"{cited}: {where} not inside one definition; not anchored."
    innermost = min(containing, key=lambda symbol: (symbol.end_line - symbol.start_line, -symbol.start_line))
    texts = editor_lines(source_text(upstream, candidates[0]))  # what the lines hold: found again later
    citation = Citation(
        note=note, cited=cited, anchor=anchor_of(innermost), line=line, line_text=texts[line - 1].strip()
    )
    if last is not None:
        citation = replace(citation, last_line=last, last_text=texts[last - 1].strip())
    return citation, None


def _files_matching(upstream: Tree, path: str, search_paths: tuple[str, ...]) -> list[str]:
    if (upstream / path).is_file():
        return [path]
    suffix = "/" + path.lstrip("/")
    for places in ([place for place in search_paths], [""]):
        found = sorted(
            {
                candidate
                for place in places
                for candidate in python_files(upstream, _folder_of(upstream, place))
                if candidate.endswith(suffix)
            }
        )
        if found:
            return found
    return []


def _folder_of(upstream: Tree, place: str) -> str:
    place = place.rstrip("/")
    return str(Path(place).parent) if place and (upstream / place).is_file() else place


def reanchor_citations(notes: NotesFile, upstream: Tree, reading_list: ReadingList) -> tuple[NotesFile, list[str]]:
    """Re-resolve every citation from the notes' text (after a hand edit): prose wins, anchors follow it."""
    citations: list[Citation] = []
    warnings: list[str] = []
    for key, text in notes.notes.items():
        places = (
            reading_list.places_for(reading_list.question(int(key)))
            if notes.is_questions
            else (str(notes.path).rstrip("/"),)
        )
        found, warned = resolve_citations(upstream, key, text, places)
        citations.extend(found)
        warnings.extend(f"{key}: {warning}" for warning in warned)
    return replace(notes, citations=tuple(citations)), warnings
