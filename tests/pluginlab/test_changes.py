"""instruments/changes.py: the contract's changelog between two trees (what a plugin meets on upgrading is in
test_check.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from phase17 import render
from phase17.index.tree import Tree
from phase17.instruments.changes import CHANGE_KINDS, contract_changes

BEFORE = """\
class Platform:
    device_type: str

    @classmethod
    def _find_non_ssm_backend(cls, config) -> str:
        return ""

    @classmethod
    def get_lora_vocab_padding_size(cls) -> int:
        return 256

    @classmethod
    def get_attn_backend_cls(cls, selected_backend, head_size) -> str:
        return ""

    def is_pin_memory_available(self) -> bool:
        return True


class CpuPlatform(Platform):
    @classmethod
    def get_attn_backend_cls(cls, selected_backend, head_size) -> str:
        return "cpu"
"""

AFTER = """\
class Platform:
    device_type: str

    @classmethod
    def log_warnings(cls) -> None:
        pass

    @classmethod
    def _find_non_ssm_backends(cls, config) -> list[str]:
        return []

    @classmethod
    def get_attn_backend_cls(cls, selected_backend, attn_selector_config, num_heads=None) -> str:
        return ""

    @classmethod
    def is_pin_memory_available(cls) -> bool:
        return True


class CpuPlatform(Platform):
    @classmethod
    def log_warnings(cls) -> None:
        pass
"""

ENGINE_AFTER = """\
from vllm.platforms import current_platform

current_platform.get_attn_backend_cls("flash", config, num_heads=8)
"""


def _tree(root: Path, interface: str, engine: str = "") -> Path:
    (root / "vllm" / "platforms").mkdir(parents=True)
    (root / "vllm" / "platforms" / "interface.py").write_text(interface)
    if engine:
        (root / "vllm" / "engine.py").write_text(engine)
    return root


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Tree, Tree]:
    return Tree(_tree(tmp_path / "before", BEFORE)), Tree(_tree(tmp_path / "after", AFTER, ENGINE_AFTER))


def test_renamed_removed_added_resigned_and_overrides(trees: tuple[Tree, Tree]):
    changes = contract_changes(*trees, "v1", "v2")
    found = {(change.kind, change.cls, change.member): change for change in changes.changes}
    assert found[("renamed", "Platform", "_find_non_ssm_backend")].successor == "_find_non_ssm_backends"
    assert ("removed", "Platform", "get_lora_vocab_padding_size") in found
    assert ("added", "Platform", "log_warnings") in found
    assert ("re-signed", "Platform", "get_attn_backend_cls") in found
    assert ("form", "Platform", "is_pin_memory_available") in found
    assert ("override-gained", "CpuPlatform", "log_warnings") in found
    assert ("override-lost", "CpuPlatform", "get_attn_backend_cls") in found
    assert {change.kind for change in changes.changes} == set(CHANGE_KINDS)
    console = Console(width=60, color_system=None, force_terminal=False, record=True)
    with console.capture() as captured:
        console.print(render.changes_screen(changes), crop=False)
    shown = captured.get()
    assert "  Platform._find_non_ssm_backend -> _find_non_ssm_backends (" in shown
    assert "    was vllm/platforms/interface.py:5 (cls, config) -> str" in shown
