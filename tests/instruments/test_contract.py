"""contract.py: a base class's members against every subclass across files, aliases included."""

from __future__ import annotations

from pathlib import Path

import pytest

from phase17.errors import SymbolNotFoundError
from phase17.index.tree import Tree
from phase17.instruments import classes
from phase17.instruments.contract import build_contract, compare, contract_markdown

INTERFACE = """\
class Platform:
    device_type: str
    dist_backend: str = ""
    supported_quantization: list[str] = []

    @classmethod
    def get_attn_backend_cls(cls, selected: str) -> str:
        raise NotImplementedError

    def is_pin_memory_available(self) -> bool:
        return True

    def __repr__(self):
        return "Platform"
"""

CUDA = """\
from .interface import Platform


class CudaPlatformBase(Platform):
    device_type: str = "cuda"
    dist_backend = "nccl"
    supported_quantization = ["fp8", *EXTRA_METHODS_THAT_ARE_COMPUTED_AT_IMPORT_TIME_AND_MAKE_A_LONG_LINE]

    @classmethod
    def get_attn_backend_cls(cls, selected: str, heads: int = 0) -> str:
        return "flash"

    def device_count(self) -> int:
        return 1


class NvmlCudaPlatform(CudaPlatformBase):
    def is_pin_memory_available(self) -> bool:
        return False


class NonNvmlCudaPlatform(CudaPlatformBase):
    pass


CudaPlatform = NvmlCudaPlatform if nvml_available else NonNvmlCudaPlatform
"""

