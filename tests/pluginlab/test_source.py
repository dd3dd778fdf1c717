"""pluginlab/source.py and source/metadata.py: a plugin opened from a folder, a wheel, an sdist or the package
index, read once and bounded, its entry points found in one pass; what it cannot read is said, never a traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from lab import plugin_folder, wheel_of

from helpers import publish, serve
from phase17.errors import UnreadableSourceError
from phase17.pluginlab.check import Release, check_plugin
from phase17.pluginlab.source import MAX_FILE_BYTES, PluginError, entry_points, open_plugin
from phase17.source.metadata import pyproject_entry_points, read_toml, setup_cfg_entry_points


def _sdist(folder: Path, archive: Path, top: str) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return archive


def test_a_folder_a_wheel_and_an_sdist_give_the_same_findings(releases: tuple[Release, Release], tmp_path: Path):
    folder = plugin_folder("renames")
    from_folder = check_plugin(open_plugin(str(folder), tmp_path / "cache"), releases[:1]).to_data()
    sdist = _sdist(folder, tmp_path / "ren-plugin-1.0.tar.gz", "ren-plugin-1.0")
    from_sdist = check_plugin(open_plugin(str(sdist), tmp_path / "cache"), releases[:1]).to_data()
    wheel = wheel_of(folder, tmp_path / "ren_plugin-1.0-py3-none-any.whl")
    from_wheel = check_plugin(open_plugin(str(wheel), tmp_path / "cache"), releases[:1]).to_data()
    assert from_folder["findings"] == from_sdist["findings"] == from_wheel["findings"]
    assert [from_folder["source"], from_sdist["source"]] == [str(folder), str(sdist)]


def test_a_name_alone_takes_the_newest_final_release_and_errors_name_what_the_reader_gave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, releases: tuple[Release, Release]
):
    index = tmp_path / "index"
    for version in ("1.0", "2.0", "3.0rc1"):
        source = tmp_path / f"src-{version}"
        (source / "ren_plugin").mkdir(parents=True)
        (source / "pyproject.toml").write_text(
            f'[project]\nname = "ren-plugin"\nversion = "{version}"\n\n[project.entry-points."vllm.platform_plugins"]\n'
            'ren = "ren_plugin.missing:register"\n'
        )
        (source / "ren_plugin" / "__init__.py").write_text("")
        (tmp_path / "dist").mkdir(exist_ok=True)
        archive = _sdist(source, tmp_path / "dist" / f"ren_plugin-{version}.tar.gz", f"ren_plugin-{version}")
        publish(index, archive, project="ren-plugin")
    with serve(index) as url:
        monkeypatch.setenv("PIP_INDEX_URL", url)
        tree = open_plugin("ren-plugin", tmp_path / "cache")
    assert (tree.version, tree.shown) == ("2.0", "ren-plugin==2.0")
    report = check_plugin(tree, releases[:1])
    assert not report.classes and any(
        line.startswith("pyproject.toml:") or "ren_plugin.missing" in line for line in report.unread
    )
    assert all(str(tmp_path / "cache") not in line for line in report.unread), report.unread


def test_a_package_folder_linked_out_of_the_plugin_is_not_read(releases: tuple[Release, Release], tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "ren_plugin").mkdir(parents=True)
    (elsewhere / "ren_plugin" / "__init__.py").write_text('def register():\n    return "ren_plugin.platform.X"\n')
    root = tmp_path / "plugin"
    root.mkdir()
    (root / "pyproject.toml").write_bytes((plugin_folder("renames") / "pyproject.toml").read_bytes())
    (root / "ren_plugin").symlink_to(elsewhere / "ren_plugin")
    tree = open_plugin(str(root), tmp_path / "cache")
    assert "ren_plugin/__init__.py" not in tree.files.files
    assert tree.files.skipped == ["ren_plugin: a link out of the plugin's folder, not followed"]
    first = tree.files.digest()
    (elsewhere / "ren_plugin" / "__init__.py").write_text("changed = True\n")
    assert open_plugin(str(root), tmp_path / "cache").files.digest() == first  # nothing read through the link


def test_a_huge_file_in_a_plugin_is_skipped_without_reading_it(tmp_path: Path):
    root = tmp_path / "plugin"
    root.mkdir()
    (root / "pyproject.toml").write_bytes((plugin_folder("renames") / "pyproject.toml").read_bytes())
    with open(root / "huge.py", "wb") as handle:
        handle.truncate(6 * 1024**3)  # a sparse 6 GiB file: read whole, it would take the memory
    tree = open_plugin(str(root), tmp_path / "cache")
    assert tree.files.skipped == [f"huge.py: larger than {MAX_FILE_BYTES >> 20} MiB, not read"]


def test_a_huge_archive_is_refused_before_it_is_read(tmp_path: Path):
    wheel = tmp_path / "big-1.0-py3-none-any.whl"
    with open(wheel, "wb") as handle:
        handle.truncate(6 * 1024**3)
    with pytest.raises(PluginError, match=r"big-1.0-py3-none-any.whl: 6144 MiB, more than a plugin's 512 MiB"):
        open_plugin(str(wheel), tmp_path / "cache")


def test_metadata_too_deeply_nested_is_one_line(tmp_path: Path):
    deep = b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    with pytest.raises(UnreadableSourceError, match="pyproject.toml: nested too deeply to read"):
        read_toml(deep, "pyproject.toml")
    root = tmp_path / "plugin"
    root.mkdir()
    (root / "pyproject.toml").write_bytes(deep)
    (root / "setup.cfg").write_text("[options.entry_points]\nvllm.platform_plugins =\n    a = a:register\n")
    found, unread = entry_points(open_plugin(str(root), tmp_path / "cache").files)
    assert [(entry.name, entry.path, entry.line) for entry in found] == [("a", "setup.cfg", 3)]
    assert unread == ["pyproject.toml: nested too deeply to read"]


def test_each_entry_points_line_is_its_own_in_one_pass():
    rows = ['[project]\nname = "many"\n\n[project.entry-points."vllm.general_plugins"]']
    rows += [f'entry_{number} = "pkg.module_{number}:register"' for number in range(2000)]
    found = pyproject_entry_points("\n".join(rows).encode())
    assert [(name, line) for _, name, _, line in found[:2]] == [("entry_0", 5), ("entry_1", 6)]
    assert found[-1][3] == 2004
    cfg = "[options.entry_points]\nvllm.general_plugins =\n" + "\n".join(f"    e{n} = m{n}:f" for n in range(500))
    assert [line for *_, line in setup_cfg_entry_points(cfg.encode())][-1] == 502


@pytest.mark.slow
def test_forty_thousand_entry_points_read_in_seconds_not_minutes(tmp_path: Path):
    # A guard against the quadratic line search (97 s before): a child process given 30 s, a hundred times what
    # it needs now; the speed itself is measured in benchmarks/bench.py.
    rows = ['[project.entry-points."g"]'] + [f'entry_{number} = "pkg.m:f{number}"' for number in range(40_000)]
    (tmp_path / "pyproject.toml").write_text("\n".join(rows))
    cfg = "[options.entry_points]\ng =\n" + "\n".join(f"    e{number} = m:f{number}" for number in range(40_000))
    (tmp_path / "setup.cfg").write_text(cfg)
    code = (
        "import sys; from pathlib import Path; from phase17.source.metadata import pyproject_entry_points as p, "
        "setup_cfg_entry_points as c; d = Path(sys.argv[1]); "
        "print(len(p((d / 'pyproject.toml').read_bytes())), len(c((d / 'setup.cfg').read_bytes())))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["40000", "40000"], done.stderr


@pytest.mark.slow
def test_a_deeply_nested_platform_module_is_read_without_a_traceback(releases: tuple[Release, Release], tmp_path: Path):
    root = tmp_path / "plugin"
    (root / "deep_plugin").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "deep"\nversion = "1"\n\n[project.entry-points."vllm.platform_plugins"]\n'
        'deep = "deep_plugin:register"\n'
    )
    (root / "deep_plugin" / "__init__.py").write_text(
        f"X = {'-' * 200_000}1\n\ndef register():\n    return X\n", encoding="utf-8"
    )
    (root / "deep_plugin" / "platform.py").write_text(  # Python's own parser runs out of memory on this
        "from vllm.platforms.interface import Platform\n\n"
        f"LIMIT = {'(' * 200_000}1{')' * 200_000}\n\n\nclass DeepPlatform(Platform):\n    device_type = 'deep'\n",
        encoding="utf-8",
    )
    report = check_plugin(open_plugin(str(root), tmp_path / "cache"), releases[:1])
    assert [item.qualname for item in report.classes] == ["deep_plugin.platform.DeepPlatform"]  # every subclass
    assert any("could not be read" in line for line in report.unread)


def test_the_unpacked_archive_is_reused_and_a_second_process_waits_for_the_first(tmp_path: Path):
    wheel = wheel_of(plugin_folder("renames"), tmp_path / "ren_plugin-1.0-py3-none-any.whl")
    code = (
        "import sys; from pathlib import Path; from phase17.pluginlab.source import open_plugin; "
        "print(open_plugin(sys.argv[1], Path(sys.argv[2])).root)"
    )
    children = [
        subprocess.Popen([sys.executable, "-c", code, str(wheel), str(tmp_path / "cache")], stdout=subprocess.PIPE)
        for _ in range(3)
    ]
    roots = {child.communicate(timeout=60)[0].decode().strip() for child in children}
    assert len(roots) == 1 and all(child.returncode == 0 for child in children)
    (root,) = roots
    assert os.listdir(Path(root).parent.parent) == [Path(root).parent.name]  # one whole folder, nothing half-made


def test_an_sdist_member_may_link_to_a_file_beside_it_only(tmp_path: Path):
    archive = tmp_path / "linky-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"def register():\n    return 'linky.p.P'\n"
        info = tarfile.TarInfo("linky-1.0/linky/__init__.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("linky-1.0/linky/alias.py")
        link.type, link.linkname = tarfile.SYMTYPE, "__init__.py"
        tar.addfile(link)
    tree = open_plugin(str(archive), tmp_path / "cache")
    assert tree.files.files["linky/alias.py"] == tree.files.files["linky/__init__.py"]
