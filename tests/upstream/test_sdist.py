"""sdist.py: the PyPI sdist listed, downloaded with its sha256 checked, extracted safely, its commit verified."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from helpers import FAKE_COMMIT, RecordingReporter, build_sdist, git, publish, serve, write_pin
from phase17.errors import FetchError, NetworkError
from phase17.upstream.checkout import inspect_upstream
from phase17.upstream.fetch import fetch_upstream
from phase17.upstream.pin import load_pin
from phase17.upstream.sdist import recorded_commit_id, sdist_cache_dir


@pytest.fixture
def pypi_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write_pin(root, FAKE_COMMIT, repository="http://127.0.0.1:9/unreachable/vllm.git")
    return root


@pytest.fixture
def index(tmp_path: Path):
    """A loopback PEP 503 index serving a good sdist of the fixture tree; yields (url, root)."""
    root = tmp_path / "index"
    publish(root, build_sdist(tmp_path / "dist"))
    with serve(root) as url:
        yield url, root


def _fetch(project: Path, url: str, **options):
    pin = load_pin(project / "UPSTREAM_PIN.md")
    return fetch_upstream(pin, project / "upstream", cache_dir=project / "cache", index_url=url, **options)


def _cache_files(project: Path) -> list[str]:
    folder = sdist_cache_dir(project / "cache")
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_pypi_fetch_verifies_and_records_the_tree(pypi_project: Path, index):
    reporter = RecordingReporter()
    result = _fetch(pypi_project, index[0], source="pypi", reporter=reporter)
    upstream = pypi_project / "upstream"
    assert (result.source, result.downloaded, result.state.status) == ("pypi", True, "matches")
    assert result.state.carries == FAKE_COMMIT
    assert (upstream / "vllm" / "platforms" / "interface.py").read_text().count("class Platform:") == 1
    message = git(upstream, "log", "-1", "--format=%B")
    assert f"Phase17-Upstream-Commit: {FAKE_COMMIT}" in message
    assert f"Sha256: {result.sha256}" in message and "Source: vllm-9.9.9.tar.gz" in message
    assert "verified_commit: " + FAKE_COMMIT in (upstream / ".git" / "phase17-provenance.yaml").read_text()
    assert git(upstream, "status", "--porcelain") == ""
    stages = [value for kind, value in reporter.events if kind == "start"]
    assert stages[:2] == ["download vllm-9.9.9.tar.gz", "extract vllm-9.9.9.tar.gz"]
    assert _cache_files(pypi_project) == ["vllm-9.9.9.tar.gz", "vllm-9.9.9.tar.gz.sha256"]


def test_the_same_sdist_gives_the_same_commit(pypi_project: Path, index, tmp_path: Path):
    first = _fetch(pypi_project, index[0], source="pypi")
    second = _fetch(pypi_project, index[0], source="pypi", force=True)
    assert first.state.head == second.state.head
    assert second.downloaded is False  # from the cache


def test_a_second_fetch_downloads_nothing(pypi_project: Path, index):
    _fetch(pypi_project, index[0], source="pypi")
    reporter = RecordingReporter()
    result = _fetch(
        pypi_project, "http://127.0.0.1:9/simple/", source="pypi", reporter=reporter
    )  # index now unreachable
    assert result.up_to_date and reporter.events == []


def test_auto_falls_back_to_pypi_when_git_is_unreachable(pypi_project: Path, index):
    reporter = RecordingReporter()
    result = _fetch(pypi_project, index[0], reporter=reporter)
    notices = [value for kind, value in reporter.events if kind == "notice"]
    assert result.source == "pypi" and result.state.status == "matches"
    assert (
        len(notices) == 1
        and notices[0]
        == "Cannot reach http://127.0.0.1:9/unreachable/vllm.git. Fetching the PyPI sdist vllm==9.9.9 instead."
    )
    assert notices[0].endswith("Fetching the PyPI sdist vllm==9.9.9 instead.")


def test_wrong_sha256_is_refused(pypi_project: Path, tmp_path: Path):
    root = tmp_path / "bad-index"
    publish(root, build_sdist(tmp_path / "dist"), digest="0" * 64)
    with (
        serve(root) as url,
        pytest.raises(
            FetchError, match=r"vllm-9.9.9.tar.gz: sha256 is [0-9a-f]{64}, but the index says 0{64}; refused"
        ),
    ):
        _fetch(pypi_project, url, source="pypi")
    assert _cache_files(pypi_project) == []
    assert not (pypi_project / "upstream").exists()


def test_wrong_commit_id_is_refused(pypi_project: Path, tmp_path: Path):
    root = tmp_path / "other-index"
    publish(root, build_sdist(tmp_path / "dist", commit_id="123abc456"))
    with (
        serve(root) as url,
        pytest.raises(FetchError, match=r"records commit g123abc456, but UPSTREAM_PIN.md pins abcdef012345; refused"),
    ):
        _fetch(pypi_project, url, source="pypi")
    assert not (pypi_project / "upstream").exists()
    assert not list(pypi_project.glob(".upstream.*"))


def test_missing_version_is_a_clear_error(tmp_path: Path, index):
    root = tmp_path / "p2"
    write_pin(root, FAKE_COMMIT, version="1.2.3")
    with pytest.raises(FetchError, match="lists no sdist of vllm 1.2.3; check pypi.version"):
        _fetch(root, index[0], source="pypi")


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    ("extra", "data", "reason"),
    [
        ([], {"vllm-9.9.9/../escape.py": b"x"}, "'..' and would leave its folder"),
        ([], {"/etc/evil.py": b"x"}, "an absolute or Windows path"),
        ([_link("vllm-9.9.9/vllm/out", "../../../outside")], {}, "a link to '../../../outside'; an archive"),
        ([_link("vllm-9.9.9/vllm/abs", "/etc/passwd")], {}, "a link to '/etc/passwd'; an archive .* may link only"),
        ([_link("vllm-9.9.9/vllm/hard", "/etc/passwd", tarfile.LNKTYPE)], {}, "is a hard link"),
        ([_link("vllm-9.9.9/vllm/dev", "", tarfile.CHRTYPE)], {}, "a device, FIFO or other special file"),
        (
            [],
            {"vllm-9.9.9/.git/config": b"[core]\n\tfsmonitor = touch /tmp/pwned\n"},
            "is git metadata, which a download never brings",
        ),
        ([], {"vllm-9.9.9/vllm/.git/hooks/post-checkout": b"#!/bin/sh\n"}, "is git metadata"),
    ],
)
def test_unsafe_archive_entries_are_refused(pypi_project: Path, tmp_path: Path, extra, data, reason):
    root = tmp_path / "evil-index"
    publish(root, build_sdist(tmp_path / "dist", extra=extra, extra_data=data))
    with serve(root) as url, pytest.raises(FetchError, match=reason):
        _fetch(pypi_project, url, source="pypi")
    assert not (pypi_project / "upstream").exists()
    assert not (tmp_path / "escape.py").exists() and not (pypi_project / "escape.py").exists()
    assert not list(pypi_project.glob(".upstream.*"))


def test_a_link_inside_the_tree_is_allowed(pypi_project: Path, tmp_path: Path):
    root = tmp_path / "link-index"
    publish(root, build_sdist(tmp_path / "dist", extra=[_link("vllm-9.9.9/vllm/alias.py", "__init__.py")]))
    with serve(root) as url:
        assert _fetch(pypi_project, url, source="pypi").state.status == "matches"
    assert (pypi_project / "upstream" / "vllm" / "alias.py").is_symlink()


def _old_tree(project: Path, index_url: str) -> list[str]:
    _fetch(project, index_url, source="pypi")
    upstream = project / "upstream"
    (upstream / "vllm" / "platforms" / "interface.py").write_text("# the old tree\n", encoding="utf-8")
    return sorted(p.relative_to(upstream).as_posix() for p in upstream.rglob("*") if ".git" not in p.parts)


def test_interrupted_download_keeps_the_old_upstream_and_no_partial_file(pypi_project: Path, index, tmp_path: Path):
    before = _old_tree(pypi_project, index[0])
    for leftover in sdist_cache_dir(pypi_project / "cache").iterdir():
        leftover.unlink()  # force a real download
    with pytest.raises(KeyboardInterrupt):
        _fetch(
            pypi_project,
            index[0],
            source="pypi",
            force=True,
            reporter=RecordingReporter(interrupt_on="download", after=0),
        )
    upstream = pypi_project / "upstream"
    assert (upstream / "vllm" / "platforms" / "interface.py").read_text() == "# the old tree\n"
    assert sorted(p.relative_to(upstream).as_posix() for p in upstream.rglob("*") if ".git" not in p.parts) == before
    assert _cache_files(pypi_project) == []
    assert not list(pypi_project.glob(".upstream.*"))


def test_interrupted_extraction_keeps_the_old_upstream(pypi_project: Path, index):
    _old_tree(pypi_project, index[0])
    with pytest.raises(KeyboardInterrupt):
        _fetch(
            pypi_project,
            index[0],
            source="pypi",
            force=True,
            reporter=RecordingReporter(interrupt_on="extract", after=3),
        )
    assert (pypi_project / "upstream" / "vllm" / "platforms" / "interface.py").read_text() == "# the old tree\n"
    assert not list(pypi_project.glob(".upstream.*"))
    state = inspect_upstream(pypi_project / "upstream", load_pin(pypi_project / "UPSTREAM_PIN.md"))
    assert state.status == "modified"


def test_a_corrupted_cached_sdist_is_fetched_again(pypi_project: Path, index):
    _fetch(pypi_project, index[0], source="pypi")
    cached = sdist_cache_dir(pypi_project / "cache") / "vllm-9.9.9.tar.gz"
    cached.write_bytes(b"garbage")
    result = _fetch(pypi_project, index[0], source="pypi", force=True)
    assert result.downloaded and result.state.status == "matches"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("__commit_id__ = commit_id = 'g0decac0d9'\n", "0decac0d9"),
        ("commit_id: str | None\ncommit_id = 'g0decac0d9'\n", "0decac0d9"),
        ("commit_id: str = '0decac0d96c42b49572498019f0a0e3600f50398'\n", "0decac0d96c42b49572498019f0a0e3600f50398"),
        ("# commit_id = 'g0decac0d9'\ncommit_id = 'g1111111111'\n", "1111111111"),  # a comment never counts
        ("old_commit_id = 'g0decac0d9'\n", None),  # only the name commit_id counts
        ("commit_id = 'g0decac0d9'\ncommit_id = 'g1111111111'\n", None),  # two: which one? neither
        ("if True:\n    commit_id = 'g0decac0d9'\n", None),  # module level only
        ("commit_id = 'main'\n", None),
        ("commit_id = get()\n", None),
        ("def broken(:\n", None),
    ],
)
def test_the_recorded_commit_is_read_with_ast(source: str, expected: str | None):
    assert recorded_commit_id(source) == expected


@pytest.mark.slow
def test_a_gzip_bomb_is_refused_at_its_header_before_anything_large_is_written(pypi_project: Path, tmp_path: Path):
    import gzip
    import io
    import time

    archive = tmp_path / "dist" / "vllm-9.9.9.tar.gz"
    archive.parent.mkdir()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        small = tarfile.TarInfo("vllm-9.9.9/PKG-INFO")
        small.size = 5
        tar.addfile(small, io.BytesIO(b"Name\n"))
        bomb = tarfile.TarInfo("vllm-9.9.9/zeros.py")
        bomb.size = 200 * 1024 * 1024
        tar.addfile(bomb, io.BytesIO(bytes(bomb.size)))
    archive.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9))
    assert archive.stat().st_size < 1024 * 1024  # 200 MiB of zeros in well under 1 MiB
    publish(tmp_path / "index", archive)
    started = time.monotonic()
    with serve(tmp_path / "index") as url, pytest.raises(FetchError, match="refused as an archive bomb"):
        _fetch(pypi_project, url)
    assert time.monotonic() - started < 10
    assert not (pypi_project / "upstream").exists()
    leftovers = [p for p in pypi_project.iterdir() if p.name.startswith(".upstream")]
    assert leftovers == []


@pytest.mark.slow
def test_an_index_that_drips_bytes_is_stopped_at_the_time_limit(pypi_project: Path, monkeypatch):
    import http.server
    import threading
    import time

    class Dripping(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass

        def log_message(self, format, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Dripping)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("PHASE17_DOWNLOAD_TIMEOUT", "1")
    started = time.monotonic()
    try:
        with pytest.raises(NetworkError, match="too slow: the fetch took longer than 1 s"):
            _fetch(pypi_project, f"http://127.0.0.1:{server.server_address[1]}/simple/")
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 8
    assert not (pypi_project / "upstream").exists()


def test_a_tiny_archive_that_names_the_right_commit_is_not_the_tree(pypi_project: Path, tmp_path: Path):
    import io

    archive = tmp_path / "dist" / "vllm-9.9.9.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (
            ("vllm-9.9.9/vllm/_version.py", f"commit_id = 'g{FAKE_COMMIT[:9]}'\n".encode()),
            ("vllm-9.9.9/PKG-INFO", b"Name: vllm\nVersion: 9.9.9\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert archive.stat().st_size < 400
    publish(tmp_path / "index", archive)
    with serve(tmp_path / "index") as url, pytest.raises(FetchError, match=r"no vllm/__init__.py"):
        _fetch(pypi_project, url)
    assert not (pypi_project / "upstream").exists()


def test_an_sdist_of_another_version_is_refused(pypi_project: Path, tmp_path: Path):
    archive = build_sdist(tmp_path / "dist", extra_data={})
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]  # type: ignore[union-attr]
    import io

    with tarfile.open(archive, "w:gz") as tar:
        for member, data in members:
            if member.name.endswith("PKG-INFO"):
                data = b"Name: vllm\nVersion: 9.9.8\n"
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    publish(tmp_path / "index", archive)
    with serve(tmp_path / "index") as url, pytest.raises(FetchError, match=r"PKG-INFO says 9.9.8, but"):
        _fetch(pypi_project, url)


def _gzip_server(body: bytes, content_type: str):
    """A server answering every GET with `body`, gzip-compressed on the wire (Content-Encoding: gzip)."""
    import gzip
    import http.server
    import threading

    packed = gzip.compress(body, compresslevel=9)

    class Bomb(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(packed)))
            self.end_headers()
            try:
                self.wfile.write(packed)
            except OSError:
                pass

        def log_message(self, format, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bomb)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.mark.slow
def test_a_gzip_bomb_project_page_is_stopped_at_its_decoded_bound(pypi_project: Path, monkeypatch):
    from phase17.upstream import download

    monkeypatch.setattr(download, "MAX_PAGE_BYTES", 1024**2)
    server = _gzip_server(b" " * (32 * 1024**2), "text/html")  # 32 MiB of page in ~32 KiB on the wire
    try:
        with pytest.raises(FetchError, match=r"the project page at .* is larger than 1 MiB once decoded; stopped"):
            _fetch(pypi_project, f"http://127.0.0.1:{server.server_address[1]}/simple/", source="pypi")
    finally:
        server.shutdown()
    assert _cache_files(pypi_project) == []


def test_an_oversized_archive_with_its_true_digest_is_refused_and_never_kept(pypi_project: Path, tmp_path, monkeypatch):
    from phase17.upstream import download

    archive = build_sdist(tmp_path / "dist", extra_data={"vllm-9.9.9/padding.bin": os.urandom(2 * 1024**2)})
    monkeypatch.setattr(download, "MAX_ARCHIVE_BYTES", 1024**2)
    publish(tmp_path / "index", archive)  # listed with its true sha256
    with serve(tmp_path / "index") as url:
        with pytest.raises(FetchError, match=r"the download at .* is larger than 1 MiB once decoded"):
            _fetch(pypi_project, url, source="pypi")
    assert _cache_files(pypi_project) == []


def test_a_cached_archive_that_cannot_be_extracted_is_dropped_from_the_cache(pypi_project: Path, index, monkeypatch):
    from phase17.upstream import sdist

    _fetch(pypi_project, index[0], source="pypi")
    monkeypatch.setattr(sdist, "MAX_MEMBERS", 3)  # as if the cached archive were one phase17 must refuse
    with pytest.raises(FetchError, match="It was removed from the cache"):
        _fetch(pypi_project, index[0], source="pypi", force=True)
    assert _cache_files(pypi_project) == []
    monkeypatch.setattr(sdist, "MAX_MEMBERS", 100_000)
    assert _fetch(pypi_project, index[0], source="pypi", force=True).downloaded  # fetched anew, not stuck


def test_a_version_from_the_command_line_is_blamed_on_the_command_line(tmp_path: Path, index):
    from dataclasses import replace

    from phase17.upstream.sdist import sdist_commit_id

    root = tmp_path / "p3"
    write_pin(root, FAKE_COMMIT)
    asked = replace(load_pin(root / "UPSTREAM_PIN.md"), pypi_version="0.99.99")  # as `phase17 pin 0.99.99` asks
    with pytest.raises(FetchError, match=r"no sdist of vllm 0.99.99; check the version given to `phase17 pin`") as e:
        sdist_commit_id(asked, root / "cache", index_url=index[0])
    assert "UPSTREAM_PIN.md" not in str(e.value)
