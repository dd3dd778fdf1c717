"""Find every project on the package index that registers a `vllm.platform_plugins` entry point: the real plugins
tests/pluginlab/test_real_plugins.py checks. Reads each candidate's newest release without downloading it whole:
a wheel's entry_points.txt through HTTP range requests on its zip directory, else the sdist's metadata files.

    python scripts/find_platform_plugins.py                 # candidates: every project whose name says vllm
    python scripts/find_platform_plugins.py NAME [NAME...]  # only these

Uses the package index pypi-simple talks to (PIP_INDEX_URL, else its default). Prints one line per plugin found:
NAME==VERSION, the file read, the entry point.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor

import requests
from packaging.version import InvalidVersion, Version
from pypi_simple import PyPISimple

GROUP = "vllm.platform_plugins"


class _RangeFile(io.RawIOBase):
    """A remote file read through HTTP range requests: zipfile seeks to the directory and reads only what it needs."""

    def __init__(self, session: requests.Session, url: str) -> None:
        self._session, self._url, self._position = session, url, 0
        self._size = int(session.head(url, allow_redirects=True, timeout=60).headers["Content-Length"])

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = {0: offset, 1: self._position + offset, 2: self._size + offset}[whence]
        return self._position

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self._position >= self._size or not len(buffer):
            return 0
        end = min(self._size, self._position + len(buffer)) - 1
        data = self._session.get(self._url, headers={"Range": f"bytes={self._position}-{end}"}, timeout=120).content
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def _version(text: str | None) -> Version:
    try:
        return Version(text or "0")
    except InvalidVersion:
        return Version("0")


def platform_entry_points(name: str) -> tuple[str, str, list[str]] | None:
    """(version, file, entry points) of the newest final release of `name` when it registers a platform plugin."""
    session = requests.Session()
    endpoint = os.environ.get("PIP_INDEX_URL")
    with PyPISimple(endpoint=endpoint) if endpoint else PyPISimple() as client:
        packages = [p for p in client.get_project_page(name, timeout=60).packages if p.version and not p.is_yanked]
    finals = [p for p in packages if not _version(p.version).is_prerelease] or packages
    if not finals:
        return None
    newest = max(_version(p.version) for p in finals)
    files = sorted(
        (p for p in finals if _version(p.version) == newest and p.package_type in ("wheel", "sdist")),
        key=lambda p: (p.package_type != "wheel", "none-any" not in p.filename),
    )
    if not files:
        return None
    chosen = files[0]
    if chosen.package_type == "wheel":
        bundle = zipfile.ZipFile(io.BufferedReader(_RangeFile(session, chosen.url), 1 << 16))
        listed = [member for member in bundle.namelist() if member.endswith(".dist-info/entry_points.txt")]
        text = bundle.read(listed[0]).decode("utf-8", "replace") if listed else ""
    else:
        archive = tarfile.open(fileobj=io.BytesIO(session.get(chosen.url, timeout=300).content))
        names = ("entry_points.txt", "setup.py", "setup.cfg", "pyproject.toml")
        text = "\n".join(
            archive.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile() and member.name.count("/") <= 2 and member.name.endswith(names)
        )
    if GROUP not in text:
        return None
    found = re.findall(r"^\s*\[?\"?vllm\.platform_plugins\"?\]?.*$\n?((?:.*=.*\n?)+)", text, re.MULTILINE)
    return str(newest), chosen.filename, [line.strip() for block in found for line in block.splitlines()[:3]]


def main() -> int:
    names = sys.argv[1:]
    if not names:
        endpoint = os.environ.get("PIP_INDEX_URL")
        with PyPISimple(endpoint=endpoint) if endpoint else PyPISimple() as client:
            names = [project for project in client.get_index_page().projects if "vllm" in project.lower()]
        print(f"{len(names)} candidate projects", file=sys.stderr)

    def look(name: str) -> tuple[str, tuple[str, str, list[str]] | None | str]:
        try:
            return name, platform_entry_points(name)
        except Exception as error:  # one unreadable project is a line, not the end of the search
            return name, f"not read: {type(error).__name__}"

    with ThreadPoolExecutor(12) as pool:
        for name, found in pool.map(look, names):
            if isinstance(found, tuple):
                version, filename, entries = found
                print(f"{name}=={version}  {filename}  {'; '.join(entries)}")
            elif isinstance(found, str):
                print(f"{name}: {found}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
