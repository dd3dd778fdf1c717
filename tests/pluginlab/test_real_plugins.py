"""The plugin lab on every real platform plugin the package index carries (each project whose wheel or sdist
registers a `vllm.platform_plugins` entry point; scripts/find_platform_plugins.py finds them), at the real pin:
each is read, its platform class found, and each error is where it says in the plugin's own code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from phase17.index.tree import Tree
from phase17.pluginlab.check import Release, check_plugin
from phase17.pluginlab.source import open_plugin
from phase17.upstream.pin import load_pin

# Each project's newest final release on 2026-12-06 (name reservations and forks of vLLM itself left out).
REAL_PLATFORM_PLUGINS = {
    "pace-vllm==1.3.0": ["pace_vllm.platform.PacePlatform"],
    "vllm-ascend==0.23.0.post1": ["vllm_ascend.platform.NPUPlatform"],
    "vllm-kunlun==0.11.1": ["vllm_kunlun.platforms.kunlun.KunlunPlatform"],
    "vllm-mblt==0.8.0": ["vllm_mblt.mblt_platform.MbltPlatform"],
    "vllm-metal==0.1.0": ["vllm_metal.platform.MetalPlatform"],
    "vllm-mlx==0.6.0": ["vllm_mlx.vllm_platform.MLXPlatform"],
    "vllm-musa==0.1.1": ["vllm_musa_platform.musa.MtmlMUSAPlatform", "vllm_musa_platform.musa.NonMtmlMUSAPlatform"],
    "vllm-rbln==0.12.0": ["vllm_rbln.platform.RblnPlatform"],
    "vllm-spyre==1.10.0": ["vllm_spyre.platform.SpyrePlatform"],
    "vllm-spyre-next==0.1.0": ["vllm_spyre_next.platform.TorchSpyrePlatform"],
    "vllm-swift==0.6.2": ["vllm_swift.platform.SwiftMetalPlatform"],
    "vllm-torchtpu-core==0.29.0": ["vllm_torchtpu.platforms.tpu_platform.TpuPlatform"],
}


@pytest.mark.network
@pytest.mark.slow
def test_every_real_platform_plugin_is_read_and_each_error_is_where_it_says(real_project: Path, tmp_path: Path):
    pin = load_pin(real_project / "UPSTREAM_PIN.md")
    at_pin = Release(pin.tag, Tree(real_project / "upstream"), pin.commit)
    errors = 0
    for spec, classes in REAL_PLATFORM_PLUGINS.items():
        tree = open_plugin(spec, tmp_path / "cache")  # a refusal would raise here: no plugin is refused
        report = check_plugin(tree, [at_pin])
        assert [item.qualname for item in report.classes] == classes, (spec, report.unread)
        for finding in report.findings:
            if finding.severity != "error":
                continue
            errors += 1
            path, line = finding.where.rsplit(":", 1)  # type: ignore[union-attr]
            written = tree.files.files[path].decode("utf-8", "replace").splitlines()[int(line) - 1]
            own = rf"def {re.escape(finding.member)}\b|{re.escape(finding.member)}\s*[:=]"
            assert re.search(own, written) or re.search(rf"class {re.escape(finding.cls)}\b", written), (
                spec,
                finding,
                written,
            )
            assert finding.sites, (spec, finding)  # and the engine's line that makes it an error
    assert errors >= 4  # musa's and metal's missing num_heads=, mblt's validate_request, mlx's missing members
