"""Cancellation of long work (inference, training), shared by the library, the session and both faces.

Kept free of torch and every other heavy import, so the Slicer module can create a token before its
dependencies are installed.
"""

from __future__ import annotations

import threading

from LesionSegLogic.errors import Cancelled


class CancelToken:
    """Thread-safe flag checked between window batches; after :meth:`cancel` the work raises
    :class:`Cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user; no output was written")
