"""The user cache folder: what phase17 keeps between runs and can always rebuild (sdists, schema verdicts)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where phase17 keeps what it can rebuild; PHASE17_CACHE_DIR overrides the user cache folder."""
    override = os.environ.get("PHASE17_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("phase17"))
