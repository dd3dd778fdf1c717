"""The lab notebook exported: Markdown (notebooks/phase17.md, every link pinned to a commit) and a VS Code CodeTour."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from phase17.errors import Phase17Error, UnreadableSourceError, WriteError
from phase17.index.lookup import locate_key_symbols, look_up
from phase17.index.tree import Tree
from phase17.notes.guide import ReadingList
from phase17.notes.marks import marked_notes
from phase17.notes.store import (
    QUESTIONS_FILE,
    Anchor,
    Citation,
    NotesFile,
    load_last_check,
    load_notes_if_present,
)
from phase17.prompts import PROMPT_KEYS
from phase17.safety.files import read_limited, refuse_odd_file, safe_folder, write_text_atomically
from phase17.safety.markdown import escaped_text, note_markdown
from phase17.safety.text import code_span, safe_url
from phase17.upstream.pin import Pin

EXPORT_FILE = "phase17.md"


def export_markdown(notes_dir: Path, reading_list: ReadingList, pin: Pin) -> str:
    """The lab notebook as Markdown: deterministic (fixed order, no timestamps), links pinned to commits."""
    lines = [
        f"# {reading_list.guide}: lab notebook",
        "",
        f"Pinned to {escaped_text(reading_list.upstream.name)} {escaped_text(pin.tag)} @ {_commit_link(pin)}.",
        "Generated from `annotations/` by `phase17 export` (and after every `phase17 notebook` "
        "save); edit the notes there, not here.",
        "",
    ]
    last = load_last_check(notes_dir)
    marked = 0
    for target in reading_list.targets:
        notes = load_notes_if_present(notes_dir, target.key)
        texts, count = marked_notes(notes, last, pin.commit) if notes else ({}, 0)
        marked += count
        lines += [f"## {target.number}. {target.title} (`{target.key}`)", "", f"`{target.path}`: {target.sentence}", ""]
        if notes and notes.anchors:
            lines.append("Anchored symbols:")
            lines += [
                f"- {_link(pin, _commit_of(anchor, notes), anchor)} ({anchor.kind}){_retired(anchor)}"
                for anchor in notes.anchors
            ]
            lines.append("")
        for key in PROMPT_KEYS:
            text = texts.get(key, "").strip()
            lines += [f"**{reading_list.prompts[key]}**", "", note_markdown(text) or "_Not written yet._", ""]
        if notes and notes.citations:
            lines.append("Cited in these notes:")
            lines += [
                f"- {_link(pin, _commit_of(c.anchor, notes), c.anchor, c.cited, c.line)}"
                f" (in {c.note.replace('_', ' ')}){_retired(c.anchor)}"
                for c in notes.citations
            ]
            lines.append("")
    answers = load_notes_if_present(notes_dir, QUESTIONS_FILE)
    answer_texts, count = marked_notes(answers, last, pin.commit) if answers else ({}, 0)
    marked += count
    lines += ["## Questions", ""]
    for question in reading_list.questions:
        text = answer_texts.get(str(question.number), "").strip()
        lines += [
            f"### Q{question.number}. {question.text}",
            "",
            f"Targets: {', '.join(question.targets)}",
            "",
            note_markdown(text) or "_Not answered yet._",
            "",
        ]
        cited = [c for c in (answers.citations if answers else ()) if c.note == str(question.number)]
        if cited:
            lines.append("Cited:")
            lines += [
                f"- {_link(pin, _commit_of(c.anchor, answers) if answers else pin.commit, c.anchor, c.cited, c.line)}"
                f"{_retired(c.anchor)}"
                for c in cited
            ]
            lines.append("")
    if marked:
        lines[5:5] = [
            f"{marked} sentence(s) below are marked [unreviewed since ...]: the code they cite changed, moved into "
            "other code or is gone since they were written. `phase17 review` asks about each.",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _repository(pin: Pin) -> str:
    return pin.repository.removesuffix(".git").rstrip("/")


def _commit_link(pin: Pin) -> str:
    url = safe_url(f"{_repository(pin)}/tree/{pin.commit}")
    return f"[{pin.short}]({url})" if url else code_span(pin.short)


def _commit_of(anchor: Anchor, notes: NotesFile) -> str:
    """The commit an anchor's recorded lines belong to: where its code was last seen, its own stamp, or the file's."""
    return anchor.retired or anchor.commit or notes.pin.commit


def _retired(anchor: Anchor) -> str:
    return f" (retired: this code is gone after {anchor.retired[:12]})" if anchor.retired else ""


def _link(pin: Pin, commit: str, anchor: Anchor, label: str | None = None, line: int | None = None) -> str:
    """A link to the anchor's lines (or the cited line) at `commit`, the commit those lines belong to; plain text
    when the address would not be a plain https one."""
    lines = (
        f"#L{line}"
        if line is not None
        else f"#L{anchor.start}" + (f"-L{anchor.end}" if anchor.end != anchor.start else "")
    )
    url = safe_url(f"{_repository(pin)}/blob/{commit}/{quote(anchor.path)}{lines}")
    shown = code_span(label or anchor.qualname)
    where = code_span(f"{anchor.path}:{anchor.start}-{anchor.end}")
    return f"[{shown}]({url}) {where}" if url else f"{shown} {where}"


EVIDENCE_MARK = "<!-- phase17 export --evidence: generated from the tree at the pin -->"


def write_export(
    notes_dir: Path, notebooks_dir: Path, reading_list: ReadingList, pin: Pin, evidence: str | None = None
) -> Path:
    """Rewrite notebooks/phase17.md; never from a missing annotations/, which would empty a good export.

    `evidence` (from `export --evidence`) replaces the evidence section; without it, the section the file
    already has is kept as it is, so a note saved later does not drop it.
    """
    path = notebooks_dir / EXPORT_FILE
    safe_folder(notebooks_dir, notebooks_dir.parent)  # notebooks/ linked elsewhere: nothing is written there
    if not notes_dir.is_dir():
        raise WriteError(f"{notes_dir} is missing, so {path} is left as it was; restore annotations/ (git checkout).")
    if evidence is None:
        evidence = _kept_evidence(path)
    try:
        text = export_markdown(notes_dir, reading_list, pin)
        if evidence:
            text = text.rstrip("\n") + "\n\n" + evidence.rstrip("\n") + "\n"
        write_text_atomically(path, text)
    except OSError as error:
        raise WriteError(
            f"{path}: could not write the notebook export ({error.strerror or error}); annotations/ is saved."
        ) from None
    return path


def _kept_evidence(path: Path) -> str:
    from phase17.errors import UnreadableSourceError
    from phase17.safety.files import read_limited

    try:
        text = read_limited(path, 4 * 1024 * 1024, root=path.parent).decode("utf-8", errors="replace")
    except (OSError, UnreadableSourceError):
        return ""
    start = text.find(EVIDENCE_MARK)
    return text[start:] if start >= 0 else ""


def evidence_markdown(upstream: Tree, reading_list: ReadingList) -> str:
    """The platform hierarchy as a Mermaid class diagram and the contract table of the guide's key members,
    both computed from upstream/ at the pin (phase17 contract), for the end of the exported notebook."""
    from phase17.instruments.contract import build_contract, contract_markdown

    contract = build_contract(upstream)
    names = {info.name for info in contract.platforms} | {contract.base.name}
    edges = [
        f"    {base.rsplit('.', 1)[-1]} <|-- {info.name}"
        for info in contract.platforms
        for base in info.bases
        if base.rsplit(".", 1)[-1] in names
    ]
    aliases = [
        f"    %% {alias} = {' or '.join(chosen)} (chosen at import time)" for alias, chosen in contract.aliases.items()
    ]
    key_members = sorted(
        {
            symbol.split(".", 1)[1]
            for target in reading_list.targets
            for symbol in target.symbols
            if "." in symbol and symbol.split(".", 1)[0] in names and "::" not in symbol
        }
    )
    table = build_contract(upstream, members="^(" + "|".join(key_members) + ")$") if key_members else contract
    return "\n".join(
        [
            EVIDENCE_MARK,
            "## Evidence from the tree",
            "",
            f"The `{contract.base.name}` hierarchy in `{contract.base.path}` and its subclasses across the tree:",
            "",
            "```mermaid",
            "classDiagram",
            *edges,
            *aliases,
            "```",
            "",
            "How each platform meets the members the reading list names (`phase17 contract`):",
            "",
            contract_markdown(table).rstrip("\n"),
            "",
        ]
    )


# ---------------------------------------------------------------- VS Code CodeTour

TOUR_FOLDER = ".tours"
TOUR_FILE = "phase17.tour"
_EXCLUDE_LIMIT = 1 << 20  # (git's own exclude file is a few lines)
CODETOUR_SCHEMA = "https://aka.ms/codetour-schema"


def codetour(notes_dir: Path, upstream: Tree, reading_list: ReadingList, pin: Pin) -> dict[str, object]:
    """A CodeTour of the phase: a step per key symbol and per cited note, at the line the resolver finds now.

    Paths are relative to upstream/, the folder to open in VS Code; `ref` is the pinned commit.
    """
    steps: list[dict[str, object]] = []
    last = load_last_check(notes_dir)
    for target in reading_list.targets:
        notes = load_notes_if_present(notes_dir, target.key)
        texts = marked_notes(notes, last, pin.commit)[0] if notes else {}
        written = [
            f"**{reading_list.prompts[key]}**\n\n{note_markdown(texts[key])}" for key in PROMPT_KEYS if texts.get(key)
        ]
        for index, key in enumerate(locate_key_symbols(upstream, target)):
            for symbol in key.matches[:1]:
                lines = [f"{target.number}. {target.title}: `{symbol.qualname}` ({symbol.kind})."]
                if index == 0:
                    lines += [target.sentence, *written]
                steps.append(_step(symbol.path, symbol.start_line, f"{target.key}: {symbol.qualname}", lines))
        for citation in notes.citations if notes else ():
            steps += _cited_step(upstream, target.key, citation, texts.get(citation.note, ""))
    answers = load_notes_if_present(notes_dir, QUESTIONS_FILE)
    answer_texts = marked_notes(answers, last, pin.commit)[0] if answers else {}
    for citation in answers.citations if answers else ():
        steps += _cited_step(upstream, f"Q{citation.note}", citation, answer_texts.get(citation.note, ""))
    return {
        "$schema": CODETOUR_SCHEMA,
        "title": f"{reading_list.guide} ({pin.tag})",
        "description": (
            f"The reading targets and your notes, at {reading_list.upstream.name} {pin.describe()}. "
            "Generated by phase17 export."
        ),
        "ref": pin.commit,
        "steps": _one_step_per_location(steps),
    }


def _one_step_per_location(steps: list[dict[str, object]]) -> list[dict[str, object]]:
    """One step per file and line, in tour order: a location several notes cite (or a key symbol a note cites)
    lists every note there, each text once, instead of a step per citation."""
    merged: dict[tuple[object, object], dict[str, object]] = {}
    titles: dict[tuple[object, object], list[str]] = {}
    for step in steps:
        key = (step["file"], step["line"])
        if key not in merged:
            merged[key], titles[key] = dict(step), [str(step["title"])]
            continue
        kept = merged[key]
        parts = str(kept["description"]).split("\n\n")
        kept["description"] = "\n\n".join(
            parts + [part for part in str(step["description"]).split("\n\n") if part not in parts]
        )
        titles[key].append(str(step["title"]))
    for key, names in titles.items():
        others = [name for name in dict.fromkeys(names[1:]) if name != names[0]]
        if others:  # the title stays the first one's; the step says who else is here
            merged[key]["description"] = (
                f"Also here: {escaped_text(', '.join(others))}.\n\n{merged[key]['description']}"
            )
    return list(merged.values())


def _step(path: str, line: int, title: str, lines: list[str]) -> dict[str, object]:
    return {"file": path, "line": line, "title": title, "description": "\n\n".join(part for part in lines if part)}


def _cited_step(upstream: Tree, where: str, citation: Citation, text: str) -> list[dict[str, object]]:
    """A cited note's step at the cited code as it is now; nothing when the code is gone (check says so)."""
    try:
        found = look_up(upstream, citation.anchor.symbol)
    except Phase17Error:
        return []
    if found.status != "found":
        return []
    symbol = found.matches[0]
    line = symbol.start_line
    if citation.line is not None:
        line = citation.line + symbol.start_line - citation.anchor.start  # the cited line, moved with its symbol
    return [_step(symbol.path, line, f"{where}: {citation.cited}", [f"Cited in {where}:", note_markdown(text)])]


def write_codetour(upstream: Tree, tour: dict[str, object]) -> Path:
    """Write upstream/.tours/phase17.tour, kept out of upstream/'s git status so the tree still matches the pin."""
    path = safe_folder(upstream / TOUR_FOLDER, upstream.root) / TOUR_FILE
    try:
        if (upstream / ".git").is_dir() and not (upstream / ".git").is_symlink():
            exclude = safe_folder(upstream / ".git" / "info", upstream.root) / "exclude"
            refuse_odd_file(exclude, "upstream/.git/info/exclude")  # a link there would be written through
            listed = read_limited(exclude, _EXCLUDE_LIMIT).decode("utf-8", "replace") if exclude.exists() else ""
            if f"/{TOUR_FOLDER}/" not in listed.splitlines():
                write_text_atomically(exclude, listed.rstrip("\n") + f"\n/{TOUR_FOLDER}/\n")
        write_text_atomically(path, json.dumps(tour, indent=2, ensure_ascii=False) + "\n")
    except UnreadableSourceError as error:
        raise WriteError(f"{error}; the tour was not written.") from None
    except OSError as error:
        raise WriteError(f"{path}: could not write the tour ({error.strerror or error}).") from None
    return path
