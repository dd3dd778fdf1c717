"""Every failure a reader can cause or meet is a Phase17Error: one line that says what and what next."""


class Phase17Error(Exception):
    """A failure with a message fit to show a user as it is (the CLI exits 2)."""


class ProjectNotFoundError(Phase17Error):
    """No UPSTREAM_PIN.md in this folder or any parent."""


class YamlFileError(Phase17Error):
    """A YAML file is malformed or has the wrong shape; the message starts with path:line."""


class PinFileError(YamlFileError):
    """UPSTREAM_PIN.md cannot be read as a pin."""


class UpstreamMissingError(Phase17Error):
    """upstream/ does not exist or is not a checkout."""


class PinMismatchError(Phase17Error):
    """upstream/ holds something other than the pinned tree."""


class FetchError(Phase17Error):
    """The pinned tree could not be fetched or verified."""


class NetworkError(FetchError):
    """A remote could not be reached."""


class UnsafeArchiveError(FetchError):
    """An archive entry would land outside the target or is a link or device."""


class ReadingListError(YamlFileError):
    """The reading list data file is malformed."""


class TargetNotFoundError(Phase17Error):
    """A reading target key, number or path that does not exist."""


class SymbolNotFoundError(Phase17Error):
    """No definition carries that name."""


class UnreadableSourceError(Phase17Error):
    """An upstream file that cannot be read as Python source (binary, too large, a link out of upstream/)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class AnnotationError(YamlFileError):
    """A notes file in annotations/ is malformed."""


class EditorError(Phase17Error):
    """$EDITOR or $VISUAL could not be started."""
