"""Builders for test projects, upstream repositories, sdists and a local package index."""

from __future__ import annotations

import difflib
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
UPSTREAM_V1 = FIXTURES / "upstream_v1"
FAKE_COMMIT = "abcdef0123456789abcdef0123456789abcdef01"

PIN_TEMPLATE = """# Upstream pin (test project)

```yaml
repository: {repository}
tag: {tag}
commit: {commit}
pypi:
  distribution: vllm
  version: {version}
```
"""


def write_pin(
    root: Path,
    commit: str,
    *,
    repository: str = "https://example.invalid/vllm-project/vllm",
    tag: str = "v9.9.9",
    version: str = "9.9.9",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "UPSTREAM_PIN.md"
    path.write_text(
        PIN_TEMPLATE.format(repository=repository, tag=tag, commit=commit, version=version), encoding="utf-8"
    )
    (root / "annotations").mkdir(exist_ok=True)
    return path


_FIXED_DATES = {"GIT_AUTHOR_DATE": "2025-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2025-01-01T00:00:00+0000"}


def git(folder: Path, *args: str) -> str:
    """Run git with a fixed identity and dates, so fixture commits have the same sha on every run."""
    result = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=folder,
        env={**os.environ, **_FIXED_DATES},
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def make_git_repository(folder: Path, source: Path = UPSTREAM_V1, tag: str = "v9.9.9") -> tuple[str, str]:
    """A repository with the fixture tree as its first commit (tagged) and a small edit as the second."""
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__"))  # only the written files
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "v1")
    first = git(folder, "rev-parse", "HEAD")
    git(folder, "tag", tag)
    with (folder / "vllm" / "platforms" / "cpu.py").open("a", encoding="utf-8") as handle:
        handle.write("\n\nEXTRA = 1\n")
    git(folder, "commit", "-q", "-am", "v2")
    second = git(folder, "rev-parse", "HEAD")
    return first, second


