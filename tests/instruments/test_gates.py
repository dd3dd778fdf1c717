"""instruments/gates.py: every capability predicate of Platform, each platform's answer read (never run), and the
engine's calls of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from phase17 import render
from phase17.index.tree import Tree
from phase17.instruments.gates import find_gates

INTERFACE = """\
import enum


class PlatformEnum(enum.Enum):
    CUDA = enum.auto()
    CPU = enum.auto()
    TPU = enum.auto()


class Platform:
    _enum: PlatformEnum
    device_name: str

    def is_cuda(self) -> bool:
        return self._enum == PlatformEnum.CUDA

    def is_cpu(self) -> bool:
        return self._enum == PlatformEnum.CPU

    def is_cuda_alike(self) -> bool:
        return self._enum in (PlatformEnum.CUDA,)

    def uses_host_device_handling(self) -> bool:
        return self.is_tpu()

    def is_tpu(self) -> bool:
        return self._enum == PlatformEnum.TPU

    def needs_nothing(self) -> bool:
        return not self.is_cuda() and not self.is_cpu()

    @classmethod
    def supports_fp8(cls) -> bool:
        return False

    @classmethod
    def has_device_capability(cls, capability: int) -> bool:
        return capability < 100

    def get_device_name(self) -> str:
        return "none"
"""

CUDA = """\
from vllm.platforms.interface import Platform, PlatformEnum


class CudaPlatformBase(Platform):
    _enum = PlatformEnum.CUDA

    @classmethod
    def supports_fp8(cls) -> bool:
        return cls.has_device_capability(89)


class NvmlCudaPlatform(CudaPlatformBase):
    pass
"""

CPU = """\
from vllm.platforms.interface import Platform, PlatformEnum


class CpuPlatform(Platform):
    _enum = PlatformEnum.CPU

    @classmethod
    def supports_fp8(cls) -> bool:
        return True
"""

ENGINE = """\
from vllm.platforms import current_platform


def pick():
    if current_platform.supports_fp8():
        return 1
    if current_platform.is_cuda() or current_platform.is_cuda():
        return 2
    return current_platform.get_device_name()
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "vllm" / "platforms").mkdir(parents=True)
    (root / "vllm" / "platforms" / "interface.py").write_text(INTERFACE)
    (root / "vllm" / "platforms" / "cuda.py").write_text(CUDA)
    (root / "vllm" / "platforms" / "cpu.py").write_text(CPU)
    (root / "vllm" / "engine.py").write_text(ENGINE)
    return root


def _answers(tree: Path) -> dict[str, dict[str, dict[str, object]]]:
    data = find_gates(Tree(tree)).to_data()
    return {gate["name"]: gate["platforms"] for gate in data["gates"]}


def test_a_literal_a_computed_override_and_inheritance_are_told_apart(tree: Path):
    fp8 = _answers(tree)["supports_fp8"]
    line = INTERFACE.splitlines().index("    def supports_fp8(cls) -> bool:") + 1
    interface, cuda, cpu = (f"vllm/platforms/{name}.py" for name in ("interface", "cuda", "cpu"))
    assert fp8["Platform"] == {"how": "literal", "value": False, "from": None, "line": line, "path": interface}
    assert fp8["CpuPlatform"] == {"how": "literal", "value": True, "from": None, "line": 8, "path": cpu}
    assert fp8["CudaPlatformBase"] == {
        "how": "computed",
        "value": None,
        "from": None,
        "line": 8,
        "path": cuda,
        "why": ["9: return cls.has_device_capability(89)"],  # what decides it, shown inline
        "summary": None,
    }
    assert fp8["NvmlCudaPlatform"] == {
        "how": "inherited",
        "value": None,
        "from": "CudaPlatformBase",
        "line": 8,
        "path": cuda,
        "why": ["9: return cls.has_device_capability(89)"],
        "summary": None,
    }


def test_an_enum_test_is_answered_from_each_platforms_own_enum(tree: Path):
    answers = _answers(tree)
    assert {name: answer["value"] for name, answer in answers["is_cuda"].items()} == {
        "Platform": None,  # the base has no _enum of its own: its subclasses decide
        "CudaPlatformBase": True,
        "NvmlCudaPlatform": True,
        "CpuPlatform": False,
    }
    assert answers["is_cuda"]["NvmlCudaPlatform"]["from"] == "Platform"
    assert answers["is_cuda_alike"]["CudaPlatformBase"]["value"] is True
    assert answers["uses_host_device_handling"]["CpuPlatform"]["value"] is False  # through self.is_tpu()
    assert answers["needs_nothing"]["CpuPlatform"]["value"] is False  # not ... and not ...


def test_every_predicate_counts_and_only_predicates(tree: Path):
    report = find_gates(Tree(tree))
    names = {gate.name for gate in report.gates}
    assert "has_device_capability" in names and "get_device_name" not in names
    counts = {gate.name: gate.call_sites for gate in report.gates}
    assert counts["supports_fp8"] == 1 and counts["is_cuda"] == 2 and counts["is_cpu"] == 0
    assert report.gates[0].spread >= report.gates[-1].spread  # the ones that differ most come first
    assert find_gates(Tree(tree), platforms=("CpuPlatform",)).platforms == ("Platform", "CpuPlatform")


@pytest.mark.parametrize("width", [60, 200])
def test_the_text_view_groups_platforms_by_answer_and_keeps_names_whole(tree: Path, width: int):
    console = Console(width=width, color_system=None, force_terminal=False, record=True)
    with console.capture() as captured:
        console.print(render.gates_screen(find_gates(Tree(tree))))
    shown = captured.get()
    assert "supports_fp8  1 call site(s)\n" in shown
    assert "\n    vllm/engine.py:5\n" in shown
    block = shown[shown.index("supports_fp8  ") :].split("\n")
    assert "  True: CpuPlatform" in block
    assert "  False: Platform" in block
    assert any(line.startswith("  computed: CudaPlatformBase (vllm/platforms/cuda.py:8)") for line in block)
    assert "NvmlCudaPlatform*" in shown  # inherited, marked


def test_the_kept_report_reads_back_as_the_computed_one(tree: Path):
    from phase17.instruments.gates import GatesReport, gates_report

    computed = find_gates(Tree(tree))
    assert GatesReport.from_data(computed.to_data()).to_data() == computed.to_data()
    first = gates_report(Tree(tree))
    assert gates_report(Tree(tree)).to_data() == first.to_data() == computed.to_data()
