"""Coalesce a fast stream of values (slider moves) so that only the latest one is ever processed.

A slider dragged with the mouse sends a value every few milliseconds; processing each (engine, segments,
views, metrics) takes longer than that, so processing them in order makes the display trail the hand by
seconds. :class:`LatestValue` records each value and lets ONE scheduled task on the server's event loop
process the most recent one; values that arrive while it works replace each other, and the task picks up the
newest when it is done. Nothing queues.

Outside a running event loop (scripts, in-process tests) a value is processed at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_NOTHING = object()


class LatestValue(Generic[T]):
    """``submit(v)`` → ``process(latest v)`` once the loop is free; older unprocessed values are dropped."""

    def __init__(self, process: Callable[[T], None]) -> None:
        self._process = process
        self._pending: object = _NOTHING
        self._task: asyncio.Task | None = None
        self.dropped = 0  #: values replaced before they were processed (for tests and benchmarks)

    @property
    def pending(self) -> bool:
        """True while a submitted value waits to be processed."""
        return self._pending is not _NOTHING

    def submit(self, value: T) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.discard()
            self._process(value)
            return
        if self.pending:
            self.dropped += 1
        self._pending = value
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())

    def discard(self) -> None:
        """Forget a value not processed yet (a settled value supersedes it)."""
        self._pending = _NOTHING

    async def _drain(self) -> None:
        while True:
            await asyncio.sleep(0)  # let messages already received land first: only the newest is used
            if not self.pending:
                return
            value, self._pending = self._pending, _NOTHING
            self._process(value)  # type: ignore[arg-type]
