"""Writing the lab notebook: record notes and answers (anchoring the code they cite), then regenerate the export.

Every change goes through annotations.update_notes (locked, atomic), then notebooks/phase17.md is rewritten. The
interactive flows (the interview, the hand edit) take their questions and answers through small callbacks, so the
CLI owns the terminal and this module owns what is saved.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from phase17.errors import InvalidFileError, UnknownTargetError, UsageError, WriteError
from phase17.index.lookup import Lookup, locate_key_symbols
from phase17.index.tree import Tree
from phase17.notes.citations import anchor_of, misspelled_citations, reanchor_citations, resolve_citations
from phase17.notes.export import write_export
from phase17.notes.guide import ReadingList, Target, find_target
from phase17.notes.sentences import sentences
from phase17.notes.store import (
    QUESTIONS_FILE,
    Citation,
    NotesFile,
    PinStamp,
    blank_questions,
    list_notes_files,
    load_notes,
    load_notes_from,
    load_notes_if_present,
    locked,
    notes_path,
    save_notes,
    stamped,
    update_notes,
)
from phase17.prompts import PROMPT_KEYS
from phase17.safety.files import replace_with_copy
from phase17.upstream.pin import Pin
from phase17.upstream.project import NotebookPaths
from phase17.yamlio.lines import MAX_YAML_BYTES


@dataclass(frozen=True)
class Recorded:
    """What saving one note did: the file as saved, the citations it anchored, and warnings to show at once."""

    label: str  # the prompt key, or "Q<number>"
    notes: NotesFile
    citations: tuple[Citation, ...]
    warnings: tuple[str, ...]


# ---------------------------------------------------------------- templates


def template_for(target: Target, key_symbols: list[Lookup], pin: Pin) -> NotesFile:
    """A fresh notes file: the target's key symbols anchored as they are now, and three empty notes."""
    anchors = tuple(anchor_of(key.matches[0]) for key in key_symbols if key.status == "found")
    return NotesFile(
        name=target.key,
        path=target.path,
        pin=PinStamp(tag=pin.tag, commit=pin.commit),
        anchors=anchors,
        notes={key: "" for key in PROMPT_KEYS},
    )


def ensure_notes_files(notes_dir: Path, upstream: Tree, reading_list: ReadingList, pin: Pin) -> list[str]:
    """Create the notes file of every target (and questions.yaml) that does not exist yet; return their names."""
    created = []
    present = set(list_notes_files(notes_dir))
    for target in reading_list.targets:
        if target.key not in present:
            with locked(notes_dir, target.key):
                if not notes_path(notes_dir, target.key).exists():
                    save_notes(notes_dir, template_for(target, locate_key_symbols(upstream, target), pin))
                    created.append(target.key)
    if QUESTIONS_FILE not in present:
        with locked(notes_dir, QUESTIONS_FILE):
            if not notes_path(notes_dir, QUESTIONS_FILE).exists():
                save_notes(notes_dir, blank_questions(reading_list, PinStamp(tag=pin.tag, commit=pin.commit)))
                created.append(QUESTIONS_FILE)
    return created


def _require_readable_notes(notes_dir: Path, reading_list: ReadingList) -> None:
    """Load every notes file the export after a save reads, so that a broken one stops the save before anything
    is written: a command that fails has changed nothing."""
    for name in [target.key for target in reading_list.targets] + [QUESTIONS_FILE]:
        load_notes_if_present(notes_dir, name)


def first_unfinished_target(notes_dir: Path, reading_list: ReadingList) -> Target | None:
    """The first target (in reading order) whose three notes are not all written."""
    for target in reading_list.targets:
        notes = load_notes_if_present(notes_dir, target.key)
        if notes is None or notes.written() < len(PROMPT_KEYS):
            return target
    return None


