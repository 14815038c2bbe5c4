"""Reading a JSON file the user gave (a model card, a training configuration, a manifest, a ``summary.json``) without
a traceback: any problem is one typed line naming the file.

``json.loads`` raises ``RecursionError`` on input nested some thousand levels deep, ``UnicodeDecodeError`` on bytes
that are not UTF-8, and reads a file of any size into memory; issue 18 found each of these as a traceback.
"""

from __future__ import annotations

import json
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
