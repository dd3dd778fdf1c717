from __future__ import annotations

import json
import multiprocessing
import os
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import assert_golden
from phase17 import annotations as store
from phase17.citations import resolve_citations
from phase17.cli import app
from phase17.errors import InvalidFileError
from phase17.export import export_markdown
from phase17.guide import load_reading_list
from phase17.notebook import ensure_notes_files, sentence_warnings
from phase17.pin import load_pin

runner = CliRunner()


def invoke(*args: str, **kwargs):
    return runner.invoke(app, list(args), **kwargs)


def _notes(project: Path, name: str = "interface") -> store.NotesFile:
    return store.load_notes(project / "annotations", name)


def test_first_save_creates_every_notes_file_with_anchors_at_the_pin(fetched_project: Path):
    result = invoke("notebook", "cpu", "--data-structure", "A list of NUMA nodes.")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (fetched_project / "annotations").glob("*.yaml"))
    assert names == ["cpu.yaml", "cuda.yaml", "interface.yaml", "platforms.yaml", "plugins.yaml", "questions.yaml"]
    cpu = _notes(fetched_project, "cpu")
    pin = load_pin(fetched_project / "UPSTREAM_PIN.md")
    assert (cpu.pin.tag, cpu.pin.commit) == (pin.tag, pin.commit)
    assert [a.symbol for a in cpu.anchors][:2] == [
        "vllm/platforms/cpu.py::CpuPlatform",
        "vllm/platforms/cpu.py::CpuPlatform.dist_backend",
    ]
    assert cpu.notes == {"data_structure": "A list of NUMA nodes.", "invariant": "", "edge_case": ""}
    assert "saved data structure to annotations/cpu.yaml" in result.stdout


def test_citations_are_resolved_and_anchored(fetched_project: Path):
    note = (
        "`Platform.get_attn_backend_cls` returns a path; `vllm/platforms/cpu.py::CpuPlatform` overrides it, "
        "see interface.py:40 and `NoSuchThing`, `get_max_threads()` and `x + y`."
    )
    result = invoke("notebook", "interface", "--invariant", note)
    assert result.exit_code == 0, result.output
    cited = {c.cited: c for c in _notes(fetched_project).citations}
    assert sorted(cited) == [
        "Platform.get_attn_backend_cls",
        "get_max_threads",
        "interface.py:40",
        "vllm/platforms/cpu.py::CpuPlatform",
    ]
    assert cited["interface.py:40"].anchor.symbol == "vllm/platforms/interface.py::Platform.get_attn_backend_cls"
    assert cited["interface.py:40"].line == 40
    assert (
        cited["get_max_threads"].anchor.symbol == "vllm/platforms/cpu.py::get_max_threads"
    )  # found outside the target
    assert all(c.note == "invariant" for c in cited.values())
    assert "warning: `NoSuchThing` is not defined in upstream/" in " ".join(result.stderr.split())


def test_ambiguous_and_out_of_definition_citations_warn(fetched_project: Path):
    upstream = fetched_project / "upstream"
    citations, warnings = resolve_citations(
        upstream, "edge_case", "`nvml_available` and cuda.py:1 and nope.py:3", ("vllm/platforms/cuda.py",)
    )
    assert citations == []
    assert warnings == [
        "cuda.py:1: line 1 of vllm/platforms/cuda.py is not inside a definition; not anchored.",
        "nope.py:3: no file nope.py in upstream/; not anchored.",
        "`nvml_available` is defined 2 times (vllm/platforms/cuda.py:49, vllm/platforms/cuda.py:53); write path::name to anchor one.",
    ]


def test_replacing_a_note_replaces_its_citations_only(fetched_project: Path):
    invoke("notebook", "interface", "--invariant", "`Platform`", "--edge-case", "`PlatformEnum`")
    invoke("notebook", "interface", "--invariant", "`DeviceCapability`")
    cited = sorted((c.note, c.cited) for c in _notes(fetched_project).citations)
    assert cited == [("edge_case", "PlatformEnum"), ("invariant", "DeviceCapability")]


def test_sentence_warnings():
    assert sentence_warnings("") == ["left empty."]
    assert sentence_warnings("One. Two. Three.") == []
    assert sentence_warnings("It calls `Platform.get_attn_backend_cls` e.g. here.") == []
    assert sentence_warnings("One. Two. Three. Four!") == [
        "4 sentences; the guide asks for one sentence per prompt, three in all."
    ]


def test_interactive_notebook_saves_each_answer(fetched_project: Path):
    answers = "A dict of plugins.\nOnly one platform is current.\n\nQ1 answer.\nQ2 answer cites `PlatformEnum`.\n\n"
    result = invoke("notebook", "interface", input=answers)
    assert result.exit_code == 0, result.output
    notes = _notes(fetched_project)
    assert notes.notes == {
        "data_structure": "A dict of plugins.",
        "invariant": "Only one platform is current.",
        "edge_case": "",
    }
    questions = _notes(fetched_project, "questions")
    assert questions.notes["1"] == "Q1 answer." and questions.notes["2"] == "Q2 answer cites `PlatformEnum`."
    assert [c.anchor.symbol for c in questions.citations] == ["vllm/platforms/interface.py::PlatformEnum"]
    assert "Platform.get_attn_backend_cls" in result.stdout  # the reminder of key symbols with lines
    assert result.stderr.count("warning: left empty.") == 1  # the edge case was left empty
    assert "Next: phase17 read cuda" in result.stdout
    markdown = (fetched_project / "notebooks" / "phase17.md").read_text()
    assert "Only one platform is current." in markdown and "Q2 answer cites" in markdown


