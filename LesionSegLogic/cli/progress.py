"""``lesionseg predict``'s progress on stderr: every phase of a run, and an ETA only once it means something.

A run goes through :data:`LesionSegLogic.predictor.RUN_PHASES` (reading, preprocessing, windows, export) and the
CLI's :data:`~LesionSegLogic.predictor.WRITE_PHASE` (the model is loaded before, so that a bad model stays a one-line
error); each phase gets a line as it starts (``predict [2/5] preprocessing``) and its time when it ends, so no
stretch of a run is silent. The windows phase is a bar whose ETA comes from :class:`WindowEta`: the first batch of
windows pays for start-up (allocations, kernel selection, a cold cache) and a rate taken from it promised 1:52:16
for a 1-minute run, so the ETA uses the rate measured *after* the first finished batch and is shown only once
:data:`MIN_ETA_WINDOWS` windows and :data:`MIN_ETA_SECONDS` have passed since then.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

#: windows that must have run after the first update before an ETA is shown
MIN_ETA_WINDOWS = 8
#: seconds that must have passed after the first update before an ETA is shown
MIN_ETA_SECONDS = 2.0


@dataclass
class WindowEta:
    """Seconds left in the windows phase, from the rate since the first update (``None`` until it is trustworthy)."""

    clock: Callable[[], float] = time.monotonic
    min_windows: int = MIN_ETA_WINDOWS
    min_seconds: float = MIN_ETA_SECONDS
    _start: tuple[float, int] | None = field(default=None, init=False)

    def update(self, done: int, total: int) -> float | None:
        now = self.clock()
        if self._start is None or self._start[1] == 0 or done < self._start[1]:
            self._start = (now, done)  # the first finished batch (0 done is the start, not a measurement)
            return None
        t0, n0 = self._start
        windows, seconds = done - n0, now - t0
        if windows < self.min_windows or seconds < self.min_seconds:
            return None
        return max(total - done, 0) * seconds / windows


def format_seconds(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class PredictProgress:
    """The phases of one ``lesionseg predict`` run on ``stream`` (nothing when ``enabled`` is false).

    ``phase(name)`` ends the current phase and starts ``name``; ``windows(progress)`` takes the inference's
    :class:`~LesionSegLogic.inference.Progress`; ``close()`` ends the last phase. ``phases`` numbers the lines.
    """

    def __init__(self, phases: tuple[str, ...], *, enabled: bool = True, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.phases = phases
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.eta = WindowEta(clock)
        self._bar: Any = None  # a tqdm bar from the first window batch on
        self._current: str | None = None
        self._started = 0.0

    def phase(self, name: str) -> None:
        if name == self._current:  # the same phase announced again (the CLI and the predictor both read)
            return
        self._end()
        self._current, self._started = name, self.clock()
        if self.enabled and name != "windows":
            self.stream.write(f"predict [{self._number(name)}] {name}…\n")
            self.stream.flush()

    def windows(self, progress) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=progress.total, unit="win", file=self.stream, dynamic_ncols=True,
                             desc=f"predict [{self._number('windows')}] windows",
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
        self._bar.total = progress.total
        self._bar.n = progress.done
        left = self.eta.update(progress.done, progress.total)
        self._bar.set_postfix_str(f"ETA {format_seconds(left)}" if left is not None else "ETA …", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._end()
        self._current = None

    def _number(self, name: str) -> str:
        return f"{self.phases.index(name) + 1}/{len(self.phases)}" if name in self.phases else "-"

    def _end(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str("done", refresh=False)
            self._bar.close()
            self._bar = None
            return
        if self.enabled and self._current is not None and self._current != "windows":
            seconds = self.clock() - self._started
            self.stream.write(f"predict [{self._number(self._current)}] {self._current} done "
                              f"({format_seconds(seconds)})\n")
            self.stream.flush()