def notes_target(
    where: NotebookPaths, upstream: Tree, reading_list: ReadingList, pin: Pin, text: str | None
) -> Target | None:
    """The target whose notes a reader means: the one named (it must be on the list), else the first unfinished.

    Every notes file is created first, so the reader can also edit them by hand.
    """
    ensure_notes_files(where.notes, upstream, reading_list, pin)
    if text is None:
        return first_unfinished_target(where.notes, reading_list)
    target = find_target(reading_list, text, upstream.root)
    if target.number == 0:
        raise UnknownTargetError(
            f"{target.path} is not on the reading list; notes are kept for {', '.join(reading_list.keys)}."
        )
    return target


# ---------------------------------------------------------------- recording


def sentence_warnings(text: str) -> list[str]:
    """An empty note or one past three sentences is worth a word, never a refusal."""
    if not text.strip():
        return ["left empty."]
    count = len(sentences(text))
    if count > 3:
        return [f"{count} sentences; the guide asks for one sentence per prompt, three in all."]
    return []


def _refuse_raw_bytes(label: str, text: str) -> None:
    """A note must be text: bytes a shell passed undecoded (lone surrogates) would poison every later save."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"{label}: the text is not valid UTF-8 (the shell passed raw bytes); nothing was saved."
        ) from None


def record_note(
    where: NotebookPaths, upstream: Tree, reading_list: ReadingList, pin: Pin, target: Target, key: str, text: str
) -> Recorded:
    """Save one of a target's three notes now (locked, atomic), anchoring the code it cites; then export."""
    if key not in PROMPT_KEYS:
        raise UnknownTargetError(f"no prompt {key!r}; the prompts are {', '.join(PROMPT_KEYS)}.")
    _refuse_raw_bytes(key.replace("_", " "), text)
    ensure_notes_files(where.notes, upstream, reading_list, pin)
    _require_readable_notes(where.notes, reading_list)
    citations, warnings = resolve_citations(upstream, key, text, (target.place,))
    saved = update_notes(where.notes, target.key, {key: text.strip()}, tuple(citations), pin.commit)
    write_export(where.notes, where.notebooks, reading_list, pin)
    return Recorded(key, saved, tuple(citations), tuple(sentence_warnings(text)) + tuple(warnings))


def record_answer(
    where: NotebookPaths, upstream: Tree, reading_list: ReadingList, pin: Pin, number: int, text: str
) -> Recorded:
    """Save the answer to question `number` in annotations/questions.yaml, anchoring the code it cites; then export."""
    places = reading_list.places_for(reading_list.question(number))
    _refuse_raw_bytes(f"Q{number}", text)
    ensure_notes_files(where.notes, upstream, reading_list, pin)
    _require_readable_notes(where.notes, reading_list)
    citations, warnings = resolve_citations(upstream, str(number), text, places)
    saved = update_notes(where.notes, QUESTIONS_FILE, {str(number): text.strip()}, tuple(citations), pin.commit)
    write_export(where.notes, where.notebooks, reading_list, pin)
    return Recorded(f"Q{number}", saved, tuple(citations), tuple(warnings))


def record_notes(
    where: NotebookPaths,
    upstream: Tree,
    reading_list: ReadingList,
    pin: Pin,
    target: Target,
    given: dict[str, str | None],
) -> list[Recorded]:
    """Save each note given on the command line (None: not given)."""
    return [
        record_note(where, upstream, reading_list, pin, target, key, text)
        for key, text in given.items()
        if text is not None
    ]


# ---------------------------------------------------------------- the interview


class Interviewer(Protocol):
    """The terminal side of `phase17 notebook`: show the target, ask a prompt (Ctrl-C raises KeyboardInterrupt),
    show a save."""

    def begin(self, target: Target, key_symbols: list[Lookup]) -> None: ...

    def ask(self, prompt: str, current: str) -> str: ...

    def saved(self, recorded: Recorded) -> None: ...

    def warn(self, message: str) -> None: ...

    def correct(self, written: str, closest: str) -> bool:
        """Should the citation `written`, which names nothing, become `closest`? (Asked before the save.)"""
        ...


@dataclass(frozen=True)
class InterviewResult:
    saved: int
    stopped: bool  # the reader stopped early (Ctrl-C or end of input); everything answered is saved
    next_target: Target | None