CPU = """\
from vllm.platforms import interface


class CpuPlatform(interface.Platform):
    device_type = "cpu"
    dist_backend = "gloo"

    def is_pin_memory_available(self) -> bool:
        return False
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    platforms = tmp_path / "tree" / "vllm" / "platforms"
    platforms.mkdir(parents=True)
    (platforms / "interface.py").write_text(INTERFACE)
    (platforms / "cuda.py").write_text(CUDA)
    (platforms / "cpu.py").write_text(CPU)
    return tmp_path / "tree"


def test_every_subclass_across_files_and_levels_is_a_column(tree: Path):
    contract = build_contract(Tree(tree))
    # breadth first: the direct subclasses in path order, then theirs
    assert [info.name for info in contract.platforms] == [
        "CpuPlatform",
        "CudaPlatformBase",
        "NvmlCudaPlatform",
        "NonNvmlCudaPlatform",
    ]
    assert contract.aliases == {"CudaPlatform": ["NonNvmlCudaPlatform", "NvmlCudaPlatform"]}
    cells = {member.name: cells for member, cells in contract.rows}
    expected = {"device_type", "dist_backend", "supported_quantization", "get_attn_backend_cls"}
    assert set(cells) == expected | {"is_pin_memory_available"}
    assert cells["device_type"]["CpuPlatform"].text == '"cpu"'
    assert cells["dist_backend"]["CudaPlatformBase"].text == '"nccl"'
    assert cells["dist_backend"]["NvmlCudaPlatform"].text == 'inherited from CudaPlatformBase: "nccl"'
    assert cells["get_attn_backend_cls"]["CudaPlatformBase"].text == "override L10"
    assert cells["get_attn_backend_cls"]["CpuPlatform"].status == "inherited"
    assert cells["is_pin_memory_available"]["NonNvmlCudaPlatform"].text == "inherited"
    assert cells["supported_quantization"]["CudaPlatformBase"].text.endswith("…")  # long values are shortened
    assert [member.name for member in contract.added["CudaPlatformBase"]] == ["device_count"]


def test_only_files_that_spell_a_related_name_are_parsed_and_nothing_is_missed(tree: Path, monkeypatch):
    platforms = tree / "vllm" / "platforms"
    # a subclass of a subclass in a file that never names Platform, with a mixin from a file that names no platform,
    # an alias in a third file, and a file that has nothing to do with any of them
    (platforms / "rocm.py").write_text(
        "from .cuda import NvmlCudaPlatform\nfrom .mixins import Tuned\n\n\n"
        "class Rocm(NvmlCudaPlatform, Tuned):\n    pass\n"
    )
    (platforms / "mixins.py").write_text("class Tuned:\n    dist_backend = 'rccl'\n")
    (tree / "vllm" / "chosen.py").write_text("from .platforms.rocm import Rocm\n\nChosen = Rocm\n")
    (tree / "vllm" / "engine.py").write_text("class Engine:\n    platform = None\n\n\nsize = 1\n")
    parsed: list[str] = []
    real = classes.classes_of
    monkeypatch.setattr(classes, "classes_of", lambda path, source: parsed.append(path) or real(path, source))

    contract = build_contract(Tree(tree))

    assert sorted(parsed) == [
        "vllm/chosen.py",
        *(f"vllm/platforms/{name}.py" for name in ("cpu", "cuda", "interface", "mixins", "rocm")),
    ]
    assert [info.name for info in contract.platforms][-1] == "Rocm"
    assert contract.aliases["Chosen"] == ["Rocm"]
    cells = {member.name: cells for member, cells in contract.rows}
    assert cells["dist_backend"]["Rocm"].text == "inherited from Tuned: 'rccl'"
    whole, aliases = classes.classes_below(Tree(tree), ("vllm",))  # every file read: the same answer
    monkeypatch.setattr("phase17.instruments.contract.load_classes", lambda *_, **__: (whole, aliases))
    assert build_contract(Tree(tree)).to_data() == contract.to_data()


def test_members_and_platforms_narrow_the_matrix_and_markdown_is_a_table(tree: Path):
    contract = build_contract(Tree(tree), members="^dist", platforms=("CpuPlatform",))
    assert [member.name for member, _ in contract.rows] == ["dist_backend"]
    assert contract_markdown(contract) == (
        '| member | Platform | CpuPlatform |\n|---|---|---|\n| dist_backend | "" | "gloo" |\n'
    )
    with pytest.raises(SymbolNotFoundError, match="NoSuch: not a subclass of Platform"):
        build_contract(Tree(tree), platforms=("NoSuch",))


def test_one_platform_against_the_base_says_what_differs(tree: Path):
    sub, root, differences = compare(Tree(tree), "CudaPlatformBase", "Platform")
    by_member = {item.member: item.summary for item in differences}
    assert by_member["dist_backend"] == '"" -> "nccl"'
    assert by_member["get_attn_backend_cls"].startswith("signature (cls, selected: str) -> str -> (cls, selected: str")
    assert 'returns "flash"' in by_member["get_attn_backend_cls"]
    assert by_member["device_count"].startswith("added")


def test_a_classmethod_is_labelled_and_getattr_is_part_of_the_contract(tree: Path):
    (tree / "vllm" / "platforms" / "interface.py").write_text(
        INTERFACE
        + "\n    def __getattr__(self, key: str):\n        return None\n\n"
        + "    @staticmethod\n    def seed_everything(seed: int) -> None:\n        pass\n"
    )
    contract = build_contract(Tree(tree))
    labels = {member.name: member.label for member, _ in contract.rows}
    assert labels["get_attn_backend_cls"] == "classmethod" and labels["seed_everything"] == "staticmethod"
    assert labels["is_pin_memory_available"] == "def" and "__getattr__" in labels and "__repr__" not in labels
    forms = {item["name"]: item["form"] for item in contract.to_data()["members"]}
    assert forms["get_attn_backend_cls"] == "classmethod" and forms["dist_backend"] is None
    assert "| get_attn_backend_cls | classmethod |" in contract_markdown(contract)


def test_against_the_base_honours_members_and_names_a_changed_form(tree: Path):
    _, _, differences = compare(Tree(tree), "CudaPlatformBase", "Platform", members="^dist")
    assert [item.member for item in differences] == ["dist_backend"]
    cpu = tree / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(
        CPU.replace("    def is_pin_memory_available(self)", "    @classmethod\n    def is_pin_memory_available(cls)")
    )
    _, _, differences = compare(Tree(tree), "CpuPlatform", "Platform", members="pin_memory")
    assert [(item.kind, item.summary.split(";")[0]) for item in differences][-1] == (
        "classmethod",
        "def -> classmethod",
    )


def test_a_hostile_literal_in_the_tree_is_text_in_the_markdown_table(tree: Path):
    from helpers import COMMONMARK, markdown_hazards

    cpu = tree / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(CPU.replace('"gloo"', '"<img src=x onerror=alert(1)> | [x](javascript:y) `z"'))
    markdown = contract_markdown(build_contract(Tree(tree), members="^dist_backend$"))
    assert markdown_hazards(markdown) == []
    rows = [token for token in COMMONMARK.parse(markdown) if token.type == "inline"]
    assert any("<img src=x onerror=alert(1)>" in token.content.replace("\\", "") for token in rows)
    assert markdown.count("\n") == 3  # header, rule, one row: the `|` in the value did not add a column's worth
