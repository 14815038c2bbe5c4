"""The one write policy of every command that writes (``docs/io.md``, "Writing").

1. **Nothing the user had is replaced unasked.** :func:`claim_outputs` is called by each command before any work
   with every file it will write: a file already there is an earlier result and the command stops, naming the
   files in the way, unless ``--force`` (``--resume`` for ``train``, where continuing is the meaning).
2. **Never over an input.** An output that is (or resolves, through symbolic links or hard links, to) one of the
   command's inputs is refused even with ``--force``.
3. **Nothing half-written is left.** Files are written under a staging name in the target's own folder
   (:func:`staging_path`: ``.lesionseg-staging-<pid>-<random>-<name>``) and moved into place with ``os.replace``;
   every failure path removes the staging file or folder (:mod:`LesionSegLogic.io.write`). A process killed
   outright (SIGKILL, power loss) cannot clean up, so the next claim of the same folder removes staging entries
   whose process is gone (:func:`remove_stale_staging`). :func:`terminate_as_exit` turns SIGTERM into an ordinary
   exit (status 143) so that the clean-up code runs.
4. Written files get the mode a plain ``open(path, "w")`` gives (``0o666 & ~umask``), never ``mkstemp``'s 0600.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path

from LesionSegLogic.errors import OutputError
from LesionSegLogic.io.formats import FORMATS

#: every staging file or folder LesionSeg creates starts with this (hidden, recognisable, removable)
STAGING_PREFIX = ".lesionseg-staging-"
_STAGING_PID = re.compile(re.escape(STAGING_PREFIX) + r"(\d+)-")
#: exit status of a command stopped by SIGTERM (128 + signal number, as a shell reports it)
TERMINATED_STATUS = 128 + signal.SIGTERM


def staging_path(target: str | PathLike[str]) -> Path:
    """A fresh staging name for ``target`` in the same folder (so ``os.replace`` is a rename on one file system).

    The name carries this process's id, which lets a later run tell the debris of a killed run from the work in
    progress of a live one."""
    target = Path(target)
    return target.parent / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name}"


def staging_folder(target: str | PathLike[str]) -> Path:
    """A new, empty staging folder named by :func:`staging_path` for a writer of several files (a series, a case's
    outputs): its name carries this process's id, so :func:`remove_stale_staging` clears it after a kill."""
    folder = staging_path(target)
    folder.mkdir()
    return folder


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return False
    return True


def remove_stale_staging(folder: str | PathLike[str]) -> list[Path]:
    """Remove the staging files/folders in ``folder`` left by processes that no longer run; returns them."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _STAGING_PID.match(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


def _resolved(path: str | PathLike[str]) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def is_same_file(a: str | PathLike[str], b: str | PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name the same file: equal after resolving symbolic links, or hard links to one
    inode."""
    if _resolved(a) == _resolved(b):
        return True
    with contextlib.suppress(OSError, ValueError):
        return os.path.samefile(a, b)
    return False


def refuse_inputs(targets: Iterable[str | PathLike[str]], inputs: Iterable[str | PathLike[str] | None]) -> None:
    """Raise :class:`OutputError` when an output would be written over one of ``inputs`` (never allowed)."""
    given = [Path(p) for p in inputs if p is not None and str(p) != ""]
    for target in targets:
        for source in given:
            if is_same_file(target, source):
                raise OutputError(f"{target}: is an input of this command ({source}); refusing to overwrite it")


def refuse_image_extension(target: str | PathLike[str], what: str = "PNG picture") -> None:
    """A picture written to ``*.nii.gz``/``*.nrrd``/… is almost surely a slip for an image path: refuse it."""
    name = Path(target).name.lower()
    ext = next((e for e in FORMATS if name.endswith(e)), None)
    if ext is not None:
        raise OutputError(f"{target}: a {what} cannot go to a {FORMATS[ext][1]} file name ({ext}); "
                          "choose a .png path")


def claim_outputs(
    targets: Iterable[str | PathLike[str]],
    *,
    inputs: Iterable[str | PathLike[str] | None] = (),
    force: bool = False,
    override: str = "--force",
) -> list[Path]:
    """Check, before a command does any work, that it may write ``targets`` (files it will create or replace).

    Raises :class:`OutputError` when a target is one of ``inputs`` (always) or already exists (unless ``force``);
    the message names the files in the way and the option (``override``) that replaces them. Removes the stale
    staging debris of killed runs from the targets' folders. Returns the targets as paths.
    """
    paths = [Path(t) for t in targets]
    refuse_inputs(paths, inputs)
    for folder in dict.fromkeys(p.parent for p in paths):
        remove_stale_staging(folder)
    if force:
        return paths
    in_the_way = [p for p in paths if p.exists() or p.is_symlink()]
    if in_the_way:
        folders = {p.parent for p in in_the_way}
        if len(folders) == 1:
            names = ", ".join(p.name for p in in_the_way)
            where = str(next(iter(folders)))
        else:
            names = ", ".join(str(p) for p in in_the_way[:6]) + (", ..." if len(in_the_way) > 6 else "")
            where = f"{len(in_the_way)} file(s)"
        raise OutputError(
            f"{where}: earlier results in the way ({names}); nothing was written — use {override} to replace them"
        )
    return paths


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` instead of killing the process at once, so every
    ``finally``/clean-up of the writers runs. Restores the previous handler; a no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(TERMINATED_STATUS)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
