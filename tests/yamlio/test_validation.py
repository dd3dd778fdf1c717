"""yamlio/validation.py: a file's content is checked against the schema once; a verdict never outlives a change."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from phase17.errors import InvalidFileError
from phase17.yamlio.load import parse_yaml
from phase17.yamlio.validation import require_valid

PIN = "repository: vllm-project/vllm\ntag: v1\ncommit: 0decac0\npypi:\n  distribution: vllm\n  version: '1'\n"


def _verdicts(cache: Path) -> list[Path]:
    folder = cache / "verdicts"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_valid_content_is_remembered_and_not_checked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = parse_yaml(PIN, "PIN.md")
    require_valid("PinFile", data, "PIN.md")
    assert len(_verdicts(tmp_path / "cache")) == 1
    monkeypatch.setitem(sys.modules, "phase17.yamlio.schema", None)  # importing the schema would now fail
    require_valid("PinFile", parse_yaml(PIN, "PIN.md"), "PIN.md")  # the same content: no check


def test_changed_content_is_checked_again_and_invalid_content_is_never_remembered(tmp_path: Path):
    require_valid("PinFile", parse_yaml(PIN, "PIN.md"), "PIN.md")
    broken = parse_yaml(PIN.replace("commit: 0decac0", "commit: NOT-HEX"), "PIN.md")
    for _ in range(2):  # and again: a refusal is not cached
        with pytest.raises(InvalidFileError, match=r"^PIN.md:3: commit: must be a lowercase hex sha"):
            require_valid("PinFile", broken, "PIN.md")
    assert len(_verdicts(tmp_path / "cache")) == 1


def test_a_verdict_is_for_one_model_only(tmp_path: Path):
    data = parse_yaml(PIN, "PIN.md")
    require_valid("PinFile", data, "PIN.md")
    with pytest.raises(InvalidFileError):
        require_valid("ReadingListFile", data, "PIN.md")


def test_a_cache_that_cannot_be_written_only_costs_speed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("PHASE17_CACHE_DIR", str(blocked))
    require_valid("PinFile", parse_yaml(PIN, "PIN.md"), "PIN.md")  # valid: no error, though no verdict is kept
    assert blocked.read_text() == "a file where the cache folder should be"
    with pytest.raises(InvalidFileError, match="PIN.md"):  # and it still checks: an invalid file is refused
        require_valid("PinFile", parse_yaml(PIN.replace("tag: v1\n", ""), "PIN.md"), "PIN.md")
