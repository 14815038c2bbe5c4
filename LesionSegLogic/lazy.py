"""Names a package takes from its submodules on first use (a module ``__getattr__``, PEP 562), so that importing the
package stays light — no torch — until a name that needs it is asked for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, submodule_of: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: ``name`` comes from ``package.<submodule_of[name]>``, imported then."""

    def __getattr__(name: str) -> Any:
        if name in submodule_of:
            return getattr(import_module(f"{package}.{submodule_of[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
