"""instruments/changes.py and plugin_check.check_against: the contract's changelog between two trees, and what a
plugin would meet on upgrading."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from phase17 import render
from phase17.instruments.changes import CHANGE_KINDS, contract_changes
from phase17.pluginlab.check import check_against
from phase17.pluginlab.source import open_plugin

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

PLUGIN = {
    "pyproject.toml": '[project]\nname = "p"\nversion = "1"\n\n[project.entry-points."vllm.platform_plugins"]\n'
    'p = "p_plugin:register"\n',
    "p_plugin/__init__.py": 'def register():\n    return "p_plugin.platform.PPlatform"\n',
    "p_plugin/platform.py": "from vllm.platforms.interface import Platform\n\n\nclass PPlatform(Platform):\n"
    "    @classmethod\n    def get_lora_vocab_padding_size(cls) -> int:\n        return 64\n\n"
    "    @classmethod\n    def _find_non_ssm_backend(cls, config) -> str:\n        return 'x'\n\n"
    "    @classmethod\n    def get_attn_backend_cls(cls, selected_backend, head_size) -> str:\n        return 'p'\n",
}


def _tree(root: Path, interface: str, engine: str = "") -> Path:
    (root / "vllm" / "platforms").mkdir(parents=True)
    (root / "vllm" / "platforms" / "interface.py").write_text(interface)
    if engine:
        (root / "vllm" / "engine.py").write_text(engine)
    return root


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    return _tree(tmp_path / "before", BEFORE), _tree(tmp_path / "after", AFTER, ENGINE_AFTER)


def test_renamed_removed_added_resigned_and_overrides(trees: tuple[Path, Path]):
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


def test_a_plugin_upgrading_meets_removed_renamed_and_new_keywords(trees: tuple[Path, Path], tmp_path: Path):
    plugin = tmp_path / "plugin"
    for relative, text in PLUGIN.items():
        (plugin / relative).parent.mkdir(parents=True, exist_ok=True)
        (plugin / relative).write_text(text)
    before, after = trees
    report = check_against(
        before, after, open_plugin(str(plugin), tmp_path / "cache"), contract_changes(*trees, "v1", "v2")
    )
    at_release = {(finding.member, finding.kind): finding for finding in report.findings if finding.release == "v2"}
    assert at_release[("_find_non_ssm_backend", "renamed")].successor == "_find_non_ssm_backends"
    assert at_release[("get_lora_vocab_padding_size", "removed")].severity == "error"
    call = at_release[("get_attn_backend_cls", "call")]
    assert call.site == "vllm/engine.py:3" and "num_heads" in call.message
    assert not [finding for finding in report.findings if finding.release is None and finding.severity == "error"]
    assert report.fails
