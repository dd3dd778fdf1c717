"""instruments/backends.py: the attention backends each platform's get_attn_backend_cls names, by condition, in
its order, through the class's helpers and the module's functions."""

from __future__ import annotations

from pathlib import Path

from phase17.index.tree import Tree
from phase17.instruments.backends import attention_backends, by_condition
from phase17.instruments.contract import build_contract

INTERFACE = """\
class Platform:
    @classmethod
    def get_attn_backend_cls(cls, selected_backend, attn_selector_config, num_heads=None) -> str:
        return ""
"""

CPU = """\
from vllm.platforms.interface import Platform
from vllm.v1.attention.backends.registry import AttentionBackendEnum


class CpuPlatform(Platform):
    @classmethod
    def get_attn_backend_cls(cls, selected_backend, attn_selector_config, num_heads=None) -> str:
        if attn_selector_config.use_mla:
            raise NotImplementedError("MLA is not supported on CPU.")
        return AttentionBackendEnum.CPU_ATTN.get_path()
"""

CUDA = """\
from vllm.platforms.interface import Platform
from vllm.v1.attention.backends.registry import AttentionBackendEnum


def _priorities(use_mla):
    if use_mla:
        return [AttentionBackendEnum.FLASHMLA, AttentionBackendEnum.TRITON_MLA]
    return [AttentionBackendEnum.FLASH_ATTN, AttentionBackendEnum.FLASHINFER]


class CudaPlatformBase(Platform):
    @classmethod
    def get_valid_backends(cls, config):
        return [backend for backend in _priorities(config.use_mla) if backend]

    @classmethod
    def get_attn_backend_cls(cls, selected_backend, attn_selector_config, num_heads=None) -> str:
        if selected_backend is not None:
            return selected_backend.get_path()
        return cls.get_valid_backends(attn_selector_config)[0].get_path()
"""


def test_each_platform_names_its_backends_by_condition_in_its_order(tmp_path: Path):
    root = tmp_path / "tree"
    (root / "vllm" / "platforms").mkdir(parents=True)
    for name, text in (("interface", INTERFACE), ("cpu", CPU), ("cuda", CUDA)):
        (root / "vllm" / "platforms" / f"{name}.py").write_text(text)
    contract = build_contract(Tree(root))
    found = attention_backends(Tree(root), [contract.base, *contract.platforms])
    assert found["Platform"] == ()
    assert by_condition(found["CpuPlatform"]) == [("not (attn_selector_config.use_mla)", ["CPU_ATTN"])]
    assert by_condition(found["CudaPlatformBase"]) == [
        # past `if selected_backend is not None: return ...`, and the helper's own tests where it names them
        ("not (selected_backend is not None) and use_mla", ["FLASHMLA", "TRITON_MLA"]),
        ("not (selected_backend is not None) and not (use_mla)", ["FLASH_ATTN", "FLASHINFER"]),
    ]
    (first,) = [choice for choice in found["CudaPlatformBase"] if choice.backend == "FLASHMLA"]
    assert (first.line, first.via) == (7, "_priorities")
