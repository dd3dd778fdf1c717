"""instruments/plugin_check.py and plugin_source.py: an out-of-tree platform plugin met with the contract, from a
folder, a wheel or an sdist, never installed or run; hostile archives refused."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from phase17.errors import ArchiveError
from phase17.pluginlab.check import FINDING_KINDS, check_plugin
from phase17.pluginlab.source import PluginError, entry_points, open_plugin, registered_class
from phase17.pluginlab.template import write_plugin

INTERFACE = '''\
class Platform:
    device_name: str
    device_type: str
    dist_backend: str = ""

    @classmethod
    def get_attn_backend_cls(cls, selected_backend, head_size, *, use_mla=False) -> str:
        """The attention backend's qualified name."""
        return "flash"

    @classmethod
    def get_device_name(cls, device_id: int = 0) -> str:
        raise NotImplementedError

    @classmethod
    def set_device(cls, device) -> None:
        raise NotImplementedError

    @classmethod
    def check_and_update_config(cls, vllm_config) -> None:
        pass
'''

ENGINE = """\
from vllm.platforms import current_platform


def start(config):
    current_platform.check_and_update_config(config)
    backend = current_platform.get_attn_backend_cls("flash", 64, use_mla=True)
    return backend, current_platform.get_device_name()
"""

PYPROJECT = """\
[project]
name = "vllm-mydev"
version = "1.2.0"

[project.entry-points."vllm.platform_plugins"]
mydev = "vllm_mydev:register"
"""

INIT = """\
def register():
    name = "vllm_mydev.platform.MyPlatform"
    return name
"""

BASE = """\
from vllm.platforms.interface import Platform


class MyBase(Platform):
    device_type = "mydev"

    def _helper_x(self):
        return 1
"""

PLATFORM = """\
from .base import MyBase


class MyPlatform(MyBase):
    @classmethod
    def get_attn_backend_cls(cls, selected_backend, head_size) -> str:
        return "mydev_attn"

    def check_and_update_config(self, vllm_config) -> None:
        self._helper_x()

    @classmethod
    def old_hook(cls) -> None:
        pass
"""


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    root = tmp_path / "upstream"
    (root / "vllm" / "platforms").mkdir(parents=True)
    (root / "vllm" / "platforms" / "interface.py").write_text(INTERFACE)
    (root / "vllm" / "engine.py").write_text(ENGINE)
    return root


def _plugin_files() -> dict[str, str]:
    return {
        "pyproject.toml": PYPROJECT,
        "vllm_mydev/__init__.py": INIT,
        "vllm_mydev/base.py": BASE,
        "vllm_mydev/platform.py": PLATFORM,
    }


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    root = tmp_path / "vllm-mydev"
    for relative, text in _plugin_files().items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def _kinds(report) -> set[tuple[str, str, str]]:
    return {(finding.member, finding.kind, finding.severity) for finding in report.findings}


def test_each_kind_of_finding_on_a_plugin_folder(upstream: Path, plugin: Path, tmp_path: Path):
    report = check_plugin(upstream, open_plugin(str(plugin), tmp_path / "cache"))
    assert (report.plugin, report.version) == ("vllm-mydev", "1.2.0")
    assert report.platform_classes == ["vllm_mydev.platform.MyPlatform"]
    kinds = _kinds(report)
    assert ("get_attn_backend_cls", "call", "error") in kinds  # use_mla=True: a TypeError at run time
    assert ("get_attn_backend_cls", "signature", "warning") in kinds
    assert ("check_and_update_config", "decorator", "warning") in kinds
    assert ("get_device_name", "not-implemented", "warning") in kinds
    assert ("set_device", "not-implemented", "warning") in kinds
    assert ("old_hook", "overrides-nothing", "warning") in kinds  # nothing calls it
    assert ("_helper_x", "overrides-nothing", "info") in kinds  # the plugin calls it itself
    assert ("device_type", "attribute", "info") in kinds and ("device_name", "attribute", "warning") in kinds
    call = next(finding for finding in report.findings if finding.kind == "call")
    assert call.site == "vllm/engine.py:6" and "use_mla" in call.message
    assert report.fails and {finding.kind for finding in report.findings} <= set(FINDING_KINDS)


def test_a_wheel_and_an_sdist_give_the_same_findings_as_the_folder(upstream: Path, plugin: Path, tmp_path: Path):
    folder = check_plugin(upstream, open_plugin(str(plugin), tmp_path / "cache")).to_data()
    wheel = tmp_path / "vllm_mydev-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as bundle:
        for relative, text in _plugin_files().items():
            if relative != "pyproject.toml":
                bundle.writestr(relative, text)
        bundle.writestr(
            "vllm_mydev-1.2.0.dist-info/entry_points.txt", "[vllm.platform_plugins]\nmydev = vllm_mydev:register\n"
        )
    from_wheel = check_plugin(upstream, open_plugin(str(wheel), tmp_path / "cache")).to_data()
    sdist = tmp_path / "vllm_mydev-1.2.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for relative, text in _plugin_files().items():
            data = text.encode()
            member = tarfile.TarInfo(f"vllm_mydev-1.2.0/{relative}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    from_sdist = check_plugin(upstream, open_plugin(str(sdist), tmp_path / "cache")).to_data()
    assert from_wheel["entry_points"][0]["path"] == "vllm_mydev-1.2.0.dist-info/entry_points.txt"
    assert from_wheel["findings"] == folder["findings"] == from_sdist["findings"]
    assert (from_wheel["version"], from_sdist["version"]) == ("1.2.0", "1.2.0")


@pytest.mark.parametrize(
    ("member", "reason"),
    [("../outside.py", "would leave its folder"), ("/etc/passwd", "an absolute or Windows path")],
)
def test_a_hostile_wheel_is_refused_before_anything_is_written(tmp_path: Path, member: str, reason: str):
    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as bundle:
        bundle.writestr(member, "x = 1\n")
    with pytest.raises(ArchiveError, match=reason):
        open_plugin(str(wheel), tmp_path / "cache")
    assert not (tmp_path / "outside.py").exists()
    assert not any((tmp_path / "cache" / "plugins").glob("*/**/*.py"))


def test_a_link_in_a_wheel_is_refused(tmp_path: Path):
    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as bundle:
        link = zipfile.ZipInfo("evil/link.py")
        link.external_attr = 0o120777 << 16  # a symlink
        bundle.writestr(link, "/etc/passwd")
    with pytest.raises(ArchiveError, match="is a link or device"):
        open_plugin(str(wheel), tmp_path / "cache")


def test_what_is_not_a_plugin_is_one_clear_error(upstream: Path, plugin: Path, tmp_path: Path):
    with pytest.raises(PluginError, match="nor NAME==VERSION"):
        open_plugin("not a plugin", tmp_path / "cache")
    (plugin / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(PluginError, match="no entry point"):
        check_plugin(upstream, open_plugin(str(plugin), tmp_path / "cache"))
    (plugin / "pyproject.toml").write_text(PYPROJECT)
    (plugin / "vllm_mydev" / "base.py").write_text(BASE.replace("(Platform)", "(object)"))
    with pytest.raises(PluginError, match="not a subclass of vLLM's Platform"):
        check_plugin(upstream, open_plugin(str(plugin), tmp_path / "cache"))
    (plugin / "vllm_mydev" / "__init__.py").write_text("def register():\n    return compute_it()\n")
    with pytest.raises(PluginError, match="computes its answer"):
        registered_class(plugin, entry_points(plugin)[0])


def test_setup_py_and_setup_cfg_are_read_never_run(tmp_path: Path):
    root = tmp_path / "plugin"
    root.mkdir()
    marker = tmp_path / "ran"
    (root / "setup.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nfrom setuptools import setup\n"
        "setup(entry_points={'vllm.platform_plugins': ['a = pkg:register']})\n"
    )
    (root / "setup.cfg").write_text("[options.entry_points]\nvllm.general_plugins =\n    b = pkg:general\n")
    found = {(entry.group, entry.name, entry.value) for entry in entry_points(root)}
    assert found == {("vllm.platform_plugins", "a", "pkg:register"), ("vllm.general_plugins", "b", "pkg:general")}
    assert not marker.exists()


def test_a_new_plugin_checks_clean_and_lists_its_entry_point(upstream: Path, tmp_path: Path):
    folder = write_plugin(upstream, "my_device", tmp_path / "my_device")
    report = check_plugin(upstream, open_plugin(str(folder), tmp_path / "cache"))
    assert report.platform_classes == ["my_device_plugin.platform.MyDevicePlatform"]
    assert not [finding for finding in report.findings if finding.severity != "info"], report.findings
    with pytest.raises(Exception, match="exists"):
        write_plugin(upstream, "my_device", folder)


@pytest.mark.slow
@pytest.mark.network  # pip fetches setuptools for the build
def test_a_new_plugin_installs_and_registers_its_entry_point(upstream: Path, tmp_path: Path):
    folder = write_plugin(upstream, "my_device", tmp_path / "my_device")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(folder)], check=True)
    listed = subprocess.run(
        [
            str(python),
            "-c",
            "import json; from importlib.metadata import entry_points; "
            "print(json.dumps([[e.name, e.value] for e in entry_points(group='vllm.platform_plugins')]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(listed.stdout) == [["my_device", "my_device_plugin:register"]]
