"""instruments/material.py: upstream's own design docs, example plugins and tests, found by reading the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from phase17.index.tree import Tree
from phase17.instruments.material import design_docs, example_plugins, gather_material
from phase17.instruments.plugins import plugins_report

SETUP = """\
from setuptools import setup

setup(
    name="vllm_add_dummy_platform",
    entry_points={
        "vllm.platform_plugins": [
            "dummy_platform_plugin = vllm_add_dummy_platform:dummy_platform_plugin"  # noqa
        ],
        "vllm.general_plugins": ["dummy_custom_ops = vllm_add_dummy_platform:register_ops"],
    },
)
"""

PYPROJECT = """\
[project]
name = "stat-logger"

[project.entry-points."vllm.stat_logger_plugins"]
dummy_stat_logger = "dummy_stat_logger:DummyStatLogger"
"""

PLUGINS = """\
from importlib.metadata import entry_points

DEFAULT_PLUGINS_GROUP = "vllm.general_plugins"
PLATFORM_PLUGINS_GROUP = "vllm.platform_plugins"
IO_PROCESSOR_PLUGINS_GROUP = "vllm.io_processor_plugins"


def load_plugins_by_group(group):
    return {plugin.name: plugin.load() for plugin in entry_points(group=group)}


def load_general_plugins():
    return load_plugins_by_group(DEFAULT_PLUGINS_GROUP)


def get_io_processor():
    return entry_points(group=IO_PROCESSOR_PLUGINS_GROUP)
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "vllm" / "plugins").mkdir(parents=True)
    (root / "vllm" / "plugins" / "__init__.py").write_text(PLUGINS)
    (root / "docs" / "design").mkdir(parents=True)
    (root / "docs" / "design" / "plugin_system.md").write_text(
        "# Plugin System\n\nIntro.\n\nPlatforms register in `vllm.platform_plugins`; see load_general_plugins.\n"
    )
    (root / "docs" / "design" / "other.md").write_text("# Other\n\nload_general_plugins_extra is another name.\n")
    platform = root / "tests" / "plugins" / "vllm_add_dummy_platform"
    platform.mkdir(parents=True)
    (platform / "setup.py").write_text(SETUP)
    logger = root / "tests" / "plugins" / "dummy_stat_logger"
    logger.mkdir(parents=True)
    (logger / "pyproject.toml").write_text(PYPROJECT)
    (root / "tests" / "test_plugins.py").write_text(
        "from vllm.plugins import load_general_plugins\n\n\ndef test_it():\n    load_general_plugins()\n"
    )
    return root


def test_design_docs_are_found_by_whole_names_with_the_first_line(tree: Path):
    docs = design_docs(Tree(tree), ["load_general_plugins", "vllm.platform_plugins"])
    assert [(doc.path, doc.line, doc.title, doc.names) for doc in docs] == [
        ("docs/design/plugin_system.md", 5, "Plugin System", ("load_general_plugins", "vllm.platform_plugins"))
    ]


def test_example_plugins_are_read_from_setup_py_and_pyproject_never_run(tree: Path):
    found = [(item.folder, item.group, item.entry, item.line) for item in example_plugins(Tree(tree))]
    assert found == [
        (
            "tests/plugins/dummy_stat_logger",
            "vllm.stat_logger_plugins",
            "dummy_stat_logger = dummy_stat_logger:DummyStatLogger",
            5,
        ),
        (
            "tests/plugins/vllm_add_dummy_platform",
            "vllm.platform_plugins",
            "dummy_platform_plugin = vllm_add_dummy_platform:dummy_platform_plugin",
            7,
        ),
        (
            "tests/plugins/vllm_add_dummy_platform",
            "vllm.general_plugins",
            "dummy_custom_ops = vllm_add_dummy_platform:register_ops",
            9,
        ),
    ]


def test_tests_that_call_a_name_skip_its_import(tree: Path):
    material = gather_material(Tree(tree), ["load_general_plugins"], groups=("vllm.platform_plugins",))
    assert [(site.path, site.line) for site in material.tests] == [("tests/test_plugins.py", 5)]
    assert [item.group for item in material.examples] == ["vllm.platform_plugins"]


def test_plugins_shows_the_material_and_every_entry_points_load_site(tree: Path):
    report = plugins_report(Tree(tree))
    loaded = {group.value: [(site.enclosing, site.line) for site in group.loaded_at] for group in report.groups}
    assert loaded["vllm.general_plugins"] == [("load_general_plugins", 13)]
    assert loaded["vllm.io_processor_plugins"] == [("get_io_processor", 17)]  # entry_points(group=...) directly
    data = report.to_data()["material"]
    assert data["design_docs"][0]["path"] == "docs/design/plugin_system.md"
    assert {item["folder"] for item in data["example_plugins"]} == {
        "tests/plugins/dummy_stat_logger",
        "tests/plugins/vllm_add_dummy_platform",
    }
