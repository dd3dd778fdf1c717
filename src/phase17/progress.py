"""How long work reports its progress: a small protocol the CLI draws with rich and tests record."""

from __future__ import annotations

from typing import Protocol


class ProgressReporter(Protocol):
    """What a fetch (or any long job) tells its caller as it goes; core modules never print.

    `notice` is one line for the reader; `detail` is a tool's raw words, for --verbose.
    """

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, amount: int) -> None: ...

    def finish(self) -> None: ...

    def notice(self, message: str) -> None: ...

    def detail(self, message: str) -> None: ...


class SilentReporter:
    """A ProgressReporter that shows nothing."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def notice(self, message: str) -> None:
        pass

    def detail(self, message: str) -> None:
        pass
