"""safety/files.py read_limited: the one guarded read of a file phase17 did not write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phase17.errors import UnreadableSourceError, WriteError
from phase17.safety.files import read_limited, safe_folder, write_text_atomically


@pytest.fixture
def rooted(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "real.py").write_bytes(b"x = 1\n")
    (tmp_path / "outside.py").write_bytes(b"secret = 1\n")
    return root


def test_links_are_followed_only_while_they_stay_inside_the_root(rooted: Path, tmp_path: Path):
    (rooted / "inside.py").symlink_to(rooted / "pkg" / "real.py")
    (rooted / "out.py").symlink_to(tmp_path / "outside.py")
    (rooted / "loop.py").symlink_to(rooted / "loop.py")
    (rooted / "dangling.py").symlink_to(rooted / "gone.py")

    assert read_limited(rooted / "inside.py", 100, root=rooted) == b"x = 1\n"
    with pytest.raises(UnreadableSourceError, match="symlink out of root/"):
        read_limited(rooted / "out.py", 100, root=rooted)
    with pytest.raises(UnreadableSourceError, match="symlink loop"):
        read_limited(rooted / "loop.py", 100, root=rooted)
    with pytest.raises(FileNotFoundError):
        read_limited(rooted / "dangling.py", 100, root=rooted)
    assert read_limited(rooted / "out.py", 100) == b"secret = 1\n"  # without a root, a link is a file like any


def test_every_size_is_read_whole_and_the_limit_holds(rooted: Path):
    for size in (0, 1, 4095, 4096, 4097, 1 << 20, (1 << 20) + 3):
        path = rooted / f"s{size}.py"
        data = os.urandom(size)
        path.write_bytes(data)
        assert read_limited(path, 2 << 20, root=rooted) == data
    with pytest.raises(UnreadableSourceError, match="larger than 4096 bytes"):
        read_limited(rooted / "s4097.py", 4096, root=rooted)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_blocking(rooted: Path):
    os.mkfifo(rooted / "pipe.py")
    with pytest.raises(UnreadableSourceError, match="not a regular file"):
        read_limited(rooted / "pipe.py", 100, root=rooted)


def test_an_atomic_write_replaces_the_file_and_keeps_its_mode(tmp_path: Path):
    path = tmp_path / "deep" / "notes.yaml"
    write_text_atomically(path, "a: 1\n")
    path.chmod(0o600)
    write_text_atomically(path, "a: 2\n")
    assert path.read_text() == "a: 2\n" and (path.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["notes.yaml"]


def test_an_atomic_write_replaces_a_planted_link_instead_of_writing_through_it(tmp_path: Path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me\n")
    path = tmp_path / "notes" / "cpu.yaml"
    path.parent.mkdir()
    path.symlink_to(target)
    write_text_atomically(path, "a: 1\n")
    assert not path.is_symlink() and path.read_text() == "a: 1\n" and target.read_text() == "keep me\n"


def test_a_folder_is_made_and_a_link_inside_its_root_is_accepted(tmp_path: Path):
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "inside").symlink_to(root / "real")
    assert safe_folder(root / "a" / "b", root) == root / "a" / "b" and (root / "a" / "b").is_dir()
    assert safe_folder(root / "inside" / "c", root).is_dir() and (root / "real" / "c").is_dir()


def test_a_link_out_of_its_root_or_a_file_in_the_way_is_refused_and_nothing_is_made(tmp_path: Path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "out").symlink_to(outside)
    with pytest.raises(WriteError, match=r"out is a symlink to .*outside, outside .*root; phase17 writes nothing"):
        safe_folder(root / "out" / "deeper", root)
    assert list(outside.iterdir()) == []
    (root / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        safe_folder(root / "file" / "below", root)
    with pytest.raises(WriteError, match="is not inside"):
        safe_folder(outside, root)
