"""instruments/callers.py: who calls a name, and who calls them, through constructors and current_platform."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from phase17 import render
from phase17.index.tree import Tree
from phase17.instruments.callers import SHOWN_CALLERS, called_names, find_callers

PLATFORM = """\
class Platform:
    @classmethod
    def check_and_update_config(cls, config) -> None:
        pass
"""

CONFIG = """\
from dataclasses import dataclass

from vllm.platforms import current_platform


@dataclass
class VllmConfig:
    size: int = 0

    def __post_init__(self):
        current_platform.check_and_update_config(self)
"""

ENGINE = """\
from vllm.config import VllmConfig


class EngineArgs:
    def create_engine_config(self):
        return VllmConfig(size=1)


def serve():
    return EngineArgs().create_engine_config()


def ping():
    return pong()


def pong():
    return ping()
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "vllm" / "platforms").mkdir(parents=True)
    (root / "vllm" / "platforms" / "interface.py").write_text(PLATFORM)
    (root / "vllm" / "config.py").write_text(CONFIG)
    (root / "vllm" / "engine.py").write_text(ENGINE)
    return root


def _chain(node) -> list[str]:
    names = []
    while node.callers:
        node = node.callers[0]
        names.append(node.name)
    return names


def test_the_path_goes_through_current_platform_and_a_constructor(tree: Path):
    root = find_callers(Tree(tree), "Platform.check_and_update_config", depth=3)
    assert (root.path, root.line) == ("vllm/platforms/interface.py", 3)
    assert _chain(root) == ["VllmConfig.__post_init__", "EngineArgs.create_engine_config", "serve"]
    post_init = root.callers[0]
    assert (post_init.path, post_init.line) == ("vllm/config.py", 11)
    data = root.to_data()
    assert data["callers"][0]["callers"][0]["callers"][0] == {"name": "serve", "path": "vllm/engine.py", "line": 10}


def test_depth_recursion_and_fan_out_are_cut(tree: Path):
    assert _chain(find_callers(Tree(tree), "Platform.check_and_update_config", depth=1)) == ["VllmConfig.__post_init__"]
    loop = find_callers(Tree(tree), "ping", depth=4)
    assert _chain(loop) == ["pong", "ping"] and loop.callers[0].callers[0].recursive
    many = tree / "vllm" / "many.py"
    many.write_text("".join(f"def caller_{n}():\n    return serve()\n\n\n" for n in range(SHOWN_CALLERS + 3)))
    fanned = find_callers(Tree(tree), "serve", depth=1)
    assert len(fanned.callers) == SHOWN_CALLERS and fanned.more == 3
    assert fanned.to_data()["more"] == 3


def test_only_files_that_call_the_name_are_parsed_however_the_call_is_written(tree: Path, monkeypatch):
    from phase17.instruments import usages

    (tree / "vllm" / "named.py").write_text("from vllm.config import VllmConfig\n\nKIND = VllmConfig  # no call\n")
    (tree / "vllm" / "spaced.py").write_text(
        "from vllm.config import VllmConfig\n\n\ndef build():\n    return (VllmConfig  # made here\n        (size=2))\n"
        "\n\ndef again():\n    return VllmConfig \\\n        (size=3)\n"
    )
    parsed: list[str] = []
    real = usages._uses_in
    monkeypatch.setattr(
        usages, "_uses_in", lambda source, path, *a, **k: parsed.append(path) or real(source, path, *a, **k)
    )

    calls = usages.find_calls(Tree(tree), "VllmConfig")

    assert sorted(parsed) == ["vllm/engine.py", "vllm/spaced.py"]
    assert [(call.path, call.enclosing) for call in calls] == [
        ("vllm/engine.py", "EngineArgs.create_engine_config"),
        ("vllm/spaced.py", "build"),
        ("vllm/spaced.py", "again"),
    ]


def test_a_construction_hook_is_called_by_its_class_name():
    assert called_names("VllmConfig.__post_init__") == ["VllmConfig"]
    assert called_names("Platform.check_and_update_config") == ["check_and_update_config"]


def test_the_text_view_indents_each_caller_with_its_line(tree: Path):
    console = Console(width=60, color_system=None, force_terminal=False, record=True)
    with console.capture() as captured:
        console.print(render.callers_tree(find_callers(Tree(tree), "Platform.check_and_update_config"), 3), crop=False)
    shown = captured.get().splitlines()
    assert shown[0] == "Callers, 3 level(s) up (3 shown), of"
    assert shown[1] == "Platform.check_and_update_config  vllm/platforms/interface.py:3"
    assert shown[2] == "  <- VllmConfig.__post_init__  vllm/config.py:11"
    assert shown[3] == "    <- EngineArgs.create_engine_config  vllm/engine.py:6"
    assert shown[4] == "      <- serve  vllm/engine.py:10"


def test_a_call_is_the_name_then_its_parenthesis_past_spaces_continuations_and_whole_comments():
    from phase17.instruments.usages import call_pattern

    called = call_pattern("VllmConfig")
    for text in (b"VllmConfig(", b"x = VllmConfig  # made\n    (", b"VllmConfig \\\n (", b"VllmConfig # a\n# b\n("):
        assert called.search(text), text
    for text in (b"MyVllmConfig(", b"VllmConfigs(", b"VllmConfig # not a call (", b"VllmConfig = 1\n("):
        assert not called.search(text), text
    # a long run of '#' after the name is read once (a pattern that could split it every way never returned)
    assert not called.search(b"x = VllmConfig " + b"#" * 5000 + b"\n")
