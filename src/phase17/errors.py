"""Every failure a reader can cause or meet is a Phase17Error: one line that says what failed and what to do next.

Each class names one situation and is raised only for it; the CLI prints the message and exits 2.
"""


class Phase17Error(Exception):
    """A failure with a message fit to show a reader as it is."""


class UsageError(Phase17Error):
    """The command cannot do what was asked the way it was asked (no terminal to prompt on, options that clash)."""


class ProjectNotFoundError(Phase17Error):
    """No UPSTREAM_PIN.md in the current folder or any folder above it."""


class InvalidFileError(Phase17Error):
    """A file phase17 reads (the pin, the reading list, a notes file) is malformed; the message starts path:line."""


class UpstreamError(Phase17Error):
    """upstream/ is missing, not a checkout phase17 can verify, or not the pinned tree (and will not be replaced)."""


class FetchError(Phase17Error):
    """The pinned tree could not be fetched, or what was fetched failed verification."""


class ArchiveError(FetchError):
    """An archive (an sdist, a wheel) phase17 will not unpack: a member that could land outside its folder, a link,
    a device, or more than its bounds. Nothing it holds was written outside; what was unpacked is removed."""


class NetworkError(FetchError):
    """A remote could not be reached at all (so `fetch --source auto` may fall back to the package index).

    `detail` keeps the tool's own words (git's `fatal: ...` line), shown only with --verbose.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class UnknownTargetError(Phase17Error):
    """A reading target (key, number or path) or a question number that the reading list does not have."""


class BadReferenceError(Phase17Error):
    """Text that is not a symbol reference (Class.method, or path/to/file.py::Class.method)."""


class SymbolNotFoundError(Phase17Error):
    """A reference's file or definition is not in upstream/."""


class UnreadableSourceError(Phase17Error):
    """An upstream file that cannot be read as Python source (binary, too large, a link out of upstream/)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class WriteError(Phase17Error):
    """A file in annotations/, notebooks/ or the pin could not be written; the previous file is unchanged."""


class MendError(Phase17Error):
    """A mend (`check --accept`, `--relink`) names an anchor that is not in the state the mend needs."""


class ToolError(Phase17Error):
    """An outside program phase17 needs (git, the reader's editor) is missing or failed."""


class WorkerError(Phase17Error):
    """A worker process parsing upstream/ ended abruptly (killed, or out of memory); nothing it did was stored."""
