"""phase17: a reading companion for vLLM's hardware-platform layer, pinned to one upstream commit."""

__version__ = "0.1.0"
