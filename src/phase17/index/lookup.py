"""The upstream source tree: its Python files read safely, each file's definitions (parsed once by the Tree reading it),
and lookups of a reference (`Class.method`, `path.py::name`) across files, a target, or the whole tree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from phase17.errors import SymbolNotFoundError, UnreadableSourceError
from phase17.index.tree import Tree
from phase17.safety.files import inside
from phase17.source.files import read_source, walk
from phase17.source.refs import Ref, parse_ref
from phase17.source.symbols import Symbol, parse_definitions

LookupStatus = Literal["found", "missing", "ambiguous", "choices"]


@dataclass(frozen=True)
class Unreadable:
    """A file that was passed over, and why (reported once, never fatal)."""

    path: str
    reason: str


@dataclass
class ScanResult:
    """Definitions found over several files, and the files that could not be read."""

    symbols: list[Symbol] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    by_name_end: bool = False  # found as the end of qualified names, not as a whole one


# ---------------------------------------------------------------- files


def file_definitions(upstream: Tree, relative: str) -> list[Symbol]:
    """The definitions of one file under upstream/, by its path relative to upstream/ (kept by the tree on the
    file's stat key: a file is parsed once in a command).

    The inode is in the key because a swapped-in tree can hold a file of the same size and mtime, and the ctime
    because a content replaced in place can keep both.
    """
    path = _inside(upstream, relative)
    try:
        status = path.stat()
    except FileNotFoundError:
        raise SymbolNotFoundError(f"{relative}: no such file in {upstream}") from None
    if not path.is_file():
        raise SymbolNotFoundError(f"{relative}: not a file in {upstream}")
    key = (str(path), relative, status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)
    known: dict[tuple[str, str, int, int, int, int], tuple[Symbol, ...]] = upstream.definitions
    if key not in known:
        from phase17.index.symbolindex import stored_definitions

        records = stored_definitions(
            upstream, relative, lambda data: [s.to_record() for s in parse_definitions(data, relative)]
        )
        known[key] = (
            tuple(Symbol.from_record(relative, record) for record in records)
            if records is not None
            else tuple(parse_definitions(read_source(path), relative))  # no index to keep them: parsed here
        )
    return list(known[key])


def _inside(upstream: Tree, relative: str) -> Path:
    """upstream/relative, refusing paths and symlinks that lead outside upstream/."""
    if not inside((upstream / relative).resolve(), upstream.root):
        raise UnreadableSourceError(relative, "outside upstream/ (a symlink or ..), not followed")
    return upstream / relative


def python_files(upstream: Tree, under: str = "") -> Iterator[str]:
    """Paths (relative, posix) of the .py files below upstream/under as the index walks them (source.files.walk),
    in reading order: each folder's files by name, then its folders by name. Links out of upstream/ are listed
    too, and refused when read."""
    start = upstream / under if under else upstream.root
    if start.is_file():
        yield under
        return
    yield from sorted((seen.path.replace(os.sep, "/") for seen in walk(upstream.root, under)), key=_reading_order)


def _reading_order(path: str) -> list[tuple[bool, str]]:
    *folders, name = path.split("/")
    return [(True, folder) for folder in folders] + [(False, name)]


def scan_definitions(upstream: Tree, paths: Iterable[str]) -> ScanResult:
    """Definitions of many files (whole-tree searches ask the symbol index which files to scan)."""
    result = ScanResult()
    root = upstream.root.resolve()
    for relative in paths:
        full = upstream / relative
        if full.is_symlink() and not inside(full.resolve(), root):
            result.unreadable.append(Unreadable(relative, "symlink out of upstream/, not followed"))
            continue
        try:
            result.symbols.extend(file_definitions(upstream, relative))
        except UnreadableSourceError as error:
            result.unreadable.append(Unreadable(relative, error.reason))
    return result


def source_text(upstream: Tree, relative: str) -> str:
    """A whole file under upstream/ as text (undecodable bytes replaced), with read_source's guards."""
    return read_source(_inside(upstream, relative)).decode("utf-8", errors="replace")


def editor_lines(text: str) -> list[str]:
    """A file's lines as an editor numbers them: split at newlines only (a form feed or U+2028 is no new line),
    without the CR of a CRLF, and without the empty piece after a final newline."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def source_lines(upstream: Tree, symbol: Symbol) -> list[str]:
    """The lines start_line..end_line of a symbol, as text (undecodable bytes replaced)."""
    return editor_lines(source_text(upstream, symbol.path))[symbol.start_line - 1 : symbol.end_line]


# ---------------------------------------------------------------- lookups


def find_symbol(upstream: Tree, ref: Ref, within: Sequence[str] = ()) -> ScanResult:
    """Every definition named `ref`: in its file, else in `within` (files or folders), else across upstream/.

    Files named outright are parsed; folders are asked of the symbol index, and only the files it names are
    parsed (for signatures and fingerprints).
    """
    if ref.path:
        normal = os.path.normpath(ref.path)
        if os.path.isabs(normal) or normal == ".." or normal.startswith("../"):
            raise SymbolNotFoundError(f"{ref.path}: outside upstream/; give a path under upstream/.")
        if not (upstream / ref.path).exists():
            raise SymbolNotFoundError(f"{ref.path}: no such file or folder in {upstream}")
        places: Sequence[str] = (ref.path,)
    else:
        places = within or ("",)
    if all(place and (upstream / place).is_file() for place in places):
        scan = scan_definitions(upstream, places)
    else:
        from phase17.index.symbolindex import find_sites

        sites, unreadable = find_sites(upstream, qualname=ref.qualname, under=places)
        scan = scan_definitions(upstream, sorted({site.path for site in sites}))
        scan.unreadable += [Unreadable(path, reason) for path, reason in sorted(unreadable.items())]
    scan.symbols = [symbol for symbol in scan.symbols if symbol.qualname == ref.qualname]
    return scan


def find_symbol_near(upstream: Tree, ref: Ref, near: Sequence[str]) -> ScanResult:
    """Every definition named `ref`, looked up in `near` first and across upstream/ only if none is there; when
    no qualified name is `ref`, the definitions whose qualified name ends with it (`_enum`: `Base._enum`)."""
    if ref.path or not near:
        return find_symbol_or_name_end(upstream, ref)
    nearby = find_symbol_or_name_end(upstream, ref, within=near)
    return nearby if nearby.symbols else find_symbol_or_name_end(upstream, ref)


def find_symbol_or_name_end(upstream: Tree, ref: Ref, within: Sequence[str] = ()) -> ScanResult:
    """find_symbol; when nothing has that qualified name, what find_name_end finds (marked `by_name_end`)."""
    exact = find_symbol(upstream, ref, within)
    if exact.symbols or ref.path:
        return exact
    ending = find_name_end(upstream, ref, within)
    ending.unreadable = exact.unreadable
    return ending


def find_name_end(upstream: Tree, ref: Ref, within: Sequence[str] = ()) -> ScanResult:
    """Definitions whose qualified name ends with `ref`'s, by whole name parts: `get_backend` finds every
    class's method of that name, `Base.x` never finds `SubBase.x`."""
    places = within or ("",)
    last = ref.qualname.rsplit(".", 1)[-1]
    if all(place and (upstream / place).is_file() for place in places):
        scan = scan_definitions(upstream, places)
    else:
        from phase17.index.symbolindex import find_sites

        sites, _ = find_sites(upstream, name=last, under=places)
        ending = [site for site in sites if site.qualname.endswith("." + ref.qualname)]
        scan = scan_definitions(upstream, sorted({site.path for site in ending}))
    scan.symbols = [symbol for symbol in scan.symbols if symbol.qualname.endswith("." + ref.qualname)]
    scan.by_name_end = True
    return scan


def did_you_mean(upstream: Tree, ref: Ref, within: Sequence[str] = (), limit: int = 5) -> list[str]:
    """Qualified names close to `ref`'s, for a reference that matches nothing: close spelling of the last name
    part (difflib), or most of its words in common (`backend_cls` for `get_backend_cls`)."""
    places = (ref.path,) if ref.path else (within or ("",))
    if all(place and (upstream / place).is_file() for place in places):
        by_last = names_by_last(symbol.qualname for symbol in scan_definitions(upstream, places).symbols)
    else:
        by_last = every_name(upstream, places)
    return closest_names(ref.qualname, by_last, limit)


def every_name(upstream: Tree, places: Sequence[str]) -> dict[str, list[str]]:
    """Every qualified name defined below `places`, grouped by last part (names_by_last): read from the index
    once, then kept under the tree's contents (a did-you-mean compares against all of them)."""
    from phase17.index.kept import remembered
    from phase17.index.symbolindex import all_qualnames

    kept = remembered(
        upstream,
        "names-by-last",
        places,
        lambda: names_by_last(qualname for _, qualname in all_qualnames(upstream, places)),
    )
    return {last: names for last, names in kept.items() if isinstance(names, list)}  # (each name: where shown)


def names_by_last(names: Iterable[str]) -> dict[str, list[str]]:
    """Qualified names grouped by their last part, lower-cased (what a did-you-mean compares)."""
    by_last: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        by_last.setdefault(name.rsplit(".", 1)[-1].lower(), []).append(name)
    return by_last


def close_names(wanted: str, names: Iterable[str], limit: int = 5) -> list[str]:
    """The names most like `wanted`, best first (at most `limit`)."""
    return closest_names(wanted, names_by_last(names), limit)


def closest_names(wanted: str, by_last: dict[str, list[str]], limit: int = 5) -> list[str]:
    """The names most like `wanted` among names grouped by their last part (names_by_last), best first."""
    import difflib

    wanted_last = wanted.rsplit(".", 1)[-1].lower()
    wanted_words = _words(wanted_last)
    scores: dict[str, float] = {}
    for last in difflib.get_close_matches(wanted_last, by_last, n=limit * 4, cutoff=0.6):
        scores[last] = difflib.SequenceMatcher(None, wanted_last, last).ratio()
    if len(wanted_words) > 1:
        for last in by_last:
            words = _words(last)
            shared = len(wanted_words & words) / len(wanted_words | words)
            if shared >= 0.5:
                scores[last] = max(scores.get(last, 0.0), shared)
    ranked = sorted(scores, key=lambda last: (-scores[last], last))
    found = [
        name
        for last in ranked
        for name in sorted(by_last[last], key=lambda name: (len(str(name)), str(name)))
        if isinstance(name, str)  # (a kept answer is the reader's file: only names are shown)
    ]
    return found[:limit]


def _words(name: str) -> set[str]:
    return {word for word in name.strip("_").split("_") if word}


@dataclass(frozen=True)
class Lookup:
    """A reference as written and every definition now carrying that name (none is picked silently)."""

    ref: str
    matches: tuple[Symbol, ...]
    unreadable: tuple[Unreadable, ...] = ()
    by_name_end: bool = False  # matched as the end of qualified names: several are choices, not a conflict
    suggestions: tuple[str, ...] = ()  # did-you-mean, when nothing matched

    @property
    def status(self) -> LookupStatus:
        if len(self.matches) == 1:
            return "found"
        if not self.matches:
            return "missing"
        return "choices" if self.by_name_end else "ambiguous"

    def to_data(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "status": self.status,
            "matches": [symbol.to_data() for symbol in self.matches],
            "suggestions": list(self.suggestions),
            "unreadable": [{"path": item.path, "reason": item.reason} for item in self.unreadable],
        }


def look_up(upstream: Tree, text: str, within: Sequence[str] = (), *, every_ending: bool = False) -> Lookup:
    """Resolve a reference as a reader writes it, in `within` (target places) or across upstream/: a whole
    qualified name, else the end of qualified names (a bare method name lists every class defining it), else
    nothing, with did-you-mean suggestions. With `every_ending` (a reader asking, not a note anchoring), a bare
    name lists its exact definitions and every one whose qualified name ends with it."""
    ref = parse_ref(text)
    find = find_every_ending if every_ending else find_symbol_or_name_end
    scan = find(upstream, ref, within=within)
    return _lookup(text, scan, lambda: did_you_mean(upstream, ref, within))


def find_every_ending(upstream: Tree, ref: Ref, within: Sequence[str] = ()) -> ScanResult:
    """For a bare name (no dot, no path): the definitions of exactly that name and every definition whose qualified
    name ends with it (`max_memory_usage_bytes`: a function and each class's method); else find_symbol_or_name_end."""
    if ref.path or "." in ref.qualname:
        return find_symbol_or_name_end(upstream, ref, within)
    exact = find_symbol(upstream, ref, within)
    ending = find_name_end(upstream, ref, within)
    if ending.symbols:
        exact.symbols += [symbol for symbol in ending.symbols if symbol not in exact.symbols]
        exact.by_name_end = True
    return exact


class TargetPlace(Protocol):
    """What a lookup needs of a reading target: where it is in the tree and which symbols it names."""

    @property
    def place(self) -> str: ...

    @property
    def symbols(self) -> Sequence[str]: ...


def locate_key_symbols(upstream: Tree, target: TargetPlace) -> list[Lookup]:
    """Find each key symbol by name, in the target's path unless the reference names its own file."""
    located = []
    for text in target.symbols:
        ref = parse_ref(text)
        scan = find_symbol(upstream, ref, within=() if ref.path else (target.place,))
        located.append(Lookup(ref=text, matches=tuple(scan.symbols)))
    return located


def locate_near_target(upstream: Tree, target: TargetPlace, text: str) -> Lookup:
    """A symbol named on the command line: in the target first, then across upstream/ (did-you-mean if none)."""
    ref = parse_ref(text)
    nearby = find_every_ending(upstream, ref, within=(target.place,)) if not ref.path else None
    scan = nearby if nearby is not None and nearby.symbols else find_every_ending(upstream, ref)
    return _lookup(text, scan, lambda: did_you_mean(upstream, ref, (target.place,)) or did_you_mean(upstream, ref))


def _lookup(text: str, scan: ScanResult, close_names: Callable[[], list[str]]) -> Lookup:
    """The Lookup of a scan; did-you-mean names are looked for only when nothing matched."""
    return Lookup(
        ref=text,
        matches=tuple(scan.symbols),
        unreadable=tuple(scan.unreadable),
        by_name_end=scan.by_name_end,
        suggestions=() if scan.symbols else tuple(close_names()),
    )
