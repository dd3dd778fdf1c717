"""notebook.py: recording notes and answers, the interview and the hand edit, driven directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from phase17.errors import InvalidFileError, UnknownTargetError, WriteError
from phase17.index.tree import Tree
from phase17.notes.guide import find_target, load_reading_list
from phase17.notes.notebook import edit_notes, interview, notes_target, record_note, sentence_warnings
from phase17.notes.store import load_notes
from phase17.upstream.pin import load_pin
from phase17.upstream.project import locate_project


def test_sentence_warnings():
    assert sentence_warnings("") == ["left empty."]
    assert sentence_warnings("One. Two. Three.") == []
    assert sentence_warnings("It calls `Platform.get_attn_backend_cls` e.g. here.") == []
    assert sentence_warnings("One. Two. Three. Four!") == [
        "4 sentences; the guide asks for one sentence per prompt, three in all."
    ]


class ScriptedInterviewer:
    """An Interviewer that answers from a list and records what it was shown."""

    def __init__(self, answers: list[str | BaseException]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        self.saves: list[str] = []
        self.warnings: list[str] = []

    def begin(self, target, key_symbols) -> None:
        self.key_symbols = [key.ref for key in key_symbols]

    def ask(self, prompt: str, current: str) -> str:
        self.asked.append(prompt)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return current if answer == "<keep>" else answer

    def saved(self, recorded) -> None:
        self.saves.append(recorded.label)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def correct(self, written: str, closest: str) -> bool:
        self.corrections = [*getattr(self, "corrections", []), (written, closest)]
        return True


def _context(project: Path):
    paths = locate_project(project)
    return paths.notebook, Tree(paths.upstream), load_reading_list(), load_pin(paths.pin_file)


def test_the_interview_saves_each_changed_answer_then_the_questions(fetched_project: Path):
    context = _context(fetched_project)
    asker = ScriptedInterviewer(["A map.", "<keep>", "", "Q1 cites `PlatformEnum`.", "<keep>", "<keep>"])
    result = interview(*context, find_target(context[2], "interface"), asker)
    assert (result.saved, result.stopped, result.next_target.key) == (2, False, "cuda")
    assert asker.saves == ["data_structure", "Q1"] and asker.warnings == ["left empty.", "left empty."]
    assert "Platform.get_attn_backend_cls" in asker.key_symbols
    answers = load_notes(context[0].notes, "questions")
    assert answers.notes["1"] == "Q1 cites `PlatformEnum`." and answers.citations[0].cited == "PlatformEnum"
    assert "A map." in (context[0].notebooks / "phase17.md").read_text()  # the export follows every save


def test_stopping_the_interview_keeps_what_was_given(fetched_project: Path):
    context = _context(fetched_project)
    result = interview(*context, find_target(context[2], "cpu"), ScriptedInterviewer(["Kept.", KeyboardInterrupt()]))
    assert (result.saved, result.stopped) == (1, True)
    assert load_notes(context[0].notes, "cpu").notes["data_structure"] == "Kept."


def test_a_bad_hand_edit_is_kept_aside_and_the_notes_are_unchanged(fetched_project: Path):
    context = _context(fetched_project)
    record_note(*context, find_target(context[2], "cpu"), "invariant", "Before.")
    path = context[0].notes / "cpu.yaml"
    before = path.read_bytes()

    def break_it(draft: Path) -> int:
        draft.write_text("target: [oops\n")
        return 0

    with pytest.raises(InvalidFileError, match=r"cpu.yaml:2: .*your edit is kept in annotations/.cpu.rejected.yaml"):
        edit_notes(*context, "cpu", break_it, lambda error: False)
    assert path.read_bytes() == before
    assert (path.parent / ".cpu.rejected.yaml").read_text() == "target: [oops\n"


def test_a_good_hand_edit_is_saved_reanchored_and_exported(fetched_project: Path):
    context = _context(fetched_project)
    attempts: list[str] = []

    def edit(draft: Path) -> int:  # the first edit breaks the file; reopened, the reader writes a good one
        attempts.append(draft.read_text())
        good = attempts[0].replace("  invariant: ''", "  invariant: Uses `CpuPlatform`.")
        draft.write_text(good if len(attempts) > 1 else "x: [")
        return 0

    errors: list[str] = []
    edited = edit_notes(*context, "cpu", edit, lambda error: not errors.append(str(error)) and len(errors) < 3)
    assert len(errors) == 1, errors  # the first, broken edit was reopened once
    assert len(attempts) == 2 and edited.citations == 1 and edited.warnings == ()
    assert load_notes(context[0].notes, "cpu").citations[0].anchor.symbol == "vllm/platforms/cpu.py::CpuPlatform"
    assert "Uses `CpuPlatform`." in (context[0].notebooks / "phase17.md").read_text()


def test_notes_are_kept_only_for_targets_on_the_list(fetched_project: Path):
    context = _context(fetched_project)
    assert notes_target(*context, "cpu").key == "cpu"
    assert notes_target(*context, None).key == "interface"  # the first unfinished
    with pytest.raises(UnknownTargetError, match="vllm/plugins/__init__.py is not on the reading list"):
        notes_target(*context, "vllm/plugins/__init__.py")


def test_a_save_made_while_the_editor_was_open_is_never_overwritten(fetched_project: Path):
    context = _context(fetched_project)
    cpu = find_target(context[2], "cpu")

    def edit_while_another_saves(draft: Path) -> int:
        record_note(*context, cpu, "edge_case", "Saved meanwhile.")  # another phase17, say `answer` in a second shell
        draft.write_text(draft.read_text().replace("  invariant: ''", "  invariant: From the editor."))
        return 0

    with pytest.raises(WriteError, match="was saved by another phase17 while you edited it"):
        edit_notes(*context, "cpu", edit_while_another_saves, lambda error: False)
    notes = load_notes(context[0].notes, "cpu")
    assert notes.notes["edge_case"] == "Saved meanwhile." and notes.notes["invariant"] == ""
    assert "From the editor." in (context[0].notes / ".cpu.rejected.yaml").read_text()


def test_a_misspelled_citation_is_offered_its_closest_definition_before_the_save(fetched_project: Path):
    context = _context(fetched_project)
    asker = ScriptedInterviewer(["Plugins load in `load_genral_plugins`.", "<keep>", "<keep>", "<keep>"])
    interview(*context, find_target(context[2], "plugins"), asker)
    assert asker.corrections == [("load_genral_plugins", "load_general_plugins")]
    notes = load_notes(fetched_project / "annotations", "plugins")
    assert notes.notes["data_structure"] == "Plugins load in `load_general_plugins`."
    assert [c.anchor.symbol for c in notes.citations] == ["vllm/plugins/__init__.py::load_general_plugins"]


def test_with_options_the_note_is_saved_and_the_suggestion_printed(fetched_project: Path):
    from helpers import invoke

    result = invoke("notebook", "plugins", "--invariant", "See `load_genral_plugins`; `!__getstate__` is just code.")
    assert result.exit_code == 0, result.output
    assert "did you mean `load_general_plugins`?" in result.stderr
    assert "phase17 notebook TARGET --edit" in result.stderr
    assert "__getstate__" not in result.stderr  # `!name`: code, not a citation, so nothing to warn about
    notes = load_notes(fetched_project / "annotations", "plugins")
    assert notes.notes["invariant"].startswith("See `load_genral_plugins`") and not notes.citations