def build_sdist(
    folder: Path,
    *,
    version: str = "9.9.9",
    commit_id: str = FAKE_COMMIT[:9],
    extra: list[tarfile.TarInfo] | None = None,
    extra_data: dict[str, bytes] | None = None,
    source: Path = UPSTREAM_V1,
) -> Path:
    """A vllm-<version>.tar.gz of a fixture tree whose _version.py records `g<commit_id>`."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"vllm-{version}.tar.gz"
    top = f"vllm-{version}"
    version_file = f"commit_id = 'g{commit_id}'\n".encode()
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(p for p in source.rglob("*") if "__pycache__" not in p.parts):
            relative = path.relative_to(source).as_posix()
            if path.is_dir() or relative == "vllm/_version.py":
                continue
            _add(tar, f"{top}/{relative}", path.read_bytes())
        template = source / "vllm" / "_version.py"
        if template.is_file():
            version_file = template.read_bytes().replace(b"gPLACEHOLDER", f"g{commit_id}".encode())
        _add(tar, f"{top}/vllm/_version.py", version_file)
        _add(tar, f"{top}/PKG-INFO", f"Name: vllm\nVersion: {version}\n".encode())
        for name, data in (extra_data or {}).items():
            _add(tar, name, data)
        for member in extra or []:
            tar.addfile(member)
    return archive


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish(
    index_root: Path, archive: Path, *, digest: str | None = None, project: str = "vllm", shown_as: str | None = None
) -> None:
    """Lay out a PEP 503 simple index for `archive` under index_root (simple/ and files/); the link's text, which a
    client takes for the file's name, is `shown_as` (the archive's name unless a test forges another)."""
    files = index_root / "files"
    files.mkdir(parents=True, exist_ok=True)
    shutil.copy2(archive, files / archive.name)
    page = index_root / "simple" / project
    page.mkdir(parents=True, exist_ok=True)
    digest = digest or sha256(archive)
    link = f'<a href="../../files/{archive.name}#sha256={digest}">{shown_as or archive.name}</a>'
    listed = (
        (page / "index.html").read_text(encoding="utf-8").split("<body>")[1].split("</body>")[0]
        if (page / "index.html").exists()
        else ""
    )  # a project's earlier releases stay listed
    (page / "index.html").write_text(f"<!DOCTYPE html><html><body>{listed}{link}</body></html>\n", encoding="utf-8")


def symlink_chain(top: str, outside: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    """Tar members shaped like CVE-2025-4517: each link reads as inside the tree (`..` counted as text), but the
    chain resolves past PATH_MAX, where os.path.realpath stops and the kernel goes on, and the last member is a
    file written through `escape` into `outside`."""
    component, steps = "d" * 247, "abcdefghijklmnop"
    members: list[tuple[tarfile.TarInfo, bytes]] = []

    def add(name: str, kind: bytes, link: str = "", data: bytes = b"") -> None:
        info = tarfile.TarInfo(f"{top}/{name}" if name else top)
        info.type, info.linkname, info.size = kind, link, len(data)
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        members.append((info, data))

    add("", tarfile.DIRTYPE)
    here = ""
    for step in steps:
        add(os.path.join(here, component), tarfile.DIRTYPE)
        add(os.path.join(here, step), tarfile.SYMTYPE, component)
        here = os.path.join(here, component)
    long_link = os.path.join(*steps, "l" * 254)
    add(long_link, tarfile.SYMTYPE, os.path.join(*[".."] * len(steps)))
    # 17 `..` read from top/ keep the text inside (top + 16 steps + the long link); resolved, they climb to /.
    add("escape", tarfile.SYMTYPE, long_link + "/" + "../" * 17 + str(outside).lstrip("/"))
    add("escape/pwn.txt", tarfile.REGTYPE, data=b"written outside\n")
    return members


def tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on loopback; yields the simple index URL."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format, *args):  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


class RecordingReporter:
    """A ProgressReporter that remembers what it was told, and can interrupt on a chosen stage."""

    def __init__(self, interrupt_on: str | None = None, after: int = 0) -> None:
        self.events: list[tuple[str, object]] = []
        self.interrupt_on = interrupt_on
        self.after = after
        self._stage = ""
        self._advanced = 0

    def start(self, description: str, total: int | None) -> None:
        self._stage = description
        self._advanced = 0
        self.events.append(("start", description))

    def advance(self, amount: int) -> None:
        self._advanced += 1
        if self.interrupt_on and self._stage.startswith(self.interrupt_on) and self._advanced > self.after:
            raise KeyboardInterrupt
        self.events.append(("advance", amount))

    def finish(self) -> None:
        self.events.append(("finish", self._stage))

    def notice(self, message: str) -> None:
        self.events.append(("notice", message))

    def detail(self, message: str) -> None:
        self.events.append(("detail", message))


GOLDEN = Path(__file__).parent / "golden"


def ast_lines(path: Path, qualname: str) -> tuple[int, int, int]:
    """(first decorator line, def line, end line) of a def or class, from Python's own parser."""
    import ast

    scope: list = ast.parse(path.read_text(encoding="utf-8")).body
    node = None
    for part in qualname.split("."):
        node = next(n for n in scope if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part)
        scope = node.body
    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
    return first, node.lineno, node.end_lineno


