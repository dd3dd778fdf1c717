"""notes/marks.py: after a re-pin, a mark on each sentence citing code still to review, once a sentence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from phase17.notes.marks import marked_notes
from phase17.notes.store import Anchor, Citation, LastCheck, NotesFile, PinStamp, load_last_check, save_last_check

OLD, NEW = "a" * 40, "b" * 40
ATTN = Anchor("vllm/platforms/cpu.py::Cpu.attn", "classmethod", 10, 20, "b:1")
NAME = Anchor("vllm/platforms/cpu.py::Cpu.name", "classmethod", 30, 31, "b:2")
TEXT = "`Cpu.attn` raises for MLA, see cpu.py:12. `Cpu.name` is cpu."
NOTES = NotesFile(
    name="cpu",
    path="vllm/platforms/cpu.py",
    pin=PinStamp("v1", OLD),
    anchors=(ATTN, NAME),
    notes={"edge_case": TEXT},
    citations=(
        Citation("edge_case", "Cpu.attn", ATTN),
        Citation("edge_case", "cpu.py:12", ATTN, line=12, line_text="raise"),
        Citation("edge_case", "Cpu.name", NAME),
    ),
)


def _last(*cited: str) -> LastCheck:
    return LastCheck(
        {}, frozenset(("cpu", "edge_case", name, "b:1" if "attn" in name or ":" in name else "b:2") for name in cited)
    )


def test_a_sentence_citing_code_to_review_is_marked_once_with_the_release_it_was_written_at():
    texts, count = marked_notes(NOTES, _last("Cpu.attn", "cpu.py:12"), NEW)
    assert texts["edge_case"] == "`Cpu.attn` raises for MLA, see cpu.py:12. [unreviewed since v1] `Cpu.name` is cpu."
    assert count == 1  # two citations of it, one sentence, one mark


def test_no_mark_where_the_check_found_nothing_the_note_was_reviewed_or_retired():
    assert marked_notes(NOTES, _last(), NEW) == ({"edge_case": TEXT}, 0)  # the check found nothing to review
    assert marked_notes(NOTES, _last("Cpu.attn"), OLD)[1] == 0  # written at the pin itself
    reviewed = replace(ATTN, commit=NEW)  # `check --accept` (or an edit) re-anchored it at the new pin
    again = replace(NOTES, citations=(Citation("edge_case", "Cpu.attn", reviewed),))
    assert marked_notes(again, _last("Cpu.attn"), NEW)[1] == 0
    retired = replace(NOTES, citations=(Citation("edge_case", "Cpu.attn", replace(ATTN, retired=OLD)),))
    assert marked_notes(retired, _last("Cpu.attn"), NEW)[1] == 0


def test_with_no_check_remembered_every_sentence_written_at_another_release_is_marked_not_checked():
    texts, count = marked_notes(NOTES, None, NEW)
    assert texts["edge_case"] == (
        "`Cpu.attn` raises for MLA, see cpu.py:12. [not checked since v1] `Cpu.name` is cpu. [not checked since v1]"
    )
    assert count == 2
    mended = replace(NOTES, citations=(Citation("edge_case", "Cpu.attn", replace(ATTN, commit="c" * 40)),))
    assert "[not checked since ccccccccc]" in marked_notes(mended, None, NEW)[0]["edge_case"]  # its own commit


def test_the_last_check_is_kept_and_read_back_and_the_older_form_still_gives_the_health(tmp_path: Path):
    last = _last("Cpu.attn")
    save_last_check(tmp_path, replace(last, health={"cpu": "1 to review"}))
    assert load_last_check(tmp_path) == replace(last, health={"cpu": "1 to review"})
    (tmp_path / ".last-check.json").write_text('{"cpu": "ok"}', encoding="utf-8")
    assert load_last_check(tmp_path) == LastCheck({"cpu": "ok"}, None)  # unknown: marked "not checked"
    (tmp_path / ".last-check.json").write_text("[", encoding="utf-8")
    assert load_last_check(tmp_path) is None
