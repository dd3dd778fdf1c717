"""Writing the lab notebook: record notes and answers (resolving the code they cite), and export notebooks/phase17.md.

Every change goes through annotations.update_notes (locked, atomic), then the Markdown export is regenerated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from phase17.annotations import (
    QUESTIONS_FILE,
    Anchor,
    Citation,
    NotesFile,
    PinStamp,
    blank_questions,
    list_notes_files,
    load_notes_if_present,
    locked,
    notes_path,
    save_notes,
    update_notes,
)
from phase17.errors import Phase17Error
from phase17.guide import PROMPT_KEYS, ReadingList, Target
from phase17.pin import Pin
from phase17.reading import KeySymbol, locate_key_symbols
from phase17.symbols import Symbol, file_definitions, find_symbol_near, parse_ref, python_files
from phase17.yamlfile import write_text_atomically

EXPORT_FILE = "phase17.md"
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_PATH_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.py):(\d+)\b")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z`\"'(]|\s*$)")


@dataclass(frozen=True)
class Recorded:
    """What saving one note did: the file as saved, the citations it anchored, and warnings to show at once."""

    notes: NotesFile
    citations: tuple[Citation, ...]
    warnings: tuple[str, ...]


# ---------------------------------------------------------------- anchors and templates


def anchor_of(symbol: Symbol) -> Anchor:
    return Anchor(symbol=symbol.ref, kind=symbol.kind, start=symbol.start_line, end=symbol.end_line, fingerprint=symbol.fingerprint)


def template_for(target: Target, key_symbols: list[KeySymbol], pin: Pin) -> NotesFile:
    """A fresh notes file: the target's key symbols anchored as they are now, and three empty notes."""
    anchors = tuple(anchor_of(key.matches[0]) for key in key_symbols if key.status == "found")
    return NotesFile(
        name=target.key,
        path=target.path,
        pin=PinStamp(tag=pin.tag, commit=pin.commit),
        anchors=anchors,
        notes={key: "" for key in PROMPT_KEYS},
    )


def ensure_notes_files(notes_dir: Path, upstream: Path, reading_list: ReadingList, pin: Pin) -> list[str]:
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


def first_unfinished_target(notes_dir: Path, reading_list: ReadingList) -> Target | None:
    """The first target (in reading order) whose three notes are not all written."""
    for target in reading_list.targets:
        notes = load_notes_if_present(notes_dir, target.key)
        if notes is None or notes.written() < len(PROMPT_KEYS):
            return target
    return None


# ---------------------------------------------------------------- citations


def resolve_citations(upstream: Path, note: str, text: str, search_paths: tuple[str, ...]) -> tuple[list[Citation], list[str]]:
    """Anchor each piece of code a note cites: `Qual.name`, `path.py::Qual.name`, or path.py:LINE.

    Bare names are looked up in `search_paths` first, then across upstream/. What cannot be pinned to exactly
    one definition becomes a warning, never an anchor.
    """
    citations: list[Citation] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for match in _PATH_LINE.finditer(text):
        cited = match.group(0)
        if cited in seen:
            continue
        seen.add(cited)
        citation, warning = _line_citation(upstream, note, match.group(1), int(match.group(2)), search_paths)
        if citation:
            citations.append(citation)
        if warning:
            warnings.append(warning)
    for match in _BACKTICKED.finditer(text):
        inner = match.group(1).strip().removesuffix("()")
        if _PATH_LINE.fullmatch(inner) or inner in seen:
            continue
        try:
            ref = parse_ref(inner)
        except Phase17Error:
            continue  # `--flag`, `x + y`: code, but not a name to anchor
        seen.add(inner)
        found = find_symbol_near(upstream, ref, search_paths).symbols
        if len(found) == 1:
            citations.append(Citation(note=note, cited=inner, anchor=anchor_of(found[0])))
        elif not found:
            warnings.append(f"`{inner}` is not defined in upstream/; it is kept as text but not anchored.")
        else:
            where = ", ".join(f"{symbol.path}:{symbol.start_line}" for symbol in found[:4])
            warnings.append(f"`{inner}` is defined {len(found)} times ({where}); write path::name to anchor one.")
    return citations, warnings


def _line_citation(upstream: Path, note: str, path: str, line: int, search_paths: tuple[str, ...]) -> tuple[Citation | None, str | None]:
    cited = f"{path}:{line}"
    candidates = _files_matching(upstream, path, search_paths)
    if not candidates:
        return None, f"{cited}: no file {path} in upstream/; not anchored."
    if len(candidates) > 1:
        return None, f"{cited}: {path} matches {len(candidates)} files ({', '.join(candidates[:3])}); write the full path."
    containing = [s for s in file_definitions(upstream, candidates[0]) if s.start_line <= line <= s.end_line]
    if not containing:
        return None, f"{cited}: line {line} of {candidates[0]} is not inside a definition; not anchored."
    innermost = min(containing, key=lambda symbol: (symbol.end_line - symbol.start_line, -symbol.start_line))
    return Citation(note=note, cited=cited, anchor=anchor_of(innermost), line=line), None


def _files_matching(upstream: Path, path: str, search_paths: tuple[str, ...]) -> list[str]:
    if (upstream / path).is_file():
        return [path]
    suffix = "/" + path.lstrip("/")
    for places in ([place for place in search_paths], [""]):
        found = sorted({candidate for place in places for candidate in python_files(upstream, _folder_of(upstream, place)) if candidate.endswith(suffix)})
        if found:
            return found
    return []