def invoke(*args: str, **kwargs):
    """Run the CLI in-process with typer's CliRunner (stdout and stderr kept apart), through the app a real run
    builds for these arguments (cli.app.app_for: only the command named)."""
    from typer.testing import CliRunner

    from phase17.cli.app import app, app_for

    completing = any(name.endswith("_COMPLETE") for name in kwargs.get("env") or {})  # as app_for sees os.environ
    return CliRunner().invoke(app if completing else app_for(list(args)), list(args), **kwargs)


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/<name>; PHASE17_UPDATE_GOLDEN=1 rewrites it. A mismatch prints a unified diff."""
    path = GOLDEN / name
    if os.environ.get("PHASE17_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(expected.splitlines(True), text.splitlines(True), f"golden/{name}", "actual")
        )
        raise AssertionError(f"output differs from golden/{name}:\n{diff}")


def by_anchor(findings: list[dict]) -> dict[str, dict]:
    return {f"{item['anchor']}|{item.get('cited') or ''}": item for item in findings}


def statuses_of(findings: list[dict]) -> dict[str, str]:
    return {
        key.split("|")[0].split("::")[1] + (" (cited)" if key.split("|")[1] else ""): item["status"]
        for key, item in by_anchor(findings).items()
    }


def edit_file(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def make_v2(source: Path) -> str:
    """Commit a second version with one of each kind of drift; tag it v9.9.10 and return its sha."""
    platforms = source / "vllm" / "platforms"
    git(source, "checkout", "-q", "v9.9.9")
    git(source, "checkout", "-q", "-b", "v2")
    # lines shifted by an insertion above
    edit_file(
        platforms / "cpu.py",
        "def get_max_threads(pid=0):",
        "def inserted_helper():\n    return 0\n\n\ndef get_max_threads(pid=0):",
    )
    # a method renamed in place
    edit_file(platforms / "cpu.py", "def discover_numa_topology(cls)", "def numa_topology(cls)")
    # a body edit
    edit_file(
        platforms / "cuda.py",
        "config.block_size = config.block_size or 16",
        "config.block_size = config.block_size or 32",
    )
    # a method hoisted from a subclass into its base class (same file)
    edit_file(
        platforms / "cuda.py",
        "class NvmlCudaPlatform(CudaPlatformBase):\n    @classmethod\n    @with_nvml_context\n    def device_count(cls) -> int:\n        return 1\n",
        "class NvmlCudaPlatform(CudaPlatformBase):\n    pass\n",
    )
    edit_file(
        platforms / "cuda.py",
        "    @classmethod\n    def supports_fp8(cls) -> bool:\n        return True\n",
        "    @classmethod\n    def supports_fp8(cls) -> bool:\n        return True\n\n    @classmethod\n    @with_nvml_context\n    def device_count(cls) -> int:\n        return 1\n",
    )
    # a function moved to another file
    decorator = "def with_nvml_context(fn):\n    def wrapper(*args, **kwargs):\n        return fn(*args, **kwargs)\n\n    return wrapper\n"
    edit_file(platforms / "cuda.py", decorator + "\n\n", "")
    edit_file(
        platforms / "cuda.py",
        "from .interface import Platform, PlatformEnum\n",
        "from .interface import Platform, PlatformEnum\nfrom .utils import with_nvml_context\n",
    )
    (platforms / "utils.py").write_text('"""Helpers moved out of cuda.py."""\n\n\n' + decorator, encoding="utf-8")
    # a deletion
    edit_file(
        platforms / "cuda.py",
        'def _get_backend_priorities(use_mla: bool) -> list[str]:\n    """Backends in the order they are tried."""\n    if use_mla:\n        return ["mla_a", "mla_b"]\n    return ["flash", "flex"]\n\n\n',
        "",
    )
    edit_file(platforms / "cuda.py", "return _get_backend_priorities(False)[0]", 'return "flash"')
    # a duplicate definition introduced
    edit_file(
        platforms / "__init__.py",
        "builtin_platform_plugins = {",
        "if TYPE_CHECKING:\n\n    def cpu_platform_plugin() -> str | None:\n        return None\n\n\nbuiltin_platform_plugins = {",
    )
    # a reformat only: spacing and a comment, same lines
    edit_file(
        platforms / "interface.py",
        "return self._enum == PlatformEnum.OOT",
        "return self._enum==PlatformEnum.OOT  # out of tree",
    )
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "v2")
    git(source, "tag", "v9.9.10")
    return git(source, "rev-parse", "HEAD")


GOOD_NOTES = """\
target: interface
path: vllm/platforms/interface.py
pin:
  tag: v9.9.9
  commit: abcdef0123456789abcdef0123456789abcdef01
anchors:
- symbol: vllm/platforms/interface.py::Platform
  kind: class
  start: 24
  end: 59
  fingerprint: 0123456789abcdef
notes:
  data_structure: ''
  invariant: ''
  edge_case: ''