def test_enter_keeps_the_current_answer(fetched_project: Path):
    invoke("notebook", "interface", "--data-structure", "Kept.")
    result = invoke("notebook", "interface", input="\n\n\n\n\n\n")
    assert result.exit_code == 0, result.output
    assert "current: Kept." in result.stdout
    assert _notes(fetched_project).notes["data_structure"] == "Kept."


def test_stopping_between_prompts_keeps_the_first_answer(fetched_project: Path):
    result = invoke("notebook", "interface", input="The first answer.\n")  # then end of input, like Ctrl-D
    assert result.exit_code == 130
    assert "1 answer(s) from this session are saved" in result.stderr
    assert _notes(fetched_project).notes["data_structure"] == "The first answer."


def test_no_target_picks_the_first_unfinished(fetched_project: Path):
    invoke("notebook", "interface", "--data-structure", "a.", "--invariant", "b.", "--edge-case", "c.")
    result = invoke("notebook", input="")
    assert "Lab notebook 2/5 cuda" in result.stdout


def test_answer_command(fetched_project: Path):
    result = invoke("answer", "4", "The CPU path uses `CpuPlatform.check_and_update_config`.")
    assert result.exit_code == 0, result.output
    questions = _notes(fetched_project, "questions")
    assert questions.notes["4"].startswith("The CPU path")
    assert questions.citations[0].anchor.symbol == "vllm/platforms/cpu.py::CpuPlatform.check_and_update_config"
    bad = invoke("answer", "9", "x")
    assert bad.exit_code == 2 and "no question 9" in bad.stderr


def test_a_hand_broken_yaml_is_reported_by_line_and_left_alone(fetched_project: Path):
    invoke("notebook", "interface", "--data-structure", "Something.")
    path = fetched_project / "annotations" / "interface.yaml"
    broken = path.read_text().replace("  kind: class\n", "  kind: [class\n", 1)
    path.write_text(broken, encoding="utf-8")
    line = broken.splitlines().index("  kind: [class") + 2
    for command in (
        ["read", "interface", "--no-pager"],
        ["notebook", "interface", "--invariant", "x"],
        ["export"],
        ["list"],
    ):
        result = invoke(*command)
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.startswith(f"Error: annotations/interface.yaml:{line}: "), result.stderr
        assert path.read_text() == broken


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("start: 24", "start: -3"), "anchors[1].start must be a line number"),
        (("notes:\n", "notes:\n  mood: happy\n"), "unknown key 'mood' in notes"),
        (("target: interface", "target: cuda"), "target is 'cuda' but the file is named interface.yaml"),
        (
            ("path: vllm/platforms/interface.py\n", "path: vllm/platforms/interface.py\ncolour: red\n"),
            "unknown key 'colour'",
        ),
        (("  data_structure: ''\n", "  data_structure: 12\n"), "notes.data_structure must be text, not int '12'"),
    ],
)
def test_shape_errors_name_the_line(fetched_project: Path, change, message):
    ensure_notes_files(
        fetched_project / "annotations",
        fetched_project / "upstream",
        load_reading_list(),
        load_pin(fetched_project / "UPSTREAM_PIN.md"),
    )
    path = fetched_project / "annotations" / "interface.yaml"
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(InvalidFileError, match=rf"^annotations/interface.yaml:\d+: .*{re.escape(message)}"):
        _notes(fetched_project)


def test_load_then_save_is_byte_identical(fetched_project: Path):
    invoke(
        "notebook", "interface", "--data-structure", "Quotes ' \" and: colons, # hashes, no, null, 1e3, - x, ünïcode."
    )
    path = fetched_project / "annotations" / "interface.yaml"
    before = path.read_bytes()
    store.save_notes(fetched_project / "annotations", _notes(fetched_project))
    assert path.read_bytes() == before


