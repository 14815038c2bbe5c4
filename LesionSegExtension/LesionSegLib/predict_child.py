"""The inference child process of the desktop module, run by absolute path: ``python <this file> predict ...``.

It runs ``lesionseg <subcommand> ...`` (``LesionSegLogic.cli``) wherever the module's files are: a source
checkout added to Slicer's module paths, an installed extension, or an installed wheel. The parent (3D Slicer)
makes ``LesionSegLogic`` importable only by changing its own ``sys.path``, which a child does not inherit; so this
script finds the library next to itself, as SlicerMONAIAuto3DSeg runs its inference script by path, instead of
relying on the child's environment or working directory.

Python puts this file's folder first on ``sys.path``. That folder holds modules named like standard-library ones
(``signal.py``), so the entry is replaced by the folder holding ``LesionSegLogic`` before anything else is
imported; only ``os`` and ``sys`` (loaded by every interpreter at start-up) are used until then.
"""

import os
import sys

LIBRARY_PACKAGE = "LesionSegLogic"


def library_root_candidates(lib_dir: str) -> list[str]:
    """Folders that may hold ``LesionSegLogic`` for this script's folder ``lib_dir`` (``.../LesionSegLib``):
    the module folder (installed extension, wheel's site-packages), then its parent (source checkout)."""
    module_dir = os.path.dirname(lib_dir)
    return [module_dir, os.path.dirname(module_dir)]


def find_library_root(lib_dir: str) -> str | None:
    """The first candidate folder holding the ``LesionSegLogic`` package, or None."""
    for candidate in library_root_candidates(lib_dir):
        if os.path.isfile(os.path.join(candidate, LIBRARY_PACKAGE, "__init__.py")):
            return candidate
    return None


def prepare_import_path(script_path: str, path: list[str]) -> str | None:
    """Drop the script's own folder from ``path`` and put the library root first; returns the root used."""
    lib_dir = os.path.dirname(os.path.abspath(script_path))
    path[:] = [entry for entry in path if os.path.abspath(entry or os.curdir) != lib_dir]
    root = find_library_root(lib_dir)
    if root is not None:
        path[:] = [root] + [entry for entry in path if os.path.abspath(entry or os.curdir) != root]
    return root


def main(argv: list[str] | None = None) -> int:
    prepare_import_path(__file__, sys.path)
    from LesionSegLogic.cli import main as cli_main  # only importable after the path is set

    return cli_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
