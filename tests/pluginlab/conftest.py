"""The plugin lab's fixtures: both fixture releases, copied for each test, and the contract's changes between them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lab import RELEASE_A, RELEASE_B

from phase17.index.tree import Tree
from phase17.instruments.changes import ContractChanges, contract_changes
from phase17.pluginlab.check import Release


@pytest.fixture
def releases(tmp_path: Path) -> tuple[Release, Release]:
    """Both releases, copied: a test's index of a tree lives beside nothing the next test reads."""
    a, b = tmp_path / "release_a", tmp_path / "release_b"
    shutil.copytree(RELEASE_A, a)
    shutil.copytree(RELEASE_B, b)
    return Release("v0.1", Tree(a), "a" * 40), Release("v0.2", Tree(b), "b" * 40)


@pytest.fixture
def changes(releases: tuple[Release, Release]) -> dict[str, ContractChanges]:
    pin, later = releases
    return {later.label: contract_changes(pin.upstream, later.upstream, pin.label, later.label)}
