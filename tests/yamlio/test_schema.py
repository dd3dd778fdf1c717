"""schema.py: one loader for every file's shape, with errors at the line of what is wrong."""

from __future__ import annotations

import pytest

from phase17.errors import InvalidFileError
from phase17.yamlio.load import parse_yaml
from phase17.yamlio.schema import PinFile, QuestionNotesFile, ReadingListFile, TargetNotesFile, validate

NOTES = """\
target: cpu
path: vllm/platforms/cpu.py
pin: {tag: v1, commit: abc1234}
anchors:
notes:
  data_structure:
  invariant: Text.
  edge_case: ''
citations:
- {note: invariant, cited: X, symbol: a.py::X, kind: class, start: 1, end: 2, fingerprint: f}
"""


def test_empty_values_read_as_empty_and_a_valid_file_loads():
    entry = validate(TargetNotesFile, parse_yaml(NOTES, "cpu.yaml"), "cpu.yaml")
    assert entry.anchors == [] and entry.notes["data_structure"] == "" and entry.citations[0].line is None


@pytest.mark.parametrize(
    ("model", "text", "message"),
    [
        (
            TargetNotesFile,
            NOTES.replace("note: invariant", "note: mood"),
            "cpu.yaml:10: citations[1].note 'mood' names no note",
        ),
        (
            TargetNotesFile,
            NOTES.replace("start: 1, end: 2", "start: 3, end: 2"),
            "cpu.yaml:10: citations[1].end: end (2)",
        ),
        (
            TargetNotesFile,
            NOTES.replace("start: 1,", "start: true,"),
            "cpu.yaml:10: citations[1].start must be a whole number",
        ),
        (
            QuestionNotesFile,
            "target: questions\npin: {tag: v1, commit: c}\nnotes:\n  one: ''\n",
            "q.yaml:4: notes keys are question numbers",
        ),
        (
            PinFile,
            "repository: r\ntag: 1.0\ncommit: abc1234\npypi: {distribution: d, version: '1'}\n",
            "p.yaml:2: tag: YAML reads",
        ),
    ],
)
def test_every_problem_names_its_line_and_place(model, text: str, message: str):
    shown = message.split(":", 1)[0]
    with pytest.raises(InvalidFileError) as caught:
        validate(model, parse_yaml(text, shown), shown)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_misspelt_key_is_reported_as_unknown_not_missing():
    text = "guide: g\nupstream: {}\nprompt: {}\ntargets: []\nquestions: []\n"
    with pytest.raises(
        InvalidFileError, match=r"^r.yaml:3: unknown key 'prompt' in the file \(expected guide, upstream, prompts"
    ):
        validate(ReadingListFile, parse_yaml(text, "r.yaml"), "r.yaml")
