"""The reader's notes: one YAML file per reading target in annotations/, plus questions.yaml for the answers.

Loading validates the shape and reports `path:line: what is wrong` without touching the file; saving is atomic
(temp file, fsync, rename) under a file lock, so a crash or a second process never leaves half a file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from phase17.errors import AnnotationError, YamlFileError
from phase17.guide import PROMPT_KEYS, ReadingList
from phase17.yamlfile import LineDict, LineList, dump_yaml, read_yaml_file, write_text_atomically

QUESTIONS_FILE = "questions"
LOCK_TIMEOUT_SECONDS = 30
_HEADER = "# phase17 lab notebook ({what}). Write with `phase17 notebook`; check with `phase17 check`.\n"


@dataclass(frozen=True)
class Anchor:
    """A symbol as recorded when the note was written: where it was and a fingerprint of its code."""

    symbol: str  # path::qualname
    kind: str
    start: int
    end: int
    fingerprint: str

    @property
    def path(self) -> str:
        return self.symbol.split("::", 1)[0]

    @property
    def qualname(self) -> str:
        return self.symbol.split("::", 1)[-1]


@dataclass(frozen=True)
class Citation:
    """Code cited in a note's prose, resolved when the note was saved so that `check` guards it too."""

    note: str  # the prompt key or question number it was cited in
    cited: str  # as the reader wrote it
    anchor: Anchor
    line: int | None = None  # for a `path:line` citation, the line it pointed at


@dataclass(frozen=True)
class PinStamp:
    tag: str
    commit: str


@dataclass(frozen=True)
class NotesFile:
    """One file of annotations/: a target's anchors and three notes, or the answers to the questions."""

    name: str  # target key, or "questions"
    path: str | None  # the target's upstream path; None for questions
    pin: PinStamp
    anchors: tuple[Anchor, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)
    citations: tuple[Citation, ...] = ()

    @property
    def is_questions(self) -> bool:
        return self.name == QUESTIONS_FILE

    def written(self) -> int:
        return sum(1 for text in self.notes.values() if text.strip())


def notes_path(notes_dir: Path, name: str) -> Path:
    return notes_dir / f"{name}.yaml"


# ---------------------------------------------------------------- loading


def load_notes(notes_dir: Path, name: str, display_root: Path | None = None) -> NotesFile:
    """Load and validate annotations/<name>.yaml; any problem is an AnnotationError `path:line: ...`."""
    path = notes_path(notes_dir, name)
    return load_notes_from(path, name, _display(path, display_root or notes_dir.parent))


def load_notes_if_present(notes_dir: Path, name: str) -> NotesFile | None:
    """The notes file `name`, or None before it has been written."""
    return load_notes(notes_dir, name) if notes_path(notes_dir, name).exists() else None


def load_notes_from(path: Path, name: str, shown: str) -> NotesFile:
    """Validate any file as the notes file `name` (used for a hand edit before it replaces the real one)."""
    try:
        data = read_yaml_file(path, shown)
    except YamlFileError as error:
        raise AnnotationError(str(error)) from None
    return _notes_from_data(data, shown, name)


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


