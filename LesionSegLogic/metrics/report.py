"""Metric reports on disk: grid checks between input files and atomic JSON output (CLI helpers)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import GeometryError, OutputError
from LesionSegLogic.image import Image


def same_grid_or_fail(a: Image, b: Image) -> None:
    """Raise :class:`GeometryError` naming both files unless ``a`` and ``b`` share a voxel grid."""
    if not a.same_grid(b):
        raise GeometryError(
            f"is not on the grid of {b.name} (shapes {a.shape} vs {b.shape}, or different spacing/origin/direction)",
            a.name,
        )


def emit_json(data: dict[str, Any], out: str | None, inputs: Sequence[str | None] = ()) -> None:
    """Print ``data`` as JSON, or write it atomically to ``out`` (never over one of the ``inputs``)."""
    text = json.dumps(data, indent=2, allow_nan=False)
    if out is None:
        sys.stdout.write(text + "\n")
        return
    target = Path(out)
    for path in inputs:
        if path is not None and target.exists() and target.resolve() == Path(path).resolve():
            raise OutputError(f"{out}: refusing to overwrite an input file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(handle, "w") as stream:
            stream.write(text + "\n")
        os.replace(temp, target)
    except OSError as error:
        raise OutputError(f"{out}: cannot write ({error.strerror or error})") from None
