"""notes/store.py: notes files loaded through the schema (errors at the right line), saved atomically, never lost."""

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
    MALFORMED_ERRORS,
)
from phase17.errors import InvalidFileError, WriteError
from phase17.notes import store

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
    assert str(caught.value) == "annotations/interface.yaml:" + MALFORMED_ERRORS[name]
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


@pytest.mark.slow  # 400 generated notes (hypothesis): the full run
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
from phase17.notes import store
notes_dir, rounds = Path(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
for round_number in range(rounds):
    value = f"value {round_number} " + "x" * 20000
    store.update_notes(notes_dir, "questions", {"1": value, "2": value})
    print("saved", flush=True)
"""


def _writer(notes_dir: Path, rounds: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(notes_dir), str(rounds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


@pytest.mark.slow
def test_sigkill_during_notes_saves_leaves_old_or_new(tmp_path: Path, report_figure):
    notes_dir = tmp_path / "annotations"
    store.save_notes(
        notes_dir, store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": "initial", "2": "initial"})
    )
    calibration = _writer(notes_dir, 5)
    started = time.monotonic()
    assert calibration.wait() == 0
    one_save = (time.monotonic() - started) / 5  # this machine's time for one save: the kill schedule scales with it
    outcomes = {"the save it was killed in never happened": 0, "the save it was killed in was complete": 0}
    for point in range(40):
        process = _writer(notes_dir, 10_000)
        finished = point % 4  # let 0 to 3 saves finish, then kill somewhere inside the next one
        for _ in range(finished):
            assert process.stdout is not None and process.stdout.readline() == "saved\n"
        time.sleep(random.Random(point).uniform(0, one_save))
        process.send_signal(signal.SIGKILL)
        process.wait()
        notes = store.load_notes(notes_dir, "questions")  # must parse: never half a file
        first, second = notes.notes["1"], notes.notes["2"]
        assert first == second  # one save wrote both: a mix would differ
        assert first.startswith("value ") and first.endswith("x" * 20000)
        if finished:
            saved_round = int(first.split()[1])
            assert saved_round >= finished - 1  # every save reported as done is on disk
            killed_in = "was complete" if saved_round >= finished else "never happened"
            outcomes[f"the save it was killed in {killed_in}"] += 1
    report_figure(f"[fault injection] notes saves killed with SIGKILL at 40 points: 0 corrupted, 0 mixed ({outcomes})")