class _Checker:
    """Shape checks that name the file and line of what is wrong."""

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def fail(self, line: int, message: str) -> AnnotationError:
        return AnnotationError(f"{self.shown}:{line}: {message}")

    def mapping(self, value: Any, line: int, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> LineDict:
        if not isinstance(value, LineDict):
            raise self.fail(line, f"{where} must be a mapping with {', '.join(required)}")
        for key in value:
            if key not in required and key not in optional:
                raise self.fail(value.key_lines[key], f"unknown key {key!r} in {where} (expected {', '.join(required + optional)})")
        for key in required:
            if key not in value:
                raise self.fail(value.line, f"{where} is missing {key!r}")
        return value

    def string(self, mapping: LineDict, key: str, where: str, allow_empty: bool = False) -> str:
        value = mapping.get(key)
        if value is None and allow_empty:
            return ""
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(mapping.key_lines.get(key, mapping.line), f"{where}.{key} must be {'a' if allow_empty else 'a non-empty'} string, not {_describe(value)}")
        return value

    def integer(self, mapping: LineDict, key: str, where: str) -> int:
        value = mapping.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(mapping.key_lines.get(key, mapping.line), f"{where}.{key} must be a line number (1 or more), not {_describe(value)}")
        return value

    def sequence(self, mapping: LineDict, key: str, where: str) -> LineList:
        value = mapping.get(key)
        if value is None:
            empty = LineList()
            empty.line, empty.item_lines = mapping.key_lines.get(key, mapping.line), []
            return empty
        if not isinstance(value, LineList):
            raise self.fail(mapping.key_lines.get(key, mapping.line), f"{where}.{key} must be a list, not {_describe(value)}")
        return value


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    return f"{type(value).__name__} {str(value)[:40]!r}"


_ANCHOR_KEYS = ("symbol", "kind", "start", "end", "fingerprint")


def _anchor(check: _Checker, raw: Any, line: int, where: str, extra: tuple[str, ...] = ()) -> tuple[Anchor, LineDict]:
    mapping = check.mapping(raw, line, where, _ANCHOR_KEYS + tuple(key for key in extra if key != "line"), ("line",) if "line" in extra else ())
    anchor = Anchor(
        symbol=check.string(mapping, "symbol", where),
        kind=check.string(mapping, "kind", where),
        start=check.integer(mapping, "start", where),
        end=check.integer(mapping, "end", where),
        fingerprint=check.string(mapping, "fingerprint", where),
    )
    if "::" not in anchor.symbol:
        raise check.fail(mapping.key_lines["symbol"], f"{where}.symbol must be path::qualname, not {anchor.symbol!r}")
    if anchor.end < anchor.start:
        raise check.fail(mapping.key_lines["end"], f"{where}.end ({anchor.end}) is before its start ({anchor.start})")
    return anchor, mapping


def _notes_from_data(data: Any, shown: str, name: str) -> NotesFile:
    check = _Checker(shown)
    is_questions = name == QUESTIONS_FILE
    required = ("target", "pin", "notes") if is_questions else ("target", "path", "pin", "anchors", "notes")
    top = check.mapping(data, 1, "the notes file", required, ("citations",))
    target = check.string(top, "target", "the notes file")
    if target != name:
        raise check.fail(top.key_lines["target"], f"target is {target!r} but the file is named {name}.yaml")
    pin_map = check.mapping(top["pin"], top.key_lines["pin"], "pin", ("tag", "commit"))
    pin = PinStamp(tag=check.string(pin_map, "tag", "pin"), commit=str(check.string(pin_map, "commit", "pin")))
    anchors = []
    if not is_questions:
        raw_anchors = check.sequence(top, "anchors", "the notes file")
        for index, (raw, line) in enumerate(zip(raw_anchors, raw_anchors.item_lines), start=1):
            anchors.append(_anchor(check, raw, line, f"anchors[{index}]")[0])
    expected_notes = tuple(str(question) for question in range(1, 100)) if is_questions else PROMPT_KEYS
    notes_map = top["notes"]
    if not isinstance(notes_map, LineDict):
        raise check.fail(top.key_lines["notes"], "notes must be a mapping of " + ("question numbers" if is_questions else ", ".join(PROMPT_KEYS)) + " to text")
    notes: dict[str, str] = {}
    for key in notes_map:
        if key not in expected_notes:
            raise check.fail(notes_map.key_lines[key], f"unknown note {key!r} (expected {'question numbers' if is_questions else ', '.join(PROMPT_KEYS)})")
        notes[key] = check.string(notes_map, key, "notes", allow_empty=True)
    if not is_questions:
        for key in PROMPT_KEYS:
            notes.setdefault(key, "")
    citations = []
    raw_citations = check.sequence(top, "citations", "the notes file")
    for index, (raw, line) in enumerate(zip(raw_citations, raw_citations.item_lines), start=1):
        where = f"citations[{index}]"
        anchor, mapping = _anchor(check, raw, line, where, ("note", "cited", "line"))
        note = mapping.get("note")
        note = str(note) if isinstance(note, int) and not isinstance(note, bool) else note
        if note not in notes:
            raise check.fail(mapping.key_lines["note"], f"{where}.note {note!r} names no note in this file")
        cited_line = check.integer(mapping, "line", where) if "line" in mapping else None
        citations.append(Citation(note=str(note), cited=check.string(mapping, "cited", where), anchor=anchor, line=cited_line))
    return NotesFile(
        name=name,
        path=None if is_questions else check.string(top, "path", "the notes file"),
        pin=pin,
        anchors=tuple(anchors),
        notes=notes,
        citations=tuple(citations),
    )


# ---------------------------------------------------------------- saving


def notes_to_data(notes: NotesFile) -> dict[str, Any]:
    """The plain mapping a NotesFile is saved as, in a fixed key order (so saves diff cleanly)."""
    data: dict[str, Any] = {"target": notes.name}
    if not notes.is_questions:
        data["path"] = notes.path
    data["pin"] = {"tag": notes.pin.tag, "commit": notes.pin.commit}
    if not notes.is_questions:
        data["anchors"] = [_anchor_data(anchor) for anchor in notes.anchors]
    if notes.is_questions:
        data["notes"] = {key: notes.notes[key] for key in sorted(notes.notes, key=int)}
    else:
        data["notes"] = {key: notes.notes.get(key, "") for key in PROMPT_KEYS}
    data["citations"] = [
        {"note": citation.note, "cited": citation.cited, **_anchor_data(citation.anchor), **({"line": citation.line} if citation.line else {})}
        for citation in notes.citations
    ]
    return data


def _anchor_data(anchor: Anchor) -> dict[str, Any]:
    return {"symbol": anchor.symbol, "kind": anchor.kind, "start": anchor.start, "end": anchor.end, "fingerprint": anchor.fingerprint}


def render_notes_file(notes: NotesFile) -> str:
    what = "answers to the guide's questions" if notes.is_questions else f"{notes.name}: {notes.path}"
    return _HEADER.format(what=what) + dump_yaml(notes_to_data(notes))


@contextmanager
def locked(notes_dir: Path, name: str) -> Iterator[None]:
    """Hold annotations/.<name>.lock: a second phase17 process waits rather than interleaving writes."""
    notes_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(notes_dir / f".{name}.lock"), timeout=LOCK_TIMEOUT_SECONDS)
    try:
        with lock:
            yield
    except Timeout:
        raise AnnotationError(
            f"{notes_path(notes_dir, name)}: another phase17 process has held its lock for {LOCK_TIMEOUT_SECONDS}s; try again when it ends."
        ) from None


