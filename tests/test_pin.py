from __future__ import annotations

from pathlib import Path

import pytest

from helpers import git, write_pin
from phase17.errors import PinFileError, ProjectNotFoundError
from phase17.pin import inspect_upstream, load_pin, locate_project

REAL_PIN = Path(__file__).resolve().parent.parent / "UPSTREAM_PIN.md"


def test_shipped_pin_names_v0_22_1():
    pin = load_pin(REAL_PIN)
    assert (pin.repository, pin.tag, pin.commit) == (
        "https://github.com/vllm-project/vllm",
        "v0.22.1",
        "0decac0d96c42b49572498019f0a0e3600f50398",
    )
    assert (pin.pypi_distribution, pin.pypi_version) == ("vllm", "0.22.1")
    assert pin.describe() == "v0.22.1 @ 0decac0"


def _pin_text(body: str) -> str:
    return f"# Pin\n\nSome prose.\n\n```yaml\n{body}```\n"


GOOD = "repository: https://x.invalid/r\ntag: v1\ncommit: " + "a" * 40 + "\npypi:\n  distribution: vllm\n  version: 1.0\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Pin\n\nno block here\n", "PIN.md:1: expected exactly one ```yaml fenced block, found no"),
        (_pin_text(GOOD) + _pin_text(GOOD), "PIN.md:1: expected exactly one ```yaml fenced block, found 2"),
        ("```yaml\ntag: v1\n", "PIN.md:1: the ```yaml block is never closed"),
        (_pin_text(GOOD.replace("tag: v1", "tag: [v1")), "PIN.md:8: expected ',' or ']', but got ':' (while parsing a flow sequence at line 7)"),
        (_pin_text(GOOD + "branch: main\n"), "PIN.md:12: unknown key 'branch'"),
        (_pin_text(GOOD.replace("a" * 40, "0decac")), "PIN.md:8: commit must be a lowercase hex sha (7 to 40 characters"),
        (_pin_text(GOOD.replace("a" * 40, "main")), "PIN.md:8: commit must be a lowercase hex sha"),
        (_pin_text(GOOD.replace("tag: v1\n", "")), "PIN.md:6: the pin is missing tag"),
        (_pin_text(GOOD.replace("tag: v1", "tag: v1\ntag: v2")), "PIN.md:8: duplicate key 'tag'"),
        (_pin_text(GOOD.replace("  version: 1.0\n", "  version: ''\n")), "PIN.md:11: version must be a non-empty string"),
        (_pin_text(GOOD.replace("pypi:\n  distribution: vllm\n  version: 1.0\n", "pypi: vllm\n")), "PIN.md:9: pypi must be a mapping"),
    ],
)
def test_malformed_pin_names_file_and_line(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "PIN.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PinFileError) as caught:
        load_pin(path)
    assert str(caught.value).startswith(str(tmp_path / expected)), str(caught.value)


def test_unquoted_version_is_read_as_text(tmp_path: Path):
    path = tmp_path / "PIN.md"
    path.write_text(_pin_text(GOOD), encoding="utf-8")
    assert load_pin(path).pypi_version == "1.0"


def test_missing_pin_file_says_how_to_restore(tmp_path: Path):
    with pytest.raises(PinFileError, match="file not found; restore it"):
        load_pin(tmp_path / "UPSTREAM_PIN.md")


def test_project_is_found_from_a_subfolder(tmp_path: Path):
    write_pin(tmp_path / "p", "b" * 40)
    deep = tmp_path / "p" / "notebooks" / "deeper"
    deep.mkdir(parents=True)
    found = locate_project(deep)
    assert found.root == (tmp_path / "p").resolve()
    assert found.upstream == (tmp_path / "p" / "upstream").resolve()
    assert locate_project(deep, tmp_path / "elsewhere").upstream == (tmp_path / "elsewhere").resolve()


def test_no_project_above_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ProjectNotFoundError, match="no UPSTREAM_PIN.md in .* or any folder above it"):
        locate_project(tmp_path)


def test_upstream_states(fetched_project: Path, git_source):
    pin = load_pin(fetched_project / "UPSTREAM_PIN.md")
    upstream = fetched_project / "upstream"
    assert inspect_upstream(fetched_project / "nothing", pin).status == "missing"
    state = inspect_upstream(upstream, pin)
    assert (state.status, state.head, state.source) == ("matches", pin.commit, "git")

    (upstream / "vllm" / "platforms" / "cpu.py").write_text("# edited\n", encoding="utf-8")
    (upstream / "new_file.py").write_text("x = 1\n", encoding="utf-8")
    state = inspect_upstream(upstream, pin)
    assert state.status == "modified"
    assert sorted(state.modified) == ["new_file.py", "vllm/platforms/cpu.py"]

    git(upstream, "checkout", "-q", "--", ".")
    (upstream / "new_file.py").unlink()
    git(upstream, "fetch", "-q", str(git_source[0]), git_source[2])
    git(upstream, "checkout", "-q", "--detach", git_source[2])
    state = inspect_upstream(upstream, pin)
    assert (state.status, state.carries) == ("other-commit", git_source[2])


def test_a_plain_folder_is_not_a_checkout(plain_upstream: Path):
    pin = load_pin(REAL_PIN)
    assert inspect_upstream(plain_upstream, pin).status == "not-a-checkout"


def test_a_numeric_commit_must_be_quoted(tmp_path: Path):
    path = tmp_path / "PIN.md"
    path.write_text(_pin_text(GOOD.replace("a" * 40, "1" * 40)), encoding="utf-8")
    with pytest.raises(PinFileError, match="PIN.md:8: YAML reads this commit as a number; quote it"):
        load_pin(path)
