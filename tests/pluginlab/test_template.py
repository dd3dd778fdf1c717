"""pluginlab/template.py: `plugins new` writes the least a device plugin needs, each hook a TODO the check lists
as what is left to do; filled in, it checks clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from phase17.pluginlab.check import Release, check_plugin
from phase17.pluginlab.source import open_plugin
from phase17.pluginlab.template import write_plugin

# What a device would answer, by the hook's return annotation.
FILLED = {"str": '"my_device_plugin.attention.Backend"', "None": "None", "int": "1", "float": "0.0"}


def test_a_new_plugin_lists_its_todos_then_checks_clean_once_they_are_done(
    releases: tuple[Release, Release], tmp_path: Path
):
    written = write_plugin(releases[0].upstream, "my_device", tmp_path / "my_device")
    # the hooks the engine calls, outside a try that catches the failure, that Platform leaves unimplemented
    assert written.hooks == ("get_attn_backend_cls", "get_device_name", "manual_seed_all")
    report = check_plugin(open_plugin(str(written.folder), tmp_path / "cache"), releases[:1])
    to_do = sorted(
        finding.member for finding in report.findings if finding.kind == "stub" and finding.severity == "error"
    )
    assert to_do == sorted(written.hooks) and report.fails
    platform = written.folder / "my_device_plugin" / "platform.py"
    text = platform.read_text()
    for name in written.hooks:
        returns = re.search(rf"def {name}\(.*\) -> (\w+):", text).group(1)
        text = text.replace(f'raise NotImplementedError("TODO: MyDevicePlatform.{name}")', f"return {FILLED[returns]}")
    platform.write_text(text)
    report = check_plugin(open_plugin(str(written.folder), tmp_path / "cache"), releases[:1])
    assert not [finding for finding in report.findings if finding.severity != "info"], report.findings
    with pytest.raises(Exception, match="exists"):
        write_plugin(releases[0].upstream, "my_device", written.folder)


@pytest.mark.slow
@pytest.mark.network  # pip fetches setuptools for the build
def test_a_new_plugin_installs_and_registers_its_entry_point(releases: tuple[Release, Release], tmp_path: Path):
    folder = write_plugin(releases[0].upstream, "my_device", tmp_path / "my_device").folder
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
