"""instruments/effects.py: what each platform's hook writes to the config, through aliases and helpers, and when."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from phase17 import render
from phase17.errors import SymbolNotFoundError
from phase17.index.tree import Tree
from phase17.instruments.effects import find_effects

INTERFACE = """\
class Platform:
    @classmethod
    def check_and_update_config(cls, vllm_config) -> None:
        pass
"""

CPU = """\
from vllm.platforms.interface import Platform


class CpuPlatform(Platform):
    @classmethod
    def check_and_update_config(cls, vllm_config) -> None:
        parallel_config = vllm_config.parallel_config
        if parallel_config.worker_cls == "auto":
            parallel_config.worker_cls = "CPUWorker"
        elif parallel_config.world_size > 1:
            parallel_config.backend = "gloo"
        else:
            parallel_config.backend = "mp"
        vllm_config.cache_config.block_size = 128
        compilation = vllm_config.compilation_config
        compilation.custom_ops.append("+gelu")
        compilation.level += 1
        local = 3
        local = vllm_config  # an alias again, under its new name
        local.model_config.enforce_eager = True
        cls._apply_threads(vllm_config.parallel_config)
        logger.info("not a write: %s", parallel_config.worker_cls)

    @classmethod
    def _apply_threads(cls, config) -> None:
        config.num_threads = 8


class ZenCpuPlatform(CpuPlatform):
    pass
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "vllm" / "platforms").mkdir(parents=True)
    (root / "vllm" / "platforms" / "interface.py").write_text(INTERFACE)
    (root / "vllm" / "platforms" / "cpu.py").write_text(CPU)
    return root


def _line(text: str) -> int:
    return next(number for number, line in enumerate(CPU.splitlines(), 1) if text in line)


def test_every_write_with_its_value_line_and_conditions(tree: Path):
    data = find_effects(Tree(tree)).to_data()
    writes = [
        (item["field"], item["value"], item["line"], item["when"], item["via"])
        for item in data["platforms"]["CpuPlatform"]
    ]
    assert writes == [
        (
            "parallel_config.worker_cls",
            '"CPUWorker"',
            _line('= "CPUWorker"'),
            'parallel_config.worker_cls == "auto"',
            None,
        ),
        (
            "parallel_config.backend",
            '"gloo"',
            _line('"gloo"'),
            'not (parallel_config.worker_cls == "auto") and parallel_config.world_size > 1',
            None,
        ),
        (
            "parallel_config.backend",
            '"mp"',
            _line('"mp"'),
            'not (parallel_config.worker_cls == "auto") and not (parallel_config.world_size > 1)',
            None,
        ),
        ("cache_config.block_size", "128", _line("block_size = 128"), "", None),
        ("compilation_config.custom_ops", '.append("+gelu")', _line("append"), "", None),
        ("compilation_config.level", "+= 1", _line("+= 1"), "", None),
        ("model_config.enforce_eager", "True", _line("enforce_eager"), "", None),
        ("parallel_config.num_threads", "8", _line("num_threads"), "", "_apply_threads"),
    ]
    assert data["platforms"]["Platform"] == []
    assert data["helpers"] == {"CpuPlatform": ["_apply_threads"]}
    assert data["inherits"] == {"ZenCpuPlatform": "CpuPlatform"}


def test_a_hook_the_base_does_not_have_is_one_clear_error(tree: Path):
    with pytest.raises(SymbolNotFoundError, match="check_and_update_confg: not a member of Platform"):
        find_effects(Tree(tree), "check_and_update_confg")


def test_the_text_view_names_each_field_and_when_at_60_columns(tree: Path):
    console = Console(width=60, color_system=None, force_terminal=False, record=True)
    with console.capture() as captured:
        console.print(render.effects_screen(find_effects(Tree(tree))))
    shown = captured.get()
    assert "CpuPlatform  vllm/platforms/cpu.py:6  8 write(s)\n  helpers handed the config: _apply_threads\n" in shown
    assert '  parallel_config.worker_cls = "CPUWorker"\n' in shown
    worker = _line('= "CPUWorker"')
    assert f'    line {worker}, when parallel_config.worker_cls == "auto"' in shown
    assert "    line " + str(_line("num_threads")) + ", in _apply_threads, always" in shown
    assert "Inherited, no override: ZenCpuPlatform runs CpuPlatform's." in shown


def test_the_kept_report_reads_back_as_the_computed_one(tree: Path):
    from phase17.instruments.effects import EffectsReport, effects_report

    computed = find_effects(Tree(tree))
    assert EffectsReport.from_data(computed.to_data()) == computed
    assert effects_report(Tree(tree)) == computed


def test_writes_to_the_whole_process_are_there_too_and_marked(tmp_path: Path):
    # The environment the workers inherit and torch's settings are threading's other half (cpu.py:214-227 at the pin)
    root = tmp_path / "tree"
    (root / "vllm" / "platforms").mkdir(parents=True)
    (root / "vllm" / "platforms" / "interface.py").write_text(INTERFACE)
    (root / "vllm" / "platforms" / "cpu.py").write_text(
        "import os\nimport torch\n\nfrom vllm.platforms.interface import Platform\n\n\n"
        "class CpuPlatform(Platform):\n"
        "    @classmethod\n"
        "    def check_and_update_config(cls, vllm_config) -> None:\n"
        '        os.environ["NUMEXPR_MAX_THREADS"] = str(8)\n'
        "        if vllm_config.parallel_config.world_size > 1:\n"
        '            os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")\n'
        "        torch.set_num_threads(4)\n"
        "        vllm_config.cache_config.block_size = 128\n"
        '        print(os.environ["HOME"])\n'
    )
    (cpu,) = [
        platform for platform in find_effects(Tree(root), "check_and_update_config").platforms if platform.effects
    ]
    assert [(e.field, e.value, e.line, e.process_wide) for e in cpu.effects] == [
        ('os.environ["NUMEXPR_MAX_THREADS"]', "str(8)", 10, True),
        ("os.environ", '.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")', 12, True),
        ("torch", ".set_num_threads(4)", 13, True),
        ("cache_config.block_size", "128", 14, False),
    ]
    assert cpu.effects[1].when == "vllm_config.parallel_config.world_size > 1"
    console = Console(width=60, color_system=None, force_terminal=False, record=True)
    with console.capture() as captured:
        console.print(render.effects_screen(find_effects(Tree(root), "check_and_update_config")), crop=False)
    assert '  os.environ["NUMEXPR_MAX_THREADS"] = str(8)  (process-wide)' in captured.get()
