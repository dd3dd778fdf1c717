"""Which releases follow the pin: the newest final release of each later minor version, as the package index
lists them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.version import Version


def later_minor_releases(pinned: str, versions: Sequence[Version]) -> list[str]:
    """For each minor version after the pin's (0.23, 0.24, ...), its newest final release, oldest first."""
    from packaging.version import Version

    pin = Version(pinned)
    newest: dict[tuple[int, int], Version] = {}
    for version in versions:
        if version.is_prerelease or version.is_devrelease:
            continue
        minor = (version.major, version.minor)
        if minor > (pin.major, pin.minor) and (minor not in newest or version > newest[minor]):
            newest[minor] = version
    return [str(newest[minor]) for minor in sorted(newest)]