def interview(
    where: NotebookPaths, upstream: Tree, reading_list: ReadingList, pin: Pin, target: Target, asker: Interviewer
) -> InterviewResult:
    """Ask each prompt, then each linked question; save every changed answer at once (stopping loses nothing given)."""
    saved = 0
    ensure_notes_files(where.notes, upstream, reading_list, pin)
    asker.begin(target, locate_key_symbols(upstream, target))
    try:
        current = load_notes(where.notes, target.key)
        for key in PROMPT_KEYS:
            answer = asker.ask(reading_list.prompts[key], current.notes.get(key, ""))
            answer = _corrected(upstream, answer, (target.place,), asker)
            if answer != current.notes.get(key, ""):
                asker.saved(record_note(where, upstream, reading_list, pin, target, key, answer))
                saved += 1
            elif not answer:
                asker.warn("left empty.")
        answers = load_notes(where.notes, QUESTIONS_FILE)
        for question in reading_list.questions_for(target.key):
            before = answers.notes.get(str(question.number), "")
            answer = asker.ask(f"Q{question.number}. {question.text}", before)
            answer = _corrected(upstream, answer, reading_list.places_for(question), asker)
            if answer != before:
                asker.saved(record_answer(where, upstream, reading_list, pin, question.number, answer))
                saved += 1
    except (KeyboardInterrupt, EOFError):
        return InterviewResult(saved=saved, stopped=True, next_target=None)
    return InterviewResult(saved=saved, stopped=False, next_target=reading_list.next_target(target))


def _corrected(upstream: Tree, answer: str, places: tuple[str, ...], asker: Interviewer) -> str:
    """The answer with each misspelled citation the reader agrees to fix replaced by the definition's name."""
    for written, closest in misspelled_citations(upstream, answer, places) if "`" in answer else ():
        if asker.correct(written, closest):
            answer = answer.replace(f"`{written}`", f"`{closest}`")
    return answer


# ---------------------------------------------------------------- a hand edit


@dataclass(frozen=True)
class Edited:
    path: Path
    citations: int
    warnings: tuple[str, ...]


def edit_notes(
    where: NotebookPaths,
    upstream: Tree,
    reading_list: ReadingList,
    pin: Pin,
    name: str,
    run_editor: Callable[[Path], int],
    reopen: Callable[[InvalidFileError], bool],
) -> Edited:
    """Edit a copy; only a copy that validates replaces the notes file, so a bad edit never costs the old one.

    A rejected copy is kept as annotations/.<name>.rejected.yaml and the error says so. If another save changed
    the file while the editor was open, the edit is kept aside the same way rather than overwrite that save.
    """
    ensure_notes_files(where.notes, upstream, reading_list, pin)
    path = notes_path(where.notes, name)
    draft = path.with_name(f".{name}.edit.yaml")
    replace_with_copy(path, draft, MAX_YAML_BYTES)  # a planted link at the draft's name is replaced
    original = path.read_bytes()
    while True:
        status = run_editor(draft)
        try:
            edited = load_notes_from(draft, name, f"annotations/{path.name}")
            break
        except InvalidFileError as error:
            if status == 0 and reopen(error):
                continue
            rejected = path.with_name(f".{name}.rejected.yaml")
            os.replace(draft, rejected)
            raise InvalidFileError(
                f"{error}; annotations/{path.name} is unchanged and your edit is kept in annotations/{rejected.name}."
            ) from None
    edited, warnings = reanchor_citations(edited, upstream, reading_list)
    edited = replace(edited, citations=stamped(edited.citations, edited.pin, pin.commit))
    with locked(where.notes, name):
        if path.read_bytes() != original:
            rejected = path.with_name(f".{name}.rejected.yaml")
            os.replace(draft, rejected)
            raise WriteError(
                f"annotations/{path.name} was saved by another phase17 while you edited it; it keeps that save, and "
                f"your edit is kept in annotations/{rejected.name} to merge by hand."
            )
        save_notes(where.notes, edited, backup=True)
    draft.unlink(missing_ok=True)
    write_export(where.notes, where.notebooks, reading_list, pin)
    return Edited(path=path, citations=len(edited.citations), warnings=tuple(warnings))
