"""The lab notebook as Markdown (notebooks/phase17.md): deterministic, every link pinned to a commit."""

from __future__ import annotations

from pathlib import Path

from phase17.annotations import QUESTIONS_FILE, Anchor, load_notes_if_present
from phase17.errors import WriteError
from phase17.guide import PROMPT_KEYS, ReadingList
from phase17.pin import Pin
from phase17.yamlfile import write_text_atomically

EXPORT_FILE = "phase17.md"


def export_markdown(notes_dir: Path, reading_list: ReadingList, pin: Pin) -> str:
    """The lab notebook as Markdown: deterministic (fixed order, no timestamps), links pinned to commits."""
    lines = [
        f"# {reading_list.guide}: lab notebook",
        "",
        f"Pinned to vLLM {pin.tag} @ [{pin.short}]({_repository(pin)}/tree/{pin.commit}).",
        "Generated from `annotations/` by `phase17 export` (and after every `phase17 notebook` "
        "save); edit the notes there, not here.",
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
            lines += [
                f"- {_link(pin, notes.pin.commit, c.anchor, c.cited)} (in {c.note.replace('_', ' ')})"
                for c in notes.citations
            ]
            lines.append("")
    answers = load_notes_if_present(notes_dir, QUESTIONS_FILE)
    lines += ["## Questions", ""]
    for question in reading_list.questions:
        text = answers.notes.get(str(question.number), "").strip() if answers else ""
        lines += [
            f"### Q{question.number}. {question.text}",
            "",
            f"Targets: {', '.join(question.targets)}",
            "",
            text or "_Not answered yet._",
            "",
        ]
        cited = [c for c in (answers.citations if answers else ()) if c.note == str(question.number)]
        if cited:
            lines.append("Cited:")
            lines += [
                f"- {_link(pin, answers.pin.commit if answers else pin.commit, c.anchor, c.cited)}" for c in cited
            ]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _repository(pin: Pin) -> str:
    return pin.repository.removesuffix(".git").rstrip("/")


def _link(pin: Pin, commit: str, anchor: Anchor, label: str | None = None) -> str:
    lines = f"#L{anchor.start}" + (f"-L{anchor.end}" if anchor.end != anchor.start else "")
    url = f"{_repository(pin)}/blob/{commit}/{anchor.path}{lines}"
    return f"[`{label or anchor.qualname}`]({url}) `{anchor.path}:{anchor.start}-{anchor.end}`"


def write_export(notes_dir: Path, notebooks_dir: Path, reading_list: ReadingList, pin: Pin) -> Path:
    path = notebooks_dir / EXPORT_FILE
    try:
        write_text_atomically(path, export_markdown(notes_dir, reading_list, pin))
    except OSError as error:
        raise WriteError(
            f"{path}: could not write the notebook export ({error.strerror or error}); annotations/ is saved."
        ) from None
    return path
