"""annotations.py: notes files loaded through the schema (errors at the right line), saved atomically, never lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import (
    FAKE_COMMIT,
    GOOD_NOTES,
    MALFORMED,
)
from phase17 import annotations as store
from phase17.errors import InvalidFileError, WriteError

PINNED = store.PinStamp(tag="v9.9.9", commit=FAKE_COMMIT)


# ---------------------------------------------------------------- YAML: malformed input never touches the file


@pytest.mark.parametrize(("name", "raw"), MALFORMED, ids=[name for name, _ in MALFORMED])
def test_malformed_notes_are_reported_by_line_and_left_alone(tmp_path: Path, name: str, raw: bytes):
    notes_dir = tmp_path / "annotations"
    notes_dir.mkdir()
    path = notes_dir / "interface.yaml"
    path.write_bytes(raw)
    with pytest.raises(InvalidFileError) as caught:
        store.load_notes(notes_dir, "interface")
    assert str(caught.value).startswith("annotations/interface.yaml:"), str(caught.value)
    line = str(caught.value).split(":")[1]
    assert line.isdigit(), str(caught.value)
    assert path.read_bytes() == raw


def test_the_safe_loader_never_runs_a_python_tag(tmp_path: Path):
    notes_dir = tmp_path / "annotations"
    notes_dir.mkdir()
    marker = tmp_path / "pwned"
    (notes_dir / "interface.yaml").write_text(
        GOOD_NOTES.replace("kind: class", f"kind: !!python/object/apply:os.system ['touch {marker}']")
    )
    with pytest.raises(InvalidFileError):
        store.load_notes(notes_dir, "interface")
    assert not marker.exists()


# ---------------------------------------------------------------- failed writes keep the old file


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("mkstemp", OSError(30, "Read-only file system")),
        ("replace", PermissionError(13, "Permission denied")),
        ("fsync", OSError(28, "No space left on device")),
    ],
)
def test_a_failed_write_leaves_the_old_file_and_says_so(tmp_path: Path, monkeypatch, where, error):
    notes_dir = tmp_path / "annotations"
    old = store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": "old answer"})
    store.save_notes(notes_dir, old)
    path = notes_dir / "questions.yaml"
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise error

    target = {"mkstemp": ("tempfile", "mkstemp"), "replace": ("os", "replace"), "fsync": ("os", "fsync")}[where]
    monkeypatch.setattr(__import__(target[0]), target[1], fail)
    with pytest.raises(
        WriteError, match=rf"questions.yaml: could not write \({error.strerror}\); the previous file is unchanged"
    ):
        store.save_notes(notes_dir, store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": "new answer"}))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in notes_dir.iterdir() if not p.name.startswith(".questions.lock")) == ["questions.yaml"]


# ---------------------------------------------------------------- property tests

YAML_SPECIALS = [
    "no",
    "on",
    "off",
    "yes",
    "null",
    "~",
    "1e3",
    "0x1f",
    "- x",
    ": ",
    "#",
    "a: b",
    "'",
    '"',
    "[x]",
    "{x}",
    "*a",
    "&a",
    "!tag",
    "%",
    "@",
    "`",
    "|",
    ">",
    "\t",
    "\n",
    "\r\n",
    " lead",
    "trail ",
    "",
    "…",
    "日本語",
    "😀",
    "\u2028",
    "\x85",
    "\x07",
]
note_text = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120),
    st.lists(st.sampled_from(YAML_SPECIALS), max_size=6).map("".join),
)


def test_notes_round_trip_identically(report_figure):
    tried = []

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data_structure=note_text, invariant=note_text, edge_case=note_text, answer=note_text)
    def round_trip(data_structure: str, invariant: str, edge_case: str, answer: str) -> None:
        import tempfile

        tried.append(1)
        with tempfile.TemporaryDirectory() as folder:
            notes_dir = Path(folder)
            target = store.NotesFile(
                name="interface",
                path="vllm/platforms/interface.py",
                pin=PINNED,
                anchors=(store.Anchor("vllm/platforms/interface.py::Platform", "class", 1, 9, "0" * 16),),
                notes={"data_structure": data_structure, "invariant": invariant, "edge_case": edge_case},
            )
            questions = store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": answer})
            for notes in (target, questions):
                store.save_notes(notes_dir, notes)
                first = store.notes_path(notes_dir, notes.name).read_bytes()
                loaded = store.load_notes(notes_dir, notes.name)
                assert loaded == notes
                store.save_notes(notes_dir, loaded)
                assert store.notes_path(notes_dir, notes.name).read_bytes() == first

    round_trip()
    report_figure(f"[hypothesis] notes saved and loaded back identical: {len(tried)} examples")


# ---------------------------------------------------------------- upstream sources that are not good Python


# ---------------------------------------------------------------- fetch: verification is never skipped silently


# ---------------------------------------------------------------- editor and pager: shlex, never a shell


# ---------------------------------------------------------------- SIGKILL fault injection

WRITER = """
import sys
from pathlib import Path
from phase17 import annotations as store
notes_dir = Path(sys.argv[1])
for round_number in range(10_000):
    value = f"value {round_number} " + "x" * 20000
    store.update_notes(notes_dir, "questions", {"1": value, "2": value})
"""


def test_sigkill_during_notes_saves_leaves_old_or_new(tmp_path: Path, report_figure):
    notes_dir = tmp_path / "annotations"
    store.save_notes(
        notes_dir, store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": "initial", "2": "initial"})
    )
    kill_points = 0
    outcomes = {"old": 0, "new": 0}
    previous = "initial"
    for point in range(40):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(notes_dir)])
        time.sleep(0.2 + point * 0.03 + random.Random(point).uniform(0, 0.02))  # spread over start-up and many saves
        process.send_signal(signal.SIGKILL)
        process.wait()
        kill_points += 1
        notes = store.load_notes(notes_dir, "questions")  # must parse: never half a file
        first, second = notes.notes["1"], notes.notes["2"]
        assert first == second  # one save wrote both: a mix would differ
        assert first == "initial" or (first.startswith("value ") and first.endswith("x" * 20000))
        outcomes["new" if first != previous else "old"] += 1
        previous = first
    assert outcomes["new"] > 0  # the kills did land after saves had happened
    report_figure(
        f"[fault injection] notes saves killed with SIGKILL at {kill_points} points: 0 corrupted, 0 mixed ({outcomes})"
    )
