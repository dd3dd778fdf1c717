"""index/lookup.py: reading upstream files safely and finding definitions by reference across them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phase17.errors import SymbolNotFoundError
from phase17.index.lookup import find_symbol, locate_key_symbols, look_up, python_files, source_lines
from phase17.index.tree import Tree
from phase17.source.refs import parse_ref


def test_find_symbol_in_a_file_a_folder_and_the_whole_tree(plain_upstream: Path):
    by_path = find_symbol(Tree(plain_upstream), parse_ref("vllm/platforms/cuda.py::CudaPlatformBase.supports_fp8"))
    assert [(s.path, s.kind) for s in by_path.symbols] == [("vllm/platforms/cuda.py", "classmethod")]
    in_folder = find_symbol(Tree(plain_upstream), parse_ref("get_attn_backend_cls"), within=("vllm/platforms",))
    assert in_folder.symbols == []  # only methods carry that name; a bare name is a full qualname
    everywhere = find_symbol(Tree(plain_upstream), parse_ref("supports_fp8"))
    assert everywhere.symbols == []
    methods = find_symbol(Tree(plain_upstream), parse_ref("CpuPlatform.get_attn_backend_cls"))
    assert [s.ref for s in methods.symbols] == ["vllm/platforms/cpu.py::CpuPlatform.get_attn_backend_cls"]


def test_every_match_is_reported(plain_upstream: Path):
    extra = plain_upstream / "vllm" / "platforms" / "copy.py"
    extra.write_text("class Platform:\n    pass\n", encoding="utf-8")
    scan = find_symbol(Tree(plain_upstream), parse_ref("Platform"))
    assert sorted(s.path for s in scan.symbols) == ["vllm/platforms/copy.py", "vllm/platforms/interface.py"]


def test_a_symlink_out_of_upstream_is_not_followed(plain_upstream: Path, tmp_path: Path):
    outside = tmp_path / "outside.py"
    outside.write_text("class Platform:\n    pass\n", encoding="utf-8")
    os.symlink(outside, plain_upstream / "vllm" / "sneaky.py")
    scan = find_symbol(Tree(plain_upstream), parse_ref("Platform"))
    assert [s.path for s in scan.symbols] == ["vllm/platforms/interface.py"]
    direct = find_symbol(Tree(plain_upstream), parse_ref("vllm/sneaky.py::Platform"))
    assert direct.symbols == []
    assert [(u.path, u.reason) for u in direct.unreadable] == [
        ("vllm/sneaky.py", "symlink out of upstream/, not followed")
    ]


def test_unreadable_files_are_reported_not_fatal(plain_upstream: Path):
    (plain_upstream / "vllm" / "blob.py").write_bytes(b"class Platform:\x00\x01")
    scan = find_symbol(Tree(plain_upstream), parse_ref("Platform"))
    assert [s.path for s in scan.symbols] == ["vllm/platforms/interface.py"]
    assert [(u.path, u.reason) for u in scan.unreadable] == [
        ("vllm/blob.py", "binary content (NUL bytes), not Python source")
    ]


def test_a_missing_file_is_a_clear_error(plain_upstream: Path):
    with pytest.raises(SymbolNotFoundError, match="vllm/nope.py: no such file or folder"):
        find_symbol(Tree(plain_upstream), parse_ref("vllm/nope.py::X"))


def test_source_lines_are_the_symbols_own(plain_upstream: Path):
    symbol = find_symbol(Tree(plain_upstream), parse_ref("Platform.get_attn_backend_cls")).symbols[0]
    lines = source_lines(Tree(plain_upstream), symbol)
    assert lines[0].strip() == "@classmethod" and lines[-1].strip() == 'return ""'
    assert len(lines) == symbol.end_line - symbol.start_line + 1


def test_a_path_outside_upstream_is_refused_without_walking(plain_upstream: Path):
    with pytest.raises(SymbolNotFoundError, match="outside upstream/"):
        find_symbol(Tree(plain_upstream), parse_ref("../../../../../../..::x"))
    with pytest.raises(SymbolNotFoundError, match="outside upstream/"):
        find_symbol(Tree(plain_upstream), parse_ref("/etc::passwd"))


def test_look_up_says_found_missing_or_ambiguous(plain_upstream: Path):
    assert look_up(Tree(plain_upstream), "Platform.supports_fp8").status == "found"
    assert look_up(Tree(plain_upstream), "NoSuchName").status == "missing"
    ending = look_up(Tree(plain_upstream), "supports_fp8")
    assert ending.status == "choices" and len(ending.matches) == 2  # Platform's and CudaPlatformBase's
    assert look_up(Tree(plain_upstream), "nvml_available").status == "ambiguous"
    data = look_up(Tree(plain_upstream), "Platform").to_data()
    assert data["status"] == "found" and data["matches"][0]["path"] == "vllm/platforms/interface.py"


def test_key_symbols_are_found_in_their_target(plain_upstream: Path):
    from phase17.notes.guide import load_reading_list

    cpu = load_reading_list().targets[2]
    found = {lookup.ref: lookup.status for lookup in locate_key_symbols(Tree(plain_upstream), cpu)}
    assert found["CpuPlatform.check_and_update_config"] == "found"
    assert set(found.values()) <= {"found", "missing"}


def test_python_files_are_sorted_and_skip_caches(plain_upstream: Path):
    (plain_upstream / "vllm" / "__pycache__").mkdir(exist_ok=True)
    (plain_upstream / "vllm" / "__pycache__" / "x.py").write_text("y = 1\n")
    files = list(python_files(Tree(plain_upstream), "vllm/platforms"))
    assert files == sorted(files) and "vllm/platforms/cpu.py" in files
    assert not any("__pycache__" in path for path in python_files(Tree(plain_upstream)))


def test_a_bare_name_lists_every_definition_ending_with_it(plain_upstream: Path):
    lookup = look_up(Tree(plain_upstream), "get_attn_backend_cls")
    assert lookup.status == "choices"
    assert [symbol.qualname for symbol in lookup.matches] == [
        "CpuPlatform.get_attn_backend_cls",
        "CudaPlatformBase.get_attn_backend_cls",
        "Platform.get_attn_backend_cls",
    ]
    narrowed = look_up(Tree(plain_upstream), "get_attn_backend_cls", within=("vllm/platforms/cpu.py",))
    assert narrowed.status == "found" and narrowed.matches[0].qualname == "CpuPlatform.get_attn_backend_cls"
    # whole name parts only: `Platform.get_attn_backend_cls` is Platform's alone, never CpuPlatform's
    exact = look_up(Tree(plain_upstream), "Platform.get_attn_backend_cls")
    assert [symbol.qualname for symbol in exact.matches] == ["Platform.get_attn_backend_cls"]


def test_a_name_that_matches_nothing_gets_close_names(plain_upstream: Path):
    lookup = look_up(Tree(plain_upstream), "get_atn_backend_cls")
    assert lookup.status == "missing"
    assert lookup.suggestions[0].endswith("get_attn_backend_cls")
    words = look_up(Tree(plain_upstream), "CudaPlatform.attn_backend")
    assert any(name.endswith("get_attn_backend_cls") for name in words.suggestions)
    assert look_up(Tree(plain_upstream), "zzzzqqqq").suggestions == ()


def test_the_names_a_did_you_mean_compares_are_kept_until_the_tree_changes(plain_upstream: Path, monkeypatch):
    from phase17.index import symbolindex

    reads: list[tuple[str, ...]] = []
    read_every_name = symbolindex.all_qualnames

    def counted(upstream: Path, under=("",)):
        reads.append(tuple(under))
        return read_every_name(upstream, under)

    monkeypatch.setattr(symbolindex, "all_qualnames", counted)
    assert look_up(Tree(plain_upstream), "get_atn_backend_cls").suggestions
    assert look_up(Tree(plain_upstream), "get_atn_backend_cls").suggestions[0].endswith("get_attn_backend_cls")
    assert len(reads) == 1  # kept: every name of the tree is read once
    (plain_upstream / "vllm" / "extra.py").write_text("def get_atn_backend_clz():\n    pass\n", encoding="utf-8")
    assert "get_atn_backend_clz" in look_up(Tree(plain_upstream), "get_atn_backend_cls").suggestions
    assert len(reads) == 2  # the tree changed: read again


def test_a_tree_parses_a_file_once_and_a_new_tree_sees_it_changed(plain_upstream: Path, monkeypatch):
    from phase17.index import lookup

    parsed: list[str] = []
    real = lookup.parse_definitions
    monkeypatch.setattr(lookup, "parse_definitions", lambda data, path: parsed.append(path) or real(data, path))
    tree = Tree(plain_upstream)
    first = lookup.file_definitions(tree, "vllm/platforms/cpu.py")
    assert lookup.file_definitions(tree, "vllm/platforms/cpu.py") == first and parsed == ["vllm/platforms/cpu.py"]
    cpu = plain_upstream / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(cpu.read_text() + "\n\nclass AddedLater:\n    pass\n")
    again = Tree(plain_upstream)  # the next command's tree: nothing kept from the first
    assert "AddedLater" in {symbol.qualname for symbol in lookup.file_definitions(again, "vllm/platforms/cpu.py")}
    assert tree.definitions and again.definitions is not tree.definitions
