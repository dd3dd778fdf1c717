"""The releases a command compares the pin with: each fetched into the cache on first use (from the pin's own
repository, asked for first when that is not vLLM's), the contract's changes from the pin to each, and the later
minor releases the package index lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phase17.cache import cache_root
from phase17.cli.progress import progress_reporter
from phase17.cli.workspace import consent, existing_upstream, locate, opened

if TYPE_CHECKING:
    from phase17.index.tree import Tree
    from phase17.instruments.changes import ContractChanges
    from phase17.pluginlab.check import Release
    from phase17.upstream.pin import Pin


def release_of(ref: str) -> tuple[Pin, Pin, Tree]:
    """The pin, the release REF names, and that release's tree."""
    from phase17.upstream.fetch import release_tree
    from phase17.upstream.pin import load_pin

    pinned = load_pin(locate().pin_file)
    consent(pinned, "auto")
    with progress_reporter() as reporter:  # (rich is loaded only for a release not fetched yet)
        other, tree = release_tree(pinned, ref, cache_dir=cache_root(), reporter=reporter)
    return pinned, other, opened(tree)


def releases_with_changes(refs: list[str]) -> tuple[list[Release], dict[str, ContractChanges]]:
    """The pin, then each release REF names (fetched into the cache on first use), and the contract's changes from
    the pin to each."""
    from phase17.instruments.changes import kept_contract_changes
    from phase17.pluginlab.check import Release
    from phase17.upstream.pin import load_pin

    upstream = existing_upstream()
    pinned = load_pin(locate().pin_file)
    checked = [Release(pinned.tag, upstream, pinned.commit)]
    changes: dict[str, ContractChanges] = {}
    for ref in refs:
        _, other, tree = release_of(ref)
        if other.commit == pinned.commit or other.tag in {release.label for release in checked}:
            continue  # the pin itself, or named twice
        checked.append(Release(other.tag, tree, other.commit))
        changes[other.tag] = kept_contract_changes(upstream, tree, pinned.describe(), other.tag, other.commit)
    return checked, changes


def later_minor_releases_of_pin() -> list[str]:
    """Each minor release after the pin's, its newest final version, as the package index lists them."""
    from phase17.upstream.download import release_versions
    from phase17.upstream.pin import load_pin
    from phase17.upstream.releases import later_minor_releases

    pinned = load_pin(locate().pin_file)
    return later_minor_releases(pinned.pypi_version, release_versions(pinned.pypi_distribution))
