"""The reader's notes: one YAML file per reading target in annotations/, plus questions.yaml for the answers.

Loading checks the schema and reports `path:line: what is wrong` without touching the file; saving is atomic
(temp file, fsync, rename) under a file lock, so a crash or a second process never leaves half a file, and it
rewrites only what changed, so the reader's own comments survive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from phase17.errors import InvalidFileError, Phase17Error, WriteError
from phase17.notes.guide import ReadingList
from phase17.prompts import PROMPT_KEYS
from phase17.safety.files import (
    read_limited,
    refuse_odd_file,
    replace_with_copy,
    safe_folder,
    write_text_atomically,
)
from phase17.yamlio.lines import MAX_YAML_BYTES
from phase17.yamlio.load import read_yaml_file
from phase17.yamlio.roundtrip import render_yaml
from phase17.yamlio.validation import require_valid

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
    commit: str | None = None  # the commit these lines belong to, when not the notes file's pin stamp
    retired: str | None = None  # the code is gone: the commit where it was last seen (check --retire)

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
    line_text: str | None = None  # ...and what was on it (stripped), so the line can be found again
    last_line: int | None = None  # for a `path:A-B` citation, its last line (B)
    last_text: str | None = None  # ...and what was on that one


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
    """Load and validate annotations/<name>.yaml; any problem is an InvalidFileError `path:line: ...`."""
    path = notes_path(notes_dir, name)
    return load_notes_from(path, name, _display(path, display_root or notes_dir.parent))


def load_notes_if_present(notes_dir: Path, name: str) -> NotesFile | None:
    """The notes file `name`, or None before it has been written.

    A dangling symlink is not "not written yet": it is an error, so an export never silently drops notes.
    """
    path = notes_path(notes_dir, name)
    if path.is_symlink() and not path.exists():
        raise InvalidFileError(
            f"{notes_dir.name}/{path.name}: a symlink to nothing; restore the notes file it pointed at."
        )
    return load_notes(notes_dir, name) if path.exists() else None


def load_notes_from(path: Path, name: str, shown: str) -> NotesFile:
    """Validate any file as the notes file `name` (used for a hand edit before it replaces the real one)."""
    data = read_yaml_file(path, shown)
    is_questions = name == QUESTIONS_FILE
    # after this, the keys below exist with the right types (a missing list or note may be null: read as empty)
    require_valid("QuestionNotesFile" if is_questions else "TargetNotesFile", data, shown)
    if data["target"] != name:
        from phase17.yamlio.schema import located_error

        raise located_error(shown, data, ("target",), f"target is {data['target']!r} but the file is named {name}.yaml")
    texts = {str(key): "" if text is None else text for key, text in data["notes"].items()}
    if is_questions:
        notes = dict(sorted(texts.items(), key=lambda item: int(item[0])))
    else:
        notes = {key: texts.get(key, "") for key in PROMPT_KEYS}
    return NotesFile(
        name=name,
        path=None if is_questions else data["path"],
        pin=PinStamp(tag=data["pin"]["tag"], commit=data["pin"]["commit"]),
        anchors=() if is_questions else tuple(_anchor(item) for item in data["anchors"] or ()),
        notes=notes,
        citations=tuple(
            Citation(
                note=str(item["note"]),
                cited=item["cited"],
                anchor=_anchor(item),
                line=item.get("line"),
                line_text=item.get("line_text"),
                last_line=item.get("last_line"),
                last_text=item.get("last_text"),
            )
            for item in data.get("citations") or ()
        ),
    )


def _anchor(entry: Mapping[str, Any]) -> Anchor:
    return Anchor(
        symbol=entry["symbol"],
        kind=entry["kind"],
        start=entry["start"],
        end=entry["end"],
        fingerprint=entry["fingerprint"],
        commit=entry.get("commit"),
        retired=entry.get("retired"),
    )


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


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
        {
            "note": citation.note,
            "cited": citation.cited,
            **_anchor_data(citation.anchor),
            **({"line": citation.line} if citation.line else {}),
            **({"line_text": citation.line_text} if citation.line_text is not None else {}),
            **({"last_line": citation.last_line} if citation.last_line else {}),
            **({"last_text": citation.last_text} if citation.last_text is not None else {}),
        }
        for citation in notes.citations
    ]
    return data


def _anchor_data(anchor: Anchor) -> dict[str, Any]:
    return {
        "symbol": anchor.symbol,
        "kind": anchor.kind,
        "start": anchor.start,
        "end": anchor.end,
        "fingerprint": anchor.fingerprint,
        **({"commit": anchor.commit} if anchor.commit else {}),
        **({"retired": anchor.retired} if anchor.retired else {}),
    }


def render_notes_file(notes: NotesFile, previous: str | None = None) -> str:
    """The file's text; with the `previous` text, the reader's comments, order and quoting are kept."""
    what = "answers to the guide's questions" if notes.is_questions else f"{notes.name}: {notes.path}"
    return render_yaml(notes_to_data(notes), previous=previous, header=_HEADER.format(what=what))


@contextmanager
def locked(notes_dir: Path, name: str) -> Iterator[None]:
    """Hold annotations/.<name>.lock: a second phase17 process waits rather than interleaving writes."""
    from filelock import FileLock, Timeout

    safe_folder(notes_dir, notes_dir.parent)  # annotations/ linked elsewhere: nothing is written there
    lock_path = notes_dir / f".{name}.lock"
    refuse_odd_file(lock_path, f"{notes_dir.name}/{lock_path.name}")  # a planted link would be truncated
    lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT_SECONDS)
    try:
        with lock:
            yield
    except Timeout:
        raise WriteError(
            f"{notes_path(notes_dir, name)}: another phase17 process has held its lock for "
            f"{LOCK_TIMEOUT_SECONDS}s; try again when it ends."
        ) from None


def save_notes(notes_dir: Path, notes: NotesFile, *, backup: bool = False) -> Path:
    """Write a notes file atomically (the caller holds the lock); with `backup`, keep the old one as .bak first."""
    path = notes_path(notes_dir, notes.name)
    try:
        previous = path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        previous = None
    try:
        if backup and path.exists():
            replace_with_copy(path, path.with_name(path.name + ".bak"), MAX_YAML_BYTES)
        write_text_atomically(path, render_notes_file(notes, previous))
    except OSError as error:
        raise WriteError(
            f"{path}: could not write ({error.strerror or error}); the previous file is unchanged."
        ) from None
    return path


def update_notes(
    notes_dir: Path,
    name: str,
    change: Mapping[str, str],
    citations: tuple[Citation, ...] | None = None,
    commit: str | None = None,
) -> NotesFile:
    """Load, change some notes (and their citations, anchored in the tree at `commit`), save: all under the lock,
    so nothing is lost to a race; the previous file is kept as .bak, so one save can always be undone."""
    with locked(notes_dir, name):
        current = load_notes(notes_dir, name)
        notes = dict(current.notes)
        notes.update(change)
        kept = tuple(citation for citation in current.citations if citation.note not in change)
        new = stamped(citations or (), current.pin, commit)
        updated = replace(current, notes=notes, citations=kept + new)
        save_notes(notes_dir, updated, backup=True)
        return updated


def stamped(citations: tuple[Citation, ...], file_stamp: PinStamp, commit: str | None) -> tuple[Citation, ...]:
    """Citations anchored just now, in the tree at `commit`: when the file's stamp names another commit (a re-pin
    since it was written), each says its own, so its recorded lines are linked to the tree they were read in."""
    if commit is None or commit == file_stamp.commit:
        return citations
    return tuple(replace(c, anchor=replace(c.anchor, commit=commit)) for c in citations)


def list_notes_files(notes_dir: Path) -> list[str]:
    """Names (without .yaml) of the notes files present, sorted."""
    if not notes_dir.is_dir():
        return []
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in notes_dir.iterdir()
        if entry.name.endswith(".yaml") and not entry.name.startswith(".")
    )


def blank_questions(reading_list: ReadingList, pin: PinStamp) -> NotesFile:
    return NotesFile(name=QUESTIONS_FILE, path=None, pin=pin, notes={str(q.number): "" for q in reading_list.questions})


# ---------------------------------------------------------------- the last check's verdicts, for `list` and export

LAST_CHECK_FILE = ".last-check.json"
ReviewKey = tuple[str, str, str, str]  # a citation: (notes file, note, as cited, recorded fingerprint)


@dataclass(frozen=True)
class LastCheck:
    """What the last `check` found: each notes file's anchor health (for `list`), and the citations whose code
    changed, moved into other code or is gone since they were written and are not yet reviewed (for the export's
    marks; None when an older phase17 wrote the file and did not say)."""

    health: dict[str, str]
    unreviewed: frozenset[ReviewKey] | None


def save_last_check(notes_dir: Path, last: LastCheck) -> None:
    """Remember the last check (a cache, git-ignored; losing it costs a `phase17 check`)."""
    data = {"health": last.health, "unreviewed": sorted(list(key) for key in last.unreviewed or ())}
    try:
        write_text_atomically(notes_dir / LAST_CHECK_FILE, json.dumps(data, indent=1, sort_keys=True) + "\n")
    except (OSError, Phase17Error):
        pass  # only a cache; the check's own report has been given


def load_last_check(notes_dir: Path) -> LastCheck | None:
    """The last check remembered, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads(read_limited(notes_dir / LAST_CHECK_FILE, 16 * 1024 * 1024, root=notes_dir))
    except (OSError, ValueError, Phase17Error):
        return None
    if not isinstance(data, dict):
        return None
    if not isinstance(data.get("health"), dict):  # the older form: the health alone
        return LastCheck({str(key): str(value) for key, value in data.items()}, None)
    keys = data.get("unreviewed")
    unreviewed = (
        frozenset(
            (str(key[0]), str(key[1]), str(key[2]), str(key[3]))
            for key in keys
            if isinstance(key, list) and len(key) == 4
        )
        if isinstance(keys, list)
        else None
    )
    return LastCheck({str(key): str(value) for key, value in data["health"].items()}, unreviewed)


def load_health(notes_dir: Path) -> dict[str, str]:
    last = load_last_check(notes_dir)
    return last.health if last else {}
