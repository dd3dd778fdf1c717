"""The pinned upstream tree: the pin, the project around it, git, the fetch (git or the verified sdist), the swap."""
