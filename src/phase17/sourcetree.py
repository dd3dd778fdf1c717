"""The upstream source tree: its Python files read safely, each file's definitions (parsed once per process),
and lookups of a reference (`Class.method`, `path.py::name`) across files, a target, or the whole tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from phase17.errors import SymbolNotFoundError, UnreadableSourceError
from phase17.guide import Target
from phase17.refs import Ref, parse_ref
from phase17.symbols import Symbol, parse_definitions

MAX_SOURCE_BYTES = 8 * 1024 * 1024  # larger "Python" files are generated data, not reading material
_SKIPPED_DIRECTORIES = {".git", "__pycache__", ".mypy_cache", ".pytest_cache", "node_modules"}
LookupStatus = Literal["found", "missing", "ambiguous"]


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


# ---------------------------------------------------------------- files


def read_source(path: Path) -> bytes:
    """The bytes of a Python file, or an UnreadableSourceError saying why it cannot be read as one."""
    from phase17.safefiles import read_limited

    try:
        data = read_limited(path, MAX_SOURCE_BYTES)  # a FIFO or a device is refused before any read
    except FileNotFoundError as error:
        raise UnreadableSourceError(str(path), f"cannot read ({error.strerror})") from None
    if b"\0" in data:
        raise UnreadableSourceError(str(path), "binary content (NUL bytes), not Python source")
    return data


@lru_cache(maxsize=256)
def _cached_definitions(path: str, relative: str, size: int, mtime_ns: int, inode: int) -> tuple[Symbol, ...]:
    return tuple(parse_definitions(read_source(Path(path)), relative))


def file_definitions(upstream: Path, relative: str) -> list[Symbol]:
    """The definitions of one file under upstream/, by its path relative to upstream/ (cached on size, mtime, inode).

    The inode is in the key because a swapped-in tree can hold a file of the same size and mtime.
    """
    path = _inside(upstream, relative)
    try:
        status = path.stat()
    except FileNotFoundError:
        raise SymbolNotFoundError(f"{relative}: no such file in {upstream}") from None
    if not path.is_file():
        raise SymbolNotFoundError(f"{relative}: not a file in {upstream}")
    return list(_cached_definitions(str(path), relative, status.st_size, status.st_mtime_ns, status.st_ino))


def _inside(upstream: Path, relative: str) -> Path:
    """upstream/relative, refusing paths and symlinks that lead outside upstream/."""
    root = upstream.resolve()
    path = (upstream / relative).resolve()
    if path != root and root not in path.parents:
        raise UnreadableSourceError(relative, "outside upstream/ (a symlink or ..), not followed")
    return upstream / relative


def python_files(upstream: Path, under: str = "") -> Iterator[str]:
    """Paths (relative, posix, sorted) of the .py files below upstream/under, never following symlinks out."""
    start = upstream / under if under else upstream
    if start.is_file():
        yield under
        return
    for folder, folders, names in os.walk(start):
        folders[:] = sorted(name for name in folders if name not in _SKIPPED_DIRECTORIES)
        for name in sorted(names):
            if name.endswith(".py"):  # links out of upstream/ are yielded too, and refused when read
                yield (Path(folder) / name).relative_to(upstream).as_posix()


def scan_definitions(upstream: Path, paths: Iterable[str], must_contain: Sequence[bytes] = ()) -> ScanResult:
    """Definitions of many files; a file lacking any of `must_contain` is skipped unparsed (a cheap pre-filter)."""
    result = ScanResult()
    root = upstream.resolve()
    for relative in paths:
        full = upstream / relative
        if full.is_symlink() and root not in full.resolve().parents:
            result.unreadable.append(Unreadable(relative, "symlink out of upstream/, not followed"))
            continue
        if must_contain:
            try:
                raw = full.read_bytes()
            except OSError as error:
                result.unreadable.append(Unreadable(relative, error.strerror or "unreadable"))
                continue
            if not all(needle in raw for needle in must_contain):
                continue
        try:
            result.symbols.extend(file_definitions(upstream, relative))
        except UnreadableSourceError as error:
            result.unreadable.append(Unreadable(relative, error.reason))
    return result


def source_text(upstream: Path, relative: str) -> str:
    """A whole file under upstream/ as text (undecodable bytes replaced), with read_source's guards."""
    return read_source(_inside(upstream, relative)).decode("utf-8", errors="replace")


def editor_lines(text: str) -> list[str]:
    """A file's lines as an editor numbers them: split at newlines only (a form feed or U+2028 is no new line),
    without the CR of a CRLF, and without the empty piece after a final newline."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def source_lines(upstream: Path, symbol: Symbol) -> list[str]:
    """The lines start_line..end_line of a symbol, as text (undecodable bytes replaced)."""
    return editor_lines(source_text(upstream, symbol.path))[symbol.start_line - 1 : symbol.end_line]


# ---------------------------------------------------------------- lookups


def find_symbol(upstream: Path, ref: Ref, within: Sequence[str] = ()) -> ScanResult:
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
        from phase17.symbolindex import find_sites

        sites, unreadable = find_sites(upstream, qualname=ref.qualname, under=places)
        scan = scan_definitions(upstream, sorted({site.path for site in sites}))
        scan.unreadable += [Unreadable(path, reason) for path, reason in sorted(unreadable.items())]
    scan.symbols = [symbol for symbol in scan.symbols if symbol.qualname == ref.qualname]
    return scan


def find_symbol_near(upstream: Path, ref: Ref, near: Sequence[str]) -> ScanResult:
    """Every definition named `ref`, looked up in `near` first and across upstream/ only if none is there."""
    if ref.path or not near:
        return find_symbol(upstream, ref)
    nearby = find_symbol(upstream, ref, within=near)
    return nearby if nearby.symbols else find_symbol(upstream, ref)


@dataclass(frozen=True)
class Lookup:
    """A reference as written and every definition now carrying that name (none is picked silently)."""

    ref: str
    matches: tuple[Symbol, ...]
    unreadable: tuple[Unreadable, ...] = ()

    @property
    def status(self) -> LookupStatus:
        return "found" if len(self.matches) == 1 else ("missing" if not self.matches else "ambiguous")

    def to_data(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "status": self.status,
            "matches": [symbol.to_data() for symbol in self.matches],
            "unreadable": [{"path": item.path, "reason": item.reason} for item in self.unreadable],
        }


def look_up(upstream: Path, text: str, within: Sequence[str] = ()) -> Lookup:
    """Resolve a reference as a reader writes it, in `within` (target places) or across upstream/."""
    scan = find_symbol(upstream, parse_ref(text), within=within)
    return Lookup(ref=text, matches=tuple(scan.symbols), unreadable=tuple(scan.unreadable))


def locate_key_symbols(upstream: Path, target: Target) -> list[Lookup]:
    """Find each key symbol by name, in the target's path unless the reference names its own file."""
    located = []
    for text in target.symbols:
        ref = parse_ref(text)
        scan = find_symbol(upstream, ref, within=() if ref.path else (target.place,))
        located.append(Lookup(ref=text, matches=tuple(scan.symbols)))
    return located


def locate_near_target(upstream: Path, target: Target, text: str) -> Lookup:
    """A symbol named on the command line: in the target first, then across upstream/."""
    scan = find_symbol_near(upstream, parse_ref(text), (target.place,))
    return Lookup(ref=text, matches=tuple(scan.symbols), unreadable=tuple(scan.unreadable))
