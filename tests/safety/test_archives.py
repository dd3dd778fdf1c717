"""safety/archives.py and the downloads: an archive or a package index can never make phase17 write outside the
folder it unpacks or downloads into, on any Python (CVE-2025-4517's link chain included)."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers import FAKE_COMMIT, publish, serve, symlink_chain, tar_gz, write_pin
from phase17.errors import ArchiveError, FetchError
from phase17.pluginlab.source import open_plugin
from phase17.upstream.fetch import fetch_upstream
from phase17.upstream.pin import load_pin


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "kept.txt").write_text("the reader's file\n")
    return folder


def _untouched(outside: Path) -> None:
    assert sorted(path.name for path in outside.iterdir()) == ["kept.txt"]
    assert (outside / "kept.txt").read_text() == "the reader's file\n"


def test_a_link_chain_past_path_max_writes_nothing_outside_from_a_plugin_file(tmp_path: Path, outside: Path):
    archive = tar_gz(tmp_path / "evil-1.0.tar.gz", symlink_chain("evil-1.0", outside))
    refusal = r"evil-1.0.tar.gz: member '.*' is a link to '\.\./\.\./.*'; an archive .*; refused"
    with pytest.raises(ArchiveError, match=refusal):
        open_plugin(str(archive), tmp_path / "cache")
    _untouched(outside)
    assert not [path for path in (tmp_path / "cache" / "plugins").iterdir() if not path.name.endswith(".lock")]


def test_a_link_chain_past_path_max_writes_nothing_outside_from_a_download(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
):
    archive = tar_gz(tmp_path / "dist" / "evil-1.0.tar.gz", symlink_chain("evil-1.0", outside))
    publish(tmp_path / "index", archive, project="evil")  # with its true sha256
    with serve(tmp_path / "index") as url:
        monkeypatch.setenv("PIP_INDEX_URL", url)
        with pytest.raises(ArchiveError, match="is a link to"):
            open_plugin("evil==1.0", tmp_path / "cache")
    _untouched(outside)


def test_a_link_chain_past_path_max_writes_nothing_outside_from_the_pins_sdist(tmp_path: Path, outside: Path):
    root = tmp_path / "project"
    write_pin(root, FAKE_COMMIT, repository="http://127.0.0.1:9/unreachable/vllm.git")
    archive = tar_gz(tmp_path / "dist" / "vllm-9.9.9.tar.gz", symlink_chain("vllm-9.9.9", outside))
    publish(tmp_path / "index", archive)
    with serve(tmp_path / "index") as url, pytest.raises(FetchError, match="is a link to .* It was removed"):
        fetch_upstream(
            load_pin(root / "UPSTREAM_PIN.md"),
            root / "upstream",
            source="pypi",
            force=True,
            cache_dir=root / "cache",
            index_url=url,
        )
    _untouched(outside)
    assert not (root / "upstream").exists()


def test_a_download_name_that_is_a_path_is_refused_and_nothing_lands_outside(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
):
    wheel = tmp_path / "dist" / "evil-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as bundle:
        bundle.writestr("evil/__init__.py", "")
    forged = "evil-1.0-py3-none-any/../../../../outside/pwn.whl"
    publish(tmp_path / "index", wheel, project="evil", shown_as=forged)
    with serve(tmp_path / "index") as url:
        monkeypatch.setenv("PIP_INDEX_URL", url)
        with pytest.raises(FetchError, match=r"offers '.*pwn.whl' for evil 1.0: not one plain file name of it"):
            open_plugin("evil==1.0", tmp_path / "cache")
    _untouched(outside)
    assert not list((tmp_path / "cache").rglob("*.whl*"))


def test_a_download_of_another_project_or_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    wheel = tmp_path / "dist" / "other-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as bundle:
        bundle.writestr("other/__init__.py", "")
    publish(tmp_path / "index", wheel, project="evil", shown_as="evil-1.0-py3-none-any.whl.tar.gz")
    with serve(tmp_path / "index") as url:
        monkeypatch.setenv("PIP_INDEX_URL", url)
        with pytest.raises(FetchError, match="lists no wheel or sdist of evil 1.0|not one plain file name of it"):
            open_plugin("evil==1.0", tmp_path / "cache")


def test_a_zip_member_with_an_empty_name_is_refused_in_one_line(tmp_path: Path):
    wheel = tmp_path / "odd-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as bundle:
        bundle.writestr("odd/__init__.py", "")
        bundle.writestr(zipfile.ZipInfo(""), "")
    with pytest.raises(ArchiveError, match="odd-1.0-py3-none-any.whl: a member with an empty name; refused."):
        open_plugin(str(wheel), tmp_path / "cache")


def _tar(members: list[tuple[str, bytes, str]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
            else:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if not link else None)
    return buffer.getvalue()


def test_a_link_to_a_file_beside_it_is_kept_and_nothing_is_written_through_it(tmp_path: Path):
    archive = tmp_path / "ok-1.0.tar.gz"
    archive.write_bytes(
        _tar(
            [
                ("ok-1.0/pkg/real.py", b"X = 1\n", ""),
                ("ok-1.0/pkg/alias.py", b"", "real.py"),
                ("ok-1.0/PKG-INFO", b"Name: ok\nVersion: 1.0\n", ""),
            ]
        )
    )
    root = open_plugin(str(archive), tmp_path / "cache").root
    assert os.readlink(root / "pkg" / "alias.py") == "real.py" and (root / "pkg" / "alias.py").read_text() == "X = 1\n"
    archive.write_bytes(_tar([("ok-1.0/pkg/real.py", b"X = 1\n", ""), ("ok-1.0/pkg/alias.py", b"", "pkg")]))
    with pytest.raises(ArchiveError, match="links to 'pkg', which is no file beside it"):
        open_plugin(str(archive), tmp_path / "cache")
    archive.write_bytes(_tar([("ok-1.0/pkg", b"", "other"), ("ok-1.0/pkg/x.py", b"x = 1\n", "")]))
    with pytest.raises(ArchiveError, match="links to 'other', which is no file beside it|is there twice"):
        open_plugin(str(archive), tmp_path / "cache")


def test_a_link_planted_in_the_folder_is_never_written_through(tmp_path: Path, outside: Path):
    from phase17.progress import SilentReporter
    from phase17.upstream.sdist import extract_safely

    archive = tmp_path / "vllm-1.0.tar.gz"
    archive.write_bytes(_tar([("vllm-1.0/pkg/x.py", b"x = 1\n", "")]))
    target = tmp_path / "target"
    target.mkdir()
    (target / "pkg").symlink_to(outside)
    with pytest.raises(ArchiveError, match="'vllm-1.0/pkg/x.py' would be written through a link; refused"):
        extract_safely(archive, target, SilentReporter())
    _untouched(outside)
