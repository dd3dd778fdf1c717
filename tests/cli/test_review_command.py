"""phase17 review: after a re-pin, each note on changed code beside the hunk under it, and "still true?"."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from helpers import invoke

SENTENCE = "`CudaPlatformBase.get_attn_backend_cls` asks _get_backend_priorities for the first backend."


@pytest.fixture
def reviewed(drifted: tuple[Path, str]) -> Path:
    """The drifted project with a note on a symbol the new version changes, then re-pinned to it."""
    project, v2 = drifted
    saved = invoke("notebook", "cuda", "--invariant", f"{SENTENCE} Devices are counted elsewhere.")
    assert saved.exit_code == 0, saved.output
    assert invoke("pin", v2).exit_code in (0, 1)
    return project


def test_with_no_terminal_the_pairs_are_printed_and_the_exit_is_1(reviewed: Path):
    result = invoke("review")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    start = next(
        i for i, line in enumerate(lines) if "changed  vllm/platforms/cuda.py::CudaPlatformBase.get_attn" in line
    )
    item = "\n".join(lines[start : next(i for i in range(start, len(lines)) if not lines[i]) + 1])
    assert "cuda · invariant, citing CudaPlatformBase.get_attn_backend_cls:" in item
    assert f"> {SENTENCE}" in item.replace("\n    ", " ") and "Devices are counted" not in item  # its sentence only
    assert "-        return _get_backend_priorities(False)[0]" in item and '+        return "flash"' in item
    assert "to review. In a terminal, `phase17 review` asks keep / edit / retire / skip" in result.output


def test_a_symbol_named_is_reviewed_alone_its_change_whole(reviewed: Path):
    result = invoke("review", "get_attn_backend_cls")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("[1/1] changed  vllm/platforms/cuda.py::CudaPlatformBase.get_attn_backend_cls")
    assert '+        return "flash"' in result.output and "more line" not in result.output
    wrong = invoke("review", "get_attn_backend")
    assert wrong.exit_code != 0 and "no item to review is named 'get_attn_backend'; the items: " in wrong.output
    assert "CudaPlatformBase.get_attn_backend_cls" in wrong.output


def test_json_gives_the_pairs_as_data(reviewed: Path):
    result = invoke("review", "--json")
    assert result.exit_code == 1
    items = {item["anchor"]: item for item in json.loads(result.stdout)["items"]}
    item = items["vllm/platforms/cuda.py::CudaPlatformBase.get_attn_backend_cls"]
    assert item["status"] == "changed" and item["citing"][0]["sentences"] == [SENTENCE]
    assert any('+        return "flash"' in hunk for hunk in item["hunks"])


def test_nothing_to_review_is_exit_0(noted: Path):
    result = invoke("review")
    assert result.exit_code == 0 and "Nothing to review" in result.output


@pytest.mark.slow  # (a real terminal, a process per run)
def test_a_reader_who_answers_every_prompt_leaves_check_clean(reviewed: Path):
    import pexpect

    environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    child = pexpect.spawn(
        sys.executable, ["-m", "phase17", "review"], cwd=str(reviewed), env=environment, encoding="utf-8", timeout=60
    )
    while True:
        found = child.expect([r"\[k\]eep / \[e\]dit / \[s\]kip / \[q\]uit", r"\[e\]dit / \[r\]etire", pexpect.EOF])
        if found == 2:
            break
        child.sendline("k" if found == 0 else "r")
        said = r"kept: \S+ is taken as reviewed at" if found == 0 else r"retired \S+: the notes stay"
        child.expect(said)  # each decision says what it saved
    child.close()
    assert "decided" in (child.before or "")
    assert child.exitstatus == 0, child.before
    check = invoke("check", "--json")
    left = {item["status"] for item in json.loads(check.stdout)}
    assert not left & {"changed", "missing", "deleted"}, left  # (ambiguous and moved are check's: --relink, --fix)


@pytest.mark.slow
def test_edit_writes_the_sentence_anew_and_anchors_it_again(reviewed: Path):
    import pexpect

    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    child = pexpect.spawn(
        sys.executable, ["-m", "phase17", "review"], cwd=str(reviewed), env=environment, encoding="utf-8", timeout=60
    )
    while child.expect([r"\] (?:changed|missing|deleted)\s+(\S+)\r?\n", pexpect.EOF]) == 0:
        anchor = child.match.group(1)
        child.expect(r"\[s\]kip / \[q\]uit")
        if anchor.endswith("CudaPlatformBase.get_attn_backend_cls"):
            child.sendline("e")
            child.expect(r"edit cuda · invariant:\s+> `CudaPlatformBase.get_attn_backend_cls` asks")  # names it
            child.expect(r"new sentence \[Enter keeps it\]")
            child.sendline("s")  # a stray key would replace the whole sentence: asked again
            child.expect(r"'s' would replace the whole sentence")
            child.expect(r"new sentence \[Enter keeps it\]")
            child.sendline("`CudaPlatformBase.get_attn_backend_cls` now returns flash directly.")
            child.expect(r"saved invariant to annotations/cuda.yaml")
            child.expect(r"kept: vllm/platforms/cuda.py::CudaPlatformBase.get_attn_backend_cls is taken as reviewed")
        else:
            child.sendline("s")
            child.expect("skipped: still to review")
    child.close()
    assert child.exitstatus == 1  # the skipped ones are left
    from phase17.notes.store import load_notes

    invariant = load_notes(reviewed / "annotations", "cuda").notes["invariant"]
    assert invariant.endswith("now returns flash directly. Devices are counted elsewhere.")
    items = {item["anchor"] for item in json.loads(invoke("review", "--json").stdout)["items"]}
    assert "vllm/platforms/cuda.py::CudaPlatformBase.get_attn_backend_cls" not in items


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "environment", "paged"),
    [
        (["check", "--all"], {}, True),
        (["usages", "current_platform"], {}, True),
        (["--no-pager", "check", "--all"], {}, False),
        (["check", "--all"], {"PHASE17_PAGER": ""}, False),
    ],
)
def test_long_output_on_a_terminal_goes_through_the_pager_like_git(
    reviewed: Path, tmp_path: Path, arguments: list[str], environment: dict[str, str], paged: bool
):
    import pexpect

    caught = tmp_path / "paged.txt"
    pager = tmp_path / "pager.sh"
    pager.write_text(f"#!/bin/sh\ncat > {caught}\n")
    pager.chmod(0o755)
    env = {**os.environ, "COLUMNS": "80", "LINES": "2", "NO_COLOR": "1", "PAGER": str(pager), **environment}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "phase17", *arguments],
        cwd=str(reviewed),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(2, 80),
    )
    child.expect(pexpect.EOF)
    child.close()
    assert caught.exists() is paged, child.before
    if paged:
        assert caught.read_text().count("\n") > 2  # longer than the screen: what made it page
    piped = invoke(*arguments)  # never when piped
    assert piped.output.count("\n") > 2


def test_the_export_marks_each_sentence_still_to_review_until_it_is(reviewed: Path):
    from phase17.notes.store import LAST_CHECK_FILE

    shown = "`CudaPlatformBase.get_attn_backend_cls` asks \\_get_backend_priorities for the first backend."
    marked = f"{shown} \\[unreviewed since v9.9.9\\] Devices are counted elsewhere."
    assert invoke("export").exit_code == 0
    notebook = (reviewed / "notebooks" / "phase17.md").read_text(encoding="utf-8")
    assert marked in notebook, notebook  # the sentence citing changed code; the other sentence is not marked
    assert "sentence(s) below are marked [unreviewed since ...]" in notebook
    assert invoke("export", "--format", "codetour").exit_code == 0
    tour = json.loads((reviewed / "upstream" / ".tours" / "phase17.tour").read_text(encoding="utf-8"))
    assert any("\\[unreviewed since v9.9.9\\]" in step["description"] for step in tour["steps"])

    (reviewed / "annotations" / LAST_CHECK_FILE).unlink()  # no check remembered: marked all the same
    assert invoke("export").exit_code == 0
    assert "\\[not checked since v9.9.9\\]" in (reviewed / "notebooks" / "phase17.md").read_text(encoding="utf-8")

    accepted = invoke("check", "--accept", "CudaPlatformBase.get_attn_backend_cls")  # reviewed: the mark goes
    assert accepted.exit_code in (0, 1), accepted.output
    notebook = (reviewed / "notebooks" / "phase17.md").read_text(encoding="utf-8")
    assert f"{shown} Devices are counted elsewhere." in notebook