def _folder_of(upstream: Path, place: str) -> str:
    place = place.rstrip("/")
    return str(Path(place).parent) if place and (upstream / place).is_file() else place


# ---------------------------------------------------------------- recording


def sentence_warnings(text: str) -> list[str]:
    """An empty note or one past three sentences is worth a word, never a refusal."""
    if not text.strip():
        return ["left empty."]
    sentences = len(_SENTENCE_END.findall(text.strip())) or 1
    if sentences > 3:
        return [f"{sentences} sentences; the guide asks for one sentence per prompt, three in all."]
    return []


def record_note(notes_dir: Path, upstream: Path, target: Target, key: str, text: str, pin: Pin, reading_list: ReadingList) -> Recorded:
    """Save one of a target's three notes now (locked, atomic), anchoring the code it cites."""
    if key not in PROMPT_KEYS:
        raise Phase17Error(f"no prompt {key!r}; the prompts are {', '.join(PROMPT_KEYS)}.")
    ensure_notes_files(notes_dir, upstream, reading_list, pin)
    citations, warnings = resolve_citations(upstream, key, text, (target.place,))
    saved = update_notes(notes_dir, target.key, {key: text.strip()}, tuple(citations))
    return Recorded(saved, tuple(citations), tuple(warnings))


def record_answer(notes_dir: Path, upstream: Path, reading_list: ReadingList, number: int, text: str, pin: Pin) -> Recorded:
    """Save the answer to question `number` in annotations/questions.yaml, anchoring the code it cites."""
    ensure_notes_files(notes_dir, upstream, reading_list, pin)
    places = reading_list.places_for(reading_list.question(number))
    citations, warnings = resolve_citations(upstream, str(number), text, places)
    saved = update_notes(notes_dir, QUESTIONS_FILE, {str(number): text.strip()}, tuple(citations))
    return Recorded(saved, tuple(citations), tuple(warnings))


def reanchor_citations(notes: NotesFile, upstream: Path, reading_list: ReadingList) -> tuple[NotesFile, list[str]]:
    """Re-resolve every citation from the notes' text (after a hand edit): prose wins, anchors follow it."""
    citations: list[Citation] = []
    warnings: list[str] = []
    for key, text in notes.notes.items():
        places = reading_list.places_for(reading_list.question(int(key))) if notes.is_questions else (str(notes.path).rstrip("/"),)
        found, warned = resolve_citations(upstream, key, text, places)
        citations.extend(found)
        warnings.extend(f"{key}: {warning}" for warning in warned)
    return replace(notes, citations=tuple(citations)), warnings


# ---------------------------------------------------------------- export


def export_markdown(notes_dir: Path, reading_list: ReadingList, pin: Pin) -> str:
    """The lab notebook as Markdown: deterministic (fixed order, no timestamps), links pinned to commits."""
    lines = [
        f"# {reading_list.guide}: lab notebook",
        "",
        f"Pinned to vLLM {pin.tag} @ [{pin.short}]({_repository(pin)}/tree/{pin.commit}).",
        "Generated from `annotations/` by `phase17 export` (and after every `phase17 notebook` save); edit the notes there, not here.",
        "",
    ]
    for target in reading_list.targets:
        notes = load_notes_if_present(notes_dir, target.key)
        lines += [f"## {target.number}. {target.title} (`{target.key}`)", "", f"`{target.path}`: {target.sentence}", ""]
        if notes and notes.anchors:
            lines.append("Anchored symbols:")
            lines += [f"- {_link(pin, notes.pin.commit, anchor)} ({anchor.kind})" for anchor in notes.anchors]
            lines.append("")
        for key in PROMPT_KEYS:
            text = notes.notes.get(key, "").strip() if notes else ""
            lines += [f"**{reading_list.prompts[key]}**", "", text or "_Not written yet._", ""]
        if notes and notes.citations:
            lines.append("Cited in these notes:")
            lines += [f"- {_link(pin, notes.pin.commit, c.anchor, c.cited)} (in {c.note.replace('_', ' ')})" for c in notes.citations]
            lines.append("")
    answers = load_notes_if_present(notes_dir, QUESTIONS_FILE)
    lines += ["## Questions", ""]
    for question in reading_list.questions:
        text = answers.notes.get(str(question.number), "").strip() if answers else ""
        lines += [f"### Q{question.number}. {question.text}", "", f"Targets: {', '.join(question.targets)}", "", text or "_Not answered yet._", ""]
        cited = [c for c in (answers.citations if answers else ()) if c.note == str(question.number)]
        if cited:
            lines.append("Cited:")
            lines += [f"- {_link(pin, answers.pin.commit if answers else pin.commit, c.anchor, c.cited)}" for c in cited]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _repository(pin: Pin) -> str:
    return pin.repository.removesuffix(".git").rstrip("/")


def _link(pin: Pin, commit: str, anchor: Anchor, label: str | None = None) -> str:
    lines = f"#L{anchor.start}" + (f"-L{anchor.end}" if anchor.end != anchor.start else "")
    return f"[`{label or anchor.qualname}`]({_repository(pin)}/blob/{commit}/{anchor.path}{lines}) `{anchor.path}:{anchor.start}-{anchor.end}`"


def write_export(notes_dir: Path, notebooks_dir: Path, reading_list: ReadingList, pin: Pin) -> Path:
    path = notebooks_dir / EXPORT_FILE
    try:
        write_text_atomically(path, export_markdown(notes_dir, reading_list, pin))
    except OSError as error:
        raise Phase17Error(f"{path}: could not write the notebook export ({error.strerror or error}); annotations/ is saved.") from None
    return path
