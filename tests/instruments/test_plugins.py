"""plugins.py: plugin groups, their load sites, builtin platform plugins and the entry point to copy."""

from __future__ import annotations

from pathlib import Path

from phase17.index.tree import Tree
from phase17.instruments.plugins import plugins_report

PLUGINS = """\
GENERAL_PLUGINS_GROUP = "acme.general_plugins"
PLATFORM_PLUGINS_GROUP = "acme.platform_plugins"
# NOT_A_PLUGINS_GROUP = "in a comment"


def load_plugins_by_group(group: str) -> dict:
    return {}


def load_general_plugins():
    plugins = load_plugins_by_group(group=GENERAL_PLUGINS_GROUP)
    return plugins
"""

PLATFORMS = """\
from acme.plugins import PLATFORM_PLUGINS_GROUP, load_plugins_by_group


def gpu_platform_plugin():
    return "acme.platforms.gpu.GpuPlatform"


def cpu_platform_plugin():
    return "acme.platforms.cpu.CpuPlatform"


builtin_platform_plugins = {
    "gpu": gpu_platform_plugin,
    "cpu": cpu_platform_plugin,
}


def choose_platform():
    external = load_plugins_by_group(
        PLATFORM_PLUGINS_GROUP
    )
    for name, plugin in builtin_platform_plugins.items():
        if plugin():
            return name
"""


def test_groups_load_sites_builtin_plugins_and_the_chooser_are_read_from_the_tree(tmp_path: Path):
    root = tmp_path / "tree"
    (root / "acme" / "plugins").mkdir(parents=True)
    (root / "acme" / "platforms").mkdir(parents=True)
    (root / "acme" / "plugins" / "__init__.py").write_text(PLUGINS)
    (root / "acme" / "platforms" / "__init__.py").write_text(PLATFORMS)
    report = plugins_report(Tree(root), under=("acme",))
    groups = {group.constant: group for group in report.groups}
    assert set(groups) == {"GENERAL_PLUGINS_GROUP", "PLATFORM_PLUGINS_GROUP"}
    platform = groups["PLATFORM_PLUGINS_GROUP"]
    assert (platform.value, platform.line) == ("acme.platform_plugins", 2)
    assert [(site.path, site.line, site.enclosing) for site in platform.loaded_at] == [
        ("acme/platforms/__init__.py", 19, "choose_platform")
    ]
    assert [(site.line, site.enclosing) for site in groups["GENERAL_PLUGINS_GROUP"].loaded_at] == [
        (11, "load_general_plugins")
    ]
    assert [(key, function, site.line) for key, function, site in report.builtin_platforms] == [
        ("gpu", "gpu_platform_plugin", 4),
        ("cpu", "cpu_platform_plugin", 8),
    ]
    assert [site.enclosing for site in report.chooser] == ["choose_platform"]
    example = report.entry_point_example()
    assert example is not None and example.startswith('[project.entry-points."acme.platform_plugins"]')


def test_every_group_a_loading_call_names_is_a_group_however_it_is_spelled(tmp_path: Path):
    # upstream's fifth group: `LOGITSPROCS_GROUP = "vllm.logits_processors"`, read with entry_points(group=...),
    # and once more by its string alone
    root = tmp_path / "tree"
    (root / "acme" / "plugins").mkdir(parents=True)
    (root / "acme" / "plugins" / "__init__.py").write_text(PLUGINS)
    (root / "acme" / "sample.py").write_text(
        'LOGITSPROCS_GROUP = "acme.logits_processors"\nLOG_LEVEL = "INFO"\n\n\n'
        "def load_logitsprocs():\n    from importlib.metadata import entry_points\n\n"
        "    return entry_points(group=LOGITSPROCS_GROUP)\n"
    )
    (root / "acme" / "config.py").write_text(
        "def unsupported():\n    from importlib.metadata import entry_points\n\n"
        '    return list(entry_points(group="acme.logits_processors"))\n'
    )
    report = plugins_report(Tree(root), under=("acme",))
    groups = {group.value: group for group in report.groups}
    assert set(groups) == {"acme.general_plugins", "acme.platform_plugins", "acme.logits_processors"}
    logits = groups["acme.logits_processors"]
    assert (logits.constant, logits.path, logits.line) == ("LOGITSPROCS_GROUP", "acme/sample.py", 1)
    assert [(site.path, site.line) for site in logits.loaded_at] == [("acme/config.py", 4), ("acme/sample.py", 8)]
