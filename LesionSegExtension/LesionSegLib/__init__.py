"""LesionSegLib — the Qt-free review layer of the LesionSeg 3D Slicer module.

Everything here runs on plain MRML (desktop Slicer or the ``slicer-core`` wheel); only :mod:`.widget` and
:mod:`.dependencies`' Slicer glue touch the GUI, and they are imported lazily inside Slicer.
"""

from .parameters import ReviewParameters
from .signal import Signal

__all__ = ["ReviewParameters", "Signal"]