def test_a_failed_write_leaves_the_old_file(fetched_project: Path, monkeypatch):
    invoke("notebook", "interface", "--data-structure", "Old.")
    path = fetched_project / "annotations" / "interface.yaml"
    before = path.read_bytes()

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    result = invoke("notebook", "interface", "--data-structure", "New.")
    assert result.exit_code == 2
    assert "could not write (No space left on device); the previous file is unchanged" in result.stderr
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_edit_validates_and_keeps_the_old_file_on_a_bad_edit(fetched_project: Path, tmp_path: Path, monkeypatch):
    invoke("notebook", "interface", "--data-structure", "Old.")
    path = fetched_project / "annotations" / "interface.yaml"
    before = path.read_text()
    breaker = tmp_path / "break.sh"
    breaker.write_text('#!/bin/sh\nprintf "target: [oops\\n" > "$1"\n', encoding="utf-8")
    breaker.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(breaker))
    result = invoke("notebook", "interface", "--edit", input="n\n")
    assert result.exit_code == 2, result.output
    assert "Error: annotations/interface.yaml:" in result.stderr and "Reopen the editor" in result.stdout
    assert path.read_text() == before
    assert (path.parent / ".interface.rejected.yaml").read_text() == "target: [oops\n"

    fixer = tmp_path / "fix.sh"
    fixer.write_text(
        '#!/bin/sh\nsed -i "s/data_structure: Old./data_structure: Edited, citing \\`PlatformEnum\\`./" "$1"\n',
        encoding="utf-8",
    )
    fixer.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(fixer))
    result = invoke("notebook", "interface", "--edit")
    assert result.exit_code == 0, result.output
    notes = _notes(fetched_project)
    assert notes.notes["data_structure"] == "Edited, citing `PlatformEnum`."
    assert [c.cited for c in notes.citations] == ["PlatformEnum"]
    assert (path.parent / "interface.yaml.bak").read_text() == before


def _writer(project: str, key: str, rounds: int) -> None:
    os.chdir(project)
    from phase17.cli import app as cli_app

    for round_number in range(rounds):
        CliRunner().invoke(cli_app, ["notebook", "interface", f"--{key.replace('_', '-')}", f"{key} {round_number}."])


def test_two_processes_writing_at_once_never_corrupt_the_file(fetched_project: Path):
    invoke("notebook", "interface", "--data-structure", "start.")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_writer, args=(str(fetched_project), key, 8)) for key in ("invariant", "edge_case")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    notes = _notes(fetched_project)
    assert notes.notes == {"data_structure": "start.", "invariant": "invariant 7.", "edge_case": "edge_case 7."}


def test_export_matches_golden(fetched_project: Path):
    pin_file = fetched_project / "UPSTREAM_PIN.md"
    fixed = re.sub(r"repository: .*", "repository: https://example.invalid/vllm-project/vllm", pin_file.read_text())
    pin_file.write_text(fixed, encoding="utf-8")  # the fixture repository's tmp path would make links vary
    invoke(
        "notebook",
        "interface",
        "--data-structure",
        "A class with `Platform.device_type`.",
        "--invariant",
        "See interface.py:40.",
    )
    invoke("answer", "1", "Every platform sets `CpuPlatform.dist_backend`.")
    reading_list = load_reading_list()
    markdown = export_markdown(
        fetched_project / "annotations", reading_list, load_pin(fetched_project / "UPSTREAM_PIN.md")
    )
    assert markdown == (fetched_project / "notebooks" / "phase17.md").read_text()
    assert_golden("notebook_export.md", markdown)
    assert invoke("export").exit_code == 0
    assert (fetched_project / "notebooks" / "phase17.md").read_text() == markdown


def test_read_shows_the_notes_so_far(fetched_project: Path):
    invoke("notebook", "interface", "--edge-case", "Unknown attributes return None.")
    invoke("answer", "2", "Through current_platform.")
    data = json.loads(invoke("read", "interface", "--json").stdout)
    assert {p["key"]: p["answer"] for p in data["prompts"]}["edge_case"] == "Unknown attributes return None."
    assert {q["number"]: q["answer"] for q in data["questions"]}[2] == "Through current_platform."
    rows = {row["key"]: row for row in json.loads(invoke("list", "--json").stdout)}
    assert rows["interface"]["notes_written"] == 1 and rows["interface"]["questions_answered"] == 1


def test_ctrl_c_in_a_real_terminal_keeps_the_first_answer(fetched_project: Path):
    import pexpect  # in the test extra

    environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "phase17", "notebook", "interface"],
        cwd=str(fetched_project),
        env=environment,
        encoding="utf-8",
        timeout=30,
    )
    child.expect("What data structure does it build or keep")
    child.sendline("Typed in a real terminal.")
    child.expect("saved data structure to annotations/interface.yaml")
    child.expect("What invariant must hold")
    child.sendcontrol("c")
    child.expect("1 answer\\(s\\) from this session are saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    notes = _notes(fetched_project)
    assert notes.notes["data_structure"] == "Typed in a real terminal." and notes.notes["invariant"] == ""
    assert "Typed in a real terminal." in (fetched_project / "notebooks" / "phase17.md").read_text()


def test_the_shipped_notebook_export_matches_the_shipped_annotations():
    root = Path(__file__).resolve().parent.parent
    markdown = export_markdown(root / "annotations", load_reading_list(), load_pin(root / "UPSTREAM_PIN.md"))
    assert markdown == (root / "notebooks" / "phase17.md").read_text(encoding="utf-8"), (
        "run phase17 export and commit it"
    )
    names = sorted(p.name for p in (root / "annotations").glob("*.yaml"))
    assert names == ["cpu.yaml", "cuda.yaml", "interface.yaml", "platforms.yaml", "plugins.yaml", "questions.yaml"]
