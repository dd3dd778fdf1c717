"""pluginlab: from a plugin's entry point to its platform class through the idioms real plugins use, each class
judged against what it really inherits, the plugin's own stubs, and release by release."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lab import RELEASE_A, by_key, plugin_folder, sites, wheel_of

from phase17.pluginlab.check import Release, check_plugin
from phase17.pluginlab.findings import FINDING_KINDS, PluginReport
from phase17.pluginlab.source import open_plugin


def _check(name: str, releases: tuple[Release, ...], tmp_path: Path, changes=None) -> PluginReport:
    return check_plugin(open_plugin(str(plugin_folder(name)), tmp_path / "cache"), releases, changes)


@pytest.mark.parametrize(
    ("plugin", "classes", "named_at"),
    [
        # `CondPlatform = FastPlatform if HAVE_FAST else SlowPlatform`: either may be the one; each is checked
        ("conditional", ["cond_plugin.platform.FastPlatform", "cond_plugin.platform.SlowPlatform"], "__init__.py:2"),
        # the entry point's function itself served by the module's __getattr__, among other names
        ("lazy", ["lazy_plugin.platform.LazyPlatform"], "lazy_plugin/__init__.py:18"),
        # f"{C.__module__}.{C.__qualname__}" for a class imported through a package's re-export
        ("fstring", ["fstr_plugin.platforms.device.FstrPlatform"], "fstr_plugin/entry.py:4"),
        # ".".join([C.__module__, C.__name__]) in a src/ layout, below a namespace package
        ("joined", ["acme.joined_plugin.platform.JoinedPlatform"], "src/acme/joined_plugin/__init__.py:5"),
    ],
)
def test_each_idiom_leads_to_its_platform_class(
    plugin: str, classes: list[str], named_at: str, releases: tuple[Release, Release], tmp_path: Path
):
    report = _check(plugin, releases[:1], tmp_path)
    assert [item.qualname for item in report.classes] == classes
    assert all(named_at in item.found for item in report.classes), [item.found for item in report.classes]
    assert all(item.derives_platform for item in report.classes)
    assert not report.unread, report.unread


def test_a_wheel_keeping_its_package_under_data_purelib_returns_a_classmethods_result(
    releases: tuple[Release, Release], tmp_path: Path
):
    wheel = wheel_of(plugin_folder("datawheel"), tmp_path / "datawheel_plugin-1.0-py3-none-any.whl")
    report = check_plugin(open_plugin(str(wheel), tmp_path / "cache"), releases[:1])
    (found,) = report.classes
    assert found.qualname == "datawheel_plugin.platform.DataPlatform"
    assert found.where == "datawheel_plugin-1.0.data/purelib/datawheel_plugin/platform.py:8"
    assert "datawheel_plugin/platform.py:5" in found.found  # the literal the helper function returns
    assert (report.plugin, report.version) == ("datawheel_plugin", "1.0")


def test_a_computed_choice_checks_every_platform_subclass_and_says_it_was_not_read(
    releases: tuple[Release, Release], tmp_path: Path
):
    report = _check("computed", releases[:1], tmp_path)
    assert sorted(item.qualname for item in report.classes) == [
        "comp_plugin.other.CompPlatformV2",
        "comp_plugin.platform.CompPlatform",
    ]
    assert any("comp_plugin/__init__.py:5" in line and "run time" in line for line in report.unread), report.unread
    assert any("could not be read; every Platform subclass" in line for line in report.unread)
    assert json.loads(json.dumps(report.to_data()))["classes"]  # one JSON object, classes and all


def test_a_plugin_built_on_an_in_tree_platform_is_judged_against_it(releases: tuple[Release, Release], tmp_path: Path):
    report = _check("cpu_based", releases[:1], tmp_path)
    found = by_key(report)
    (cls,) = report.classes
    assert [step.split(" ")[0] for step in cls.lineage] == ["CpuishPlatform", "CpuPlatform", "Platform"]
    # CpuPlatform implements these: nothing is inherited from Platform's NotImplementedError or empty answer
    for name in ("get_device_name", "manual_seed_all", "get_attn_backend_cls"):
        assert (name, "not-implemented") not in found, found.get((name, "not-implemented"))
    assert (("device_name", "attribute"),) and found[("device_name", "attribute")][0].message == (
        'device_name: inherited from CpuPlatform, = "cpu"'
    )
    (kind,) = found[("device_type", "kind")]  # a property where CpuPlatform has an attribute
    assert kind.severity == "warning" and 'it is "cuda"' in kind.message and kind.where == "cpu_plugin/platform.py:11"
    (value,) = found[("device_type", "attribute")]
    assert value.message == 'device_type: a property returning "cuda"'
    (enum,) = found[("_enum", "enum")]
    assert "is_cuda(), is_cuda_alike() answer True" in enum.message and enum.severity == "info"
    assert sites(enum) == {("v0.1", "vllm/engine.py", 14)}
    assert not report.fails


def test_the_plugins_own_stubs_are_errors_at_the_engines_call(releases: tuple[Release, Release], tmp_path: Path):
    report = _check("stubs", releases[:1], tmp_path)
    found = by_key(report)
    (raises,) = found[("get_device_name", "stub")]
    assert (raises.severity, raises.where) == ("error", "stub_plugin/platform.py:12")
    assert sites(raises) == {("v0.1", "vllm/engine.py", 15)}
    (empty,) = found[("get_attn_backend_cls", "stub")]  # super()'s "", which the engine raises on
    assert empty.severity == "error" and 'super()\'s ""' in empty.message
    assert {(site.path, site.line, site.role) for site in empty.sites} == {("vllm/engine.py", 7, "refusal")}
    (caught,) = found[("get_device_total_memory", "stub")]  # called only inside `try: ... except Exception`
    assert caught.severity == "info" and "inside a `try`" in caught.message
    assert ("manual_seed_all", "stub") not in found  # does nothing, as Platform's annotation (None) says
    assert ("get_device_uuid", "stub") not in found  # returns None, but the engine never asks at v0.1
    assert report.fails and {finding.kind for finding in report.findings} <= set(FINDING_KINDS)


def test_a_class_that_is_no_platform_lacks_what_the_engine_calls(releases: tuple[Release, Release], tmp_path: Path):
    report = _check("duck", releases[:1], tmp_path)
    found = by_key(report)
    assert found[("", "base")][0].severity == "warning"
    assert {name for name, kind in found if kind == "missing"} == {
        "get_attn_backend_cls",
        "manual_seed_all",
        "check_and_update_config",
        "old_style_hook",
        "dropped_hook",
    }  # not get_device_total_memory: the engine catches what it raises
    (missing,) = found[("manual_seed_all", "missing")]
    assert missing.severity == "error" and sites(missing) == {("v0.1", "vllm/engine.py", 13)}


def test_against_a_release_each_finding_carries_its_releases_and_sites(
    releases: tuple[Release, Release], changes, tmp_path: Path
):
    report = _check("renames", releases, tmp_path, changes)
    found = by_key(report)
    (call,) = [finding for finding in found[("get_attn_backend_cls", "call")] if "num_heads" in finding.message]
    assert call.releases == ("v0.1", "v0.2")  # true at both: shown once, with each release's call site
    assert sites(call) == {("v0.1", "vllm/engine.py", 5), ("v0.2", "vllm/engine.py", 12)}
    (renamed,) = found[("old_style_hook", "renamed")]
    assert (renamed.severity, renamed.releases, renamed.successor) == ("error", ("v0.2",), "new_style_hook")
    (removed,) = found[("dropped_hook", "removed")]
    assert (removed.severity, removed.releases) == ("warning", ("v0.2",))
    (helper,) = found[("register_specs", "overrides-nothing")]
    assert helper.releases == ("v0.1",)
    (hook,) = found[("register_specs", "becomes-hook")]
    assert (
        hook.releases == ("v0.2",) and hook.message == "becomes a hook at v0.2: now overrides Platform.register_specs"
    )
    (uuid,) = found[("get_device_uuid", "not-implemented")][-1:]
    assert [item.releases for item in found[("get_device_uuid", "not-implemented")]] == [("v0.1",), ("v0.2",)]
    assert uuid.severity == "warning" and sites(uuid) == {("v0.2", "vllm/engine.py", 29)}
    assert report.releases == ["v0.1", "v0.2"] and len(report.errors_at("v0.2")) == 3


def test_a_plugins_source_never_runs(tmp_path: Path, releases: tuple[Release, Release]):
    root = tmp_path / "plugin"
    (root / "boom").mkdir(parents=True)
    marker = tmp_path / "ran"
    (root / "setup.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nfrom setuptools import setup\n"
        "setup(entry_points={'vllm.platform_plugins': ['b = boom:register']})\n"
    )
    (root / "boom" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n\ndef register():\n    return 'boom.platform.BoomPlatform'\n"
    )
    (root / "boom" / "platform.py").write_text(
        "from vllm.platforms.interface import Platform\n\nclass BoomPlatform(Platform):\n    pass\n"
    )
    report = check_plugin(open_plugin(str(root), tmp_path / "cache"), releases[:1])
    assert [item.qualname for item in report.classes] == ["boom.platform.BoomPlatform"]
    assert not marker.exists()


def test_the_upstream_fixture_is_the_one_the_tests_name():
    # the line numbers asserted above are these files' own
    engine = (RELEASE_A / "vllm" / "engine.py").read_text().splitlines()
    assert "get_attn_backend_cls" in engine[4] and "raise ValueError" in engine[6] and "get_device_name" in engine[14]
