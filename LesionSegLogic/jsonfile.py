"""JSON in and out. Reading a JSON file the user gave (a model card, a training configuration, a manifest, a
``summary.json``) without a traceback: any problem is one typed line naming the file (:func:`read_json`). Writing:
the one conversion policy of every JSON file LesionSeg writes (:func:`json_ready`: NaN → null) and its strict text
(:func:`json_text`), which :func:`LesionSegLogic.io.write.write_json` writes atomically.

``json.loads`` raises ``RecursionError`` on input nested some thousand levels deep, ``UnicodeDecodeError`` on bytes
that are not UTF-8, and reads a file of any size into memory; issue 18 found each of these as a traceback.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import FileMissingError, InputError

#: a JSON file larger than this is refused unread (cards, configurations and summaries are kilobytes)
MAX_JSON_BYTES = 16 << 20


def read_json(path: str | PathLike[str], what: str = "JSON file", *, max_bytes: int = MAX_JSON_BYTES,
              error: type[InputError] = InputError) -> Any:
    """The parsed content of ``path``; :class:`FileMissingError` when it is missing, else ``error`` (an
    :class:`InputError` subclass) as ``"<path>: <what> is not readable JSON (<reason>)"``."""
    path = Path(path)
    try:
        if not path.is_file():
            raise FileMissingError(f"{what} not found", path)
        if path.stat().st_size > max_bytes:
            raise error(f"{what} is larger than {max_bytes} bytes", path)
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise error(f"{what} is not readable JSON ({problem})", path) from None
    except RecursionError:
        raise error(f"{what} is not readable JSON (nested too deeply)", path) from None


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON data, by the one policy of every JSON file LesionSeg writes (the summary of
    ``predict``, the ``--json`` of ``evaluate``/``sweep``, review exports and saved reviews, cards, phantom and study
    records): mappings → objects with string keys, lists and tuples → arrays, numpy scalars and 0-d arrays → Python
    numbers, paths (``os.PathLike``) → strings, and **NaN or ±infinity → null** — JSON has no NaN, and an undefined
    number (a ratio over nothing, a distance to an empty mask) is ``null`` in every output (design.md). Anything
    else is left as it is, so that :func:`json_text` refuses what JSON cannot hold instead of guessing."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and not isinstance(value, int | float):  # numpy scalars and 0-d arrays
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def json_text(value: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of :func:`json_ready` (``value``) with a final newline; a value JSON cannot hold (an object
    of another type) raises ``TypeError`` before anything is written."""
    return json.dumps(json_ready(value), indent=indent, allow_nan=False) + "\n"
