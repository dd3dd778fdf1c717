"""pin.py: UPSTREAM_PIN.md read through the schema (errors at the right line) and rewritten in place."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from helpers import PROJECT_ROOT
from phase17.errors import InvalidFileError
from phase17.upstream.pin import load_pin, write_pin

REAL_PIN = PROJECT_ROOT / "UPSTREAM_PIN.md"


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


GOOD = (
    "repository: https://x.invalid/r\ntag: v1\ncommit: "
    + "a" * 40
    + "\npypi:\n  distribution: vllm\n  version: '1.0'\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Pin\n\nno block here\n", "PIN.md:1: expected exactly one ```yaml fenced block, found no"),
        (_pin_text(GOOD) + _pin_text(GOOD), "PIN.md:1: expected exactly one ```yaml fenced block, found 2"),
        ("```yaml\ntag: v1\n", "PIN.md:1: the ```yaml block is never closed"),
        (
            _pin_text(GOOD.replace("tag: v1", "tag: [v1")),
            "PIN.md:8: expected ',' or ']', but got ':' (while parsing a flow sequence at line 7)",
        ),
        (_pin_text(GOOD + "branch: main\n"), "PIN.md:12: unknown key 'branch' in the file (expected repository, tag"),
        (_pin_text(GOOD.replace("a" * 40, "0decac")), "PIN.md:8: commit: must be a lowercase hex sha (7 to 40"),
        (_pin_text(GOOD.replace("a" * 40, "main")), "PIN.md:8: commit: must be a lowercase hex sha"),
        (_pin_text(GOOD.replace("tag: v1\n", "")), "PIN.md:6: the file is missing 'tag'"),
        (_pin_text(GOOD.replace("tag: v1", "tag: v1\ntag: v2")), "PIN.md:8: duplicate key 'tag'"),
        (_pin_text(GOOD.replace("version: '1.0'", "version: ''")), "PIN.md:11: pypi.version: must not be empty"),
        (
            _pin_text(GOOD.replace("version: '1.0'", "version: 0.30")),
            "PIN.md:11: pypi.version: YAML reads this version as the number 0.3; quote it",
        ),
        (
            _pin_text(GOOD.replace("pypi:\n  distribution: vllm\n  version: '1.0'\n", "pypi: vllm\n")),
            "PIN.md:9: pypi must be a mapping with distribution, version, not str 'vllm'",
        ),
        (
            _pin_text(GOOD.replace("a" * 40, "1" * 40)),
            "PIN.md:8: commit: YAML reads this commit as the number 1111111111111111111111111111111111111111; quote it",
        ),
    ],
)
def test_malformed_pin_names_file_line_and_what_is_wrong(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "PIN.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidFileError) as caught:
        load_pin(path)
    assert str(caught.value).startswith(str(tmp_path / expected)), str(caught.value)


def test_missing_pin_file_says_how_to_restore(tmp_path: Path):
    with pytest.raises(InvalidFileError, match="file not found; restore it"):
        load_pin(tmp_path / "UPSTREAM_PIN.md")


def test_write_pin_rewrites_only_the_values_that_changed(tmp_path: Path):
    path = tmp_path / "PIN.md"
    body = GOOD.replace("tag: v1\n", "tag: v1   # the release the guide was written for\n").replace(
        "repository: https://x.invalid/r", "repository: 'https://x.invalid/r #not-a-comment'"
    )
    path.write_text(_pin_text(body) + "\nMore prose after.\n", encoding="utf-8")
    pin = load_pin(path)
    assert pin.repository == "https://x.invalid/r #not-a-comment"
    write_pin(path, replace(pin, tag="v2", commit="b" * 40, pypi_version="0.30"))
    text = path.read_text(encoding="utf-8")
    assert "tag: v2   # the release the guide was written for" in text
    assert "repository: 'https://x.invalid/r #not-a-comment'" in text
    assert text.startswith("# Pin\n\nSome prose.\n\n```yaml\n") and text.endswith("```\n\nMore prose after.\n")
    again = load_pin(path)
    assert (again.tag, again.commit, again.pypi_version, again.repository) == (
        "v2",
        "b" * 40,
        "0.30",
        "https://x.invalid/r #not-a-comment",
    )


def test_the_prose_naming_the_version_follows_the_pin():
    import shutil
    import tempfile

    shipped = PROJECT_ROOT / "UPSTREAM_PIN.md"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "UPSTREAM_PIN.md"
        shutil.copy(shipped, path)
        pin = load_pin(path)
        write_pin(path, replace(pin, tag="v0.23.0", commit="91df0fad4", pypi_version="0.23.0"))
        text = path.read_text(encoding="utf-8")
        assert "**vLLM v0.23.0 @ 91df0fa**" in text and "v0.22.1 @ 0decac0" not in text
        write_pin(path, pin)  # and back, whole
        assert path.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")


def test_a_repin_by_sdist_restores_a_full_commit_it_knows(monkeypatch, tmp_path: Path):
    from phase17.errors import NetworkError
    from phase17.upstream import fetch, sdist

    def unreachable(repository: str, tag: str) -> str:
        raise NetworkError("Cannot reach the remote.", detail="test")

    monkeypatch.setattr(fetch, "_remote_tag_commit", unreachable)
    monkeypatch.setattr(sdist, "sdist_commit_id", lambda *args, **kwargs: "0decac0d9")
    current = load_pin(PROJECT_ROOT / "UPSTREAM_PIN.md")
    moved = replace(current, tag="v0.23.0", commit="91df0fad4", pypi_version="0.23.0")
    full = "0decac0d96c42b49572498019f0a0e3600f50398"
    back = fetch.plan_repin(moved, "v0.22.1", cache_dir=tmp_path, known_commits=("abc", full))
    assert back.commit == full  # from upstream/'s history: `pin v0.22.1` going back restores all 40 digits
    unknown = fetch.plan_repin(moved, "v0.22.1", cache_dir=tmp_path)
    assert unknown.commit == "0decac0d9"  # nothing known: the sdist's prefix, as before