def save_notes(notes_dir: Path, notes: NotesFile, *, backup: bool = False) -> Path:
    """Write a notes file atomically (the caller holds the lock); with `backup`, keep the old one as .bak first."""
    path = notes_path(notes_dir, notes.name)
    try:
        if backup and path.exists():
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        write_text_atomically(path, render_notes_file(notes))
    except OSError as error:
        raise AnnotationError(f"{path}: could not write ({error.strerror or error}); the previous file is unchanged.") from None
    return path


def update_notes(notes_dir: Path, name: str, change: Mapping[str, str], citations: tuple[Citation, ...] | None = None) -> NotesFile:
    """Load, change some notes (and their citations), save: all under the lock, so nothing is lost to a race."""
    with locked(notes_dir, name):
        current = load_notes(notes_dir, name)
        notes = dict(current.notes)
        notes.update(change)
        kept = tuple(citation for citation in current.citations if citation.note not in change)
        updated = replace(current, notes=notes, citations=kept + (citations or ()))
        save_notes(notes_dir, updated)
        return updated


def list_notes_files(notes_dir: Path) -> list[str]:
    """Names (without .yaml) of the notes files present, sorted."""
    if not notes_dir.is_dir():
        return []
    return sorted(entry.name[: -len(".yaml")] for entry in notes_dir.iterdir() if entry.name.endswith(".yaml") and not entry.name.startswith("."))


def blank_questions(reading_list: ReadingList, pin: PinStamp) -> NotesFile:
    return NotesFile(name=QUESTIONS_FILE, path=None, pin=pin, notes={str(q.number): "" for q in reading_list.questions})