citations: []
"""


MALFORMED: list[tuple[str, bytes]] = [
    ("unclosed bracket", GOOD_NOTES.replace("kind: class", "kind: [class").encode()),
    ("unclosed quote", GOOD_NOTES.replace("invariant: ''", "invariant: 'oops").encode()),
    ("tab indentation", GOOD_NOTES.replace("  kind: class", "\tkind: class").encode()),
    ("duplicate key", GOOD_NOTES.replace("  edge_case: ''", "  edge_case: ''\n  edge_case: 'again'").encode()),
    ("unknown top key", (GOOD_NOTES + "extra: 1\n").encode()),
    ("unknown note", GOOD_NOTES.replace("  edge_case: ''", "  edge_case: ''\n  mood: ''").encode()),
    ("start is text", GOOD_NOTES.replace("start: 24", "start: ten").encode()),
    ("start is negative", GOOD_NOTES.replace("start: 24", "start: -1").encode()),
    ("end before start", GOOD_NOTES.replace("end: 59", "end: 3").encode()),
    ("anchors is a mapping", GOOD_NOTES.replace("anchors:\n- symbol", "anchors:\n  x:\n    symbol").encode()),
    ("notes is a list", GOOD_NOTES.replace("notes:\n  data_structure: ''", "notes:\n- data_structure").encode()),
    ("symbol without ::", GOOD_NOTES.replace("interface.py::Platform", "interface.py:Platform").encode()),
    ("wrong target", GOOD_NOTES.replace("target: interface", "target: cuda").encode()),
    (
        "missing pin",
        GOOD_NOTES.replace("pin:\n  tag: v9.9.9\n  commit: abcdef0123456789abcdef0123456789abcdef01\n", "").encode(),
    ),
    ("a scalar document", b"just text\n"),
    ("an empty file", b""),
    ("only a comment", b"# nothing here\n"),
    ("two documents", (GOOD_NOTES + "---\n" + GOOD_NOTES).encode()),
    ("python object tag", GOOD_NOTES.replace("kind: class", "kind: !!python/object/apply:os.system ['true']").encode()),
    (
        "alias bomb",
        b"a: &a ['x','x','x','x','x','x','x','x','x']\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
    ),
    ("deep nesting", b"target: " + b"[" * 200 + b"]" * 200 + b"\n"),
    ("huge document", b"target: interface\nnotes:\n  data_structure: '" + b"x" * (3 * 1024 * 1024) + b"'\n"),
    ("not UTF-8", GOOD_NOTES.replace("invariant: ''", "invariant: 'caf\udce9'").encode("utf-8", "surrogateescape")),
    ("NUL byte", GOOD_NOTES.replace("invariant: ''", "invariant: '\x00'").encode()),
    ("non-string key", GOOD_NOTES.replace("  invariant: ''", "  12: ''").encode()),
]


# What each MALFORMED input must be reported as, after "annotations/interface.yaml:": the line, then the gist.
MALFORMED_ERRORS = {
    "unclosed bracket": "9: expected ',' or ']', but got ':' (while parsing a flow sequence at line 8)",
    "unclosed quote": "17: found unexpected end of stream (while scanning a quoted scalar at line 14)",
    "tab indentation": "8: found character '\\t' that cannot start any token",
    "duplicate key": "16: duplicate key 'edge_case'",
    "unknown top key": "17: unknown key 'extra' in the file (expected target, path, pin, anchors, notes, citations)",
    "unknown note": "16: unknown key 'mood' in notes (expected data_structure, invariant, edge_case)",
    "start is text": "9: anchors[1].start must be a whole number, not str 'ten'",
    "start is negative": "9: anchors[1].start must be a line number (1 or more), not the number -1",
    "end before start": "10: anchors[1].end: end (3) is before its start (24)",
    "anchors is a mapping": "6: anchors must be a list, not a mapping",
    "notes is a list": "14: mapping values are not allowed here",
    "symbol without ::": "7: anchors[1].symbol: must be path::qualname, not 'vllm/platforms/interface.py:Platform'",
    "wrong target": "1: target is 'cuda' but the file is named interface.yaml",
    "missing pin": "1: the file is missing 'pin'",
    "a scalar document": "1: the file must be a mapping with target, path, pin, anchors, notes, citations, not str 'just text'",
    "an empty file": "1: the file must be a mapping with target, path, pin, anchors, notes, citations, not empty",
    "only a comment": "1: the file must be a mapping with target, path, pin, anchors, notes, citations, not empty",
    "two documents": "17: but found another document (expected a single document in the stream at line 1)",
    "python object tag": "8: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    "alias bomb": "2: YAML aliases (*name) are not allowed in phase17 files",
    "deep nesting": "1: nested deeper than 32 levels",
    "huge document": "1: file is larger than 2 MiB",
    "not UTF-8": "14: not valid UTF-8 (byte 292)",
    "NUL byte": "14: character U+0000 is not allowed in YAML",
    "non-string key": "14: key 12 must be a string",
}


def _commonmark():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")  # raw HTML on, as GitHub's parser sees it before its sanitizer


COMMONMARK = _commonmark()


def markdown_hazards(markdown: str) -> list[str]:
    """Raw HTML tokens and links to anything but https in `markdown`, as CommonMark parses it."""
    found = []
    for token in COMMONMARK.parse(markdown):
        for item in [token, *(token.children or [])]:
            if item.type.startswith("html"):
                found.append(f"{item.type}: {item.content!r}")
            if item.type in ("link_open", "image"):
                target = str(item.attrGet("href") or item.attrGet("src") or "")
                if item.type == "image" or not target.startswith("https://"):
                    found.append(f"{item.type}: {target!r}")
    return found
