"""What `read` and `list` show: a target's key symbols located now, its outline, and the reader's notes so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phase17.errors import InvalidFileError, SymbolNotFoundError, UnreadableSourceError
from phase17.index.lookup import (
    Lookup,
    Unreadable,
    file_definitions,
    locate_key_symbols,
    locate_near_target,
    python_files,
    source_lines,
    source_text,
)
from phase17.index.tree import Tree
from phase17.instruments.material import Material, example_plugins, gather_material
from phase17.notes.guide import Question, ReadingList, Target
from phase17.notes.store import QUESTIONS_FILE, Citation, NotesFile, load_health, load_notes_if_present
from phase17.prompts import PROMPT_KEYS
from phase17.source.symbols import OutlineNode, build_outline
from phase17.upstream.pin import Pin


@dataclass(frozen=True)
class FileOutline:
    path: str
    outline: tuple[OutlineNode, ...]


@dataclass(frozen=True)
class PromptAnswer:
    key: str
    prompt: str
    answer: str


@dataclass(frozen=True)
class QuestionAnswer:
    question: Question
    answer: str


@dataclass(frozen=True)
class TargetView:
    """Everything `phase17 read TARGET` shows, as data."""

    target: Target
    pin: Pin
    files: tuple[FileOutline, ...]
    key_symbols: tuple[Lookup, ...]
    prompts: tuple[PromptAnswer, ...]
    questions: tuple[QuestionAnswer, ...]
    next_target: Target | None
    total_targets: int
    unreadable: tuple[Unreadable, ...] = ()
    sources: dict[str, list[str]] = field(default_factory=dict)  # each key symbol's lines, by its ref
    focus: str | None = None  # `read --symbol REF`: the one symbol asked for
    citations: tuple[Citation, ...] = ()  # code cited in this target's notes and in its questions' answers
    whole_files: dict[str, str] = field(default_factory=dict)  # path -> text, for `read --full`
    material: Material = field(default_factory=Material)  # upstream's design docs, example plugins and tests
    notes_problems: tuple[str, ...] = ()  # a notes file that cannot be read: the code is shown, its notes are not


def target_files(upstream: Tree, target: Target) -> list[str]:
    """The Python files a target covers: its one file, or every .py file below its folder."""
    if not (upstream / target.path).exists():
        raise SymbolNotFoundError(
            f"{target.path}: not in {upstream}; the upstream tree may have moved it (run phase17 check)."
        )
    return list(python_files(upstream, target.place))


def outline_files(upstream: Tree, paths: list[str]) -> tuple[list[FileOutline], list[Unreadable]]:
    """The outline of each file; a file that cannot be read is listed once, and never hides the others."""
    files: list[FileOutline] = []
    unreadable: list[Unreadable] = []
    for relative in paths:
        try:
            files.append(FileOutline(path=relative, outline=tuple(build_outline(file_definitions(upstream, relative)))))
        except UnreadableSourceError as error:
            unreadable.append(Unreadable(relative, error.reason))
    return files, unreadable


def build_view(
    upstream: Tree,
    notes_dir: Path,
    reading_list: ReadingList,
    target: Target,
    pin: Pin,
    symbol: str | None = None,
    full: bool = False,
) -> TargetView:
    """Everything `read` shows; with `symbol`, that one symbol (found in the target first) instead of the key ones;
    with `full`, the whole text of each file as well."""
    files, unreadable = outline_files(upstream, target_files(upstream, target))
    key_symbols = (
        (locate_near_target(upstream, target, symbol),) if symbol else tuple(locate_key_symbols(upstream, target))
    )
    if symbol and not key_symbols[0].matches:
        close = key_symbols[0].suggestions
        hint = f"did you mean {', '.join(close)}?" if close else f"see what is there with phase17 outline {target.key}."
        raise SymbolNotFoundError(
            f"{symbol}: no definition of that name in {target.path} or elsewhere in upstream/; {hint}"
        )
    problems: list[str] = []
    notes = readable_notes(notes_dir, target.key, problems)
    answers = readable_notes(notes_dir, QUESTIONS_FILE, problems)
    prompts = tuple(
        PromptAnswer(key=key, prompt=reading_list.prompts[key], answer=notes.notes.get(key, "") if notes else "")
        for key in PROMPT_KEYS
    )
    questions = tuple(
        QuestionAnswer(question=question, answer=answers.notes.get(str(question.number), "") if answers else "")
        for question in reading_list.questions_for(target.key)
    )
    return TargetView(
        target=target,
        pin=pin,
        files=tuple(files),
        key_symbols=key_symbols,
        prompts=prompts,
        questions=questions,
        next_target=reading_list.next_target(target),
        total_targets=len(reading_list.targets),
        unreadable=tuple(unreadable),
        notes_problems=tuple(problems),
        sources={match.ref: source_lines(upstream, match) for key in key_symbols for match in key.matches},
        whole_files={item.path: source_text(upstream, item.path) for item in files} if full and not symbol else {},
        focus=symbol,
        citations=_citations_of(target, notes, answers, questions),
        material=Material() if symbol else _material_of(upstream, target),
    )


def _material_of(upstream: Tree, target: Target) -> Material:
    """Upstream's own material on a target: the design docs and tests naming its key symbols, and the example
    plugins of the kind it is about (the guide's `example_plugins`: groups holding that word, "*" every one)."""
    names = [text.rsplit("::", 1)[-1].rsplit(".", 1)[-1] for text in target.symbols]
    wanted = target.example_plugins
    if wanted == "*":
        groups: tuple[str, ...] | None = None
    elif wanted:
        groups = tuple(example.group for example in example_plugins(upstream) if wanted in example.group)
    else:
        groups = ()
    return gather_material(upstream, names, groups=groups)


def _citations_of(
    target: Target, notes: NotesFile | None, answers: NotesFile | None, questions: tuple[QuestionAnswer, ...]
) -> tuple[Citation, ...]:
    linked = {str(item.question.number) for item in questions}
    own = notes.citations if notes else ()
    answered = tuple(citation for citation in (answers.citations if answers else ()) if citation.note in linked)
    return tuple(own) + answered


def first_location(upstream: Tree, view: TargetView) -> tuple[Path, int | None]:
    """Where `read --open` opens the editor: the first key symbol found, else the target's first file."""
    first = next((key.matches[0] for key in view.key_symbols if key.matches), None)
    if first is not None:
        return upstream / first.path, first.start_line
    return upstream / view.files[0].path, None


def outline_data(nodes: tuple[OutlineNode, ...] | list[OutlineNode]) -> list[dict[str, Any]]:
    return [
        {
            "qualname": node.symbol.qualname,
            "kind": node.symbol.kind,
            "start_line": node.symbol.start_line,
            "end_line": node.symbol.end_line,
            "children": outline_data(node.children),
        }
        for node in nodes
    ]


def view_data(view: TargetView) -> dict[str, Any]:
    """The JSON form of `read`: the same content as the screen."""
    target = view.target
    return {
        "target": {
            "key": target.key,
            "number": target.number or None,
            "path": target.path,
            "title": target.title,
            "sentence": target.sentence,
        },
        "pin": {"tag": view.pin.tag, "commit": view.pin.commit},
        "files": [{"path": item.path, "outline": outline_data(item.outline)} for item in view.files],
        "symbols": [
            {"ref": key.ref, "status": key.status, "matches": [symbol.to_data() for symbol in key.matches]}
            for key in view.key_symbols
        ],
        "prompts": [{"key": item.key, "prompt": item.prompt, "answer": item.answer} for item in view.prompts],
        "questions": [
            {
                "number": item.question.number,
                "text": item.question.text,
                "answer": item.answer,
                "evidence": list(item.question.evidence),
            }
            for item in view.questions
        ],
        "next": view.next_target.key if view.next_target else None,
        "unreadable": [{"path": item.path, "reason": item.reason} for item in view.unreadable],
        "notes_problems": list(view.notes_problems),
        "focus": view.focus,
        "material": view.material.to_data(),
        "citations": [
            {"note": c.note, "cited": c.cited, "symbol": c.anchor.symbol, "start": c.anchor.start, "end": c.anchor.end}
            for c in view.citations
        ],
    }


@dataclass(frozen=True)
class TargetStatus:
    """One row of `phase17 list`."""

    target: Target
    symbols_found: int | None  # None when upstream/ is missing
    notes_written: int
    questions_answered: int
    questions_linked: int
    health: str  # from the last check, or "not checked"
    problems: tuple[str, ...] = ()  # its notes file (the first row: and the answers file) cannot be read


def readable_notes(notes_dir: Path, name: str, problems: list[str]) -> NotesFile | None:
    """A notes file for a command that only reads it: a broken one costs only itself (its notes are not shown,
    and `problems` says which line to fix); the commands that write it still refuse."""
    try:
        return load_notes_if_present(notes_dir, name)
    except InvalidFileError as error:
        problems.append(
            f"{error}: its notes are left out until it is fixed (phase17 notebook {name} --edit, or "
            f"git checkout annotations/{name}.yaml, or its .bak)"
            if name != QUESTIONS_FILE
            else f"{error}: the answers are left out until it is fixed (git checkout annotations/{name}.yaml, "
            "or its .bak)"
        )
        return None


def reading_status(upstream: Tree | None, notes_dir: Path, reading_list: ReadingList) -> list[TargetStatus]:
    answers_problems: list[str] = []
    answers = readable_notes(notes_dir, QUESTIONS_FILE, answers_problems)
    last_check = load_health(notes_dir)
    rows: list[TargetStatus] = []
    for target in reading_list.targets:
        found = None
        if upstream is not None:
            found = sum(1 for key in locate_key_symbols(upstream, target) if key.status == "found")
        own: list[str] = []
        notes = readable_notes(notes_dir, target.key, own)
        linked = reading_list.questions_for(target.key)
        answered = sum(1 for question in linked if answers and answers.notes.get(str(question.number), "").strip())
        rows.append(
            TargetStatus(
                target=target,
                symbols_found=found,
                notes_written=notes.written() if notes else 0,
                questions_answered=answered,
                questions_linked=len(linked),
                health="notes file broken" if own else last_check.get(target.key, "not checked"),
                problems=(() if rows else tuple(answers_problems)) + tuple(own),  # (the answers': said once)
            )
        )
    return rows


def status_data(rows: list[TargetStatus]) -> list[dict[str, Any]]:
    """The JSON form of `list`."""
    return [
        {
            "number": row.target.number,
            "key": row.target.key,
            "path": row.target.path,
            "problems": list(row.problems),
            "symbols_found": row.symbols_found,
            "symbols": len(row.target.symbols),
            "notes_written": row.notes_written,
            "questions_answered": row.questions_answered,
            "questions_linked": row.questions_linked,
            "anchors": row.health,
        }
        for row in rows
    ]
