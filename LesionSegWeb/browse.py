"""The page's file picker: a server-side browser over the folders the app may read, so a user chooses the FLAIR,
T2, reference and probability map by clicking instead of typing server paths.

What may be read is decided by :class:`LesionSegWeb.files.PathGate` alone (the folders named on the command
line and ``--allow``; paths resolved, symbolic links followed): the browser lists a folder only through
``PathGate.folder``, shows an entry only when ``PathGate.allows`` its resolved path (a link that points out of
the allowed folders is not listed), and goes up only while the parent is allowed (above a root it shows the
roots). A chosen file lands in the panel's path field of its role; **Open files** / **Open case** then read and
check it exactly as a typed path (``PathGate.file``/``case``, ``check_openable``), so nothing here replaces
those checks.

State (set by the server only; the page's clicks call the methods, which check their arguments):
``browse_folder`` (the listed folder, ``""`` for the list of roots), ``browse_entries``
(``[{name, path, kind}]``, kind ``folder``/``dicom``/``image``), ``browse_can_up``, ``browse_selected``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import InputError, LesionSegError

from .files import VOLUME_SUFFIXES, OutsideAllowedError, PathGate

#: The roles a picked image can take: the panel's path fields (``path_<role>``), in the order of its buttons.
ROLES: dict[str, str] = {"flair": "FLAIR", "t2": "T2", "reference": "Reference", "probability": "Probability"}
#: At most this many entries of one folder are listed (folders first, then images).
MAX_ENTRIES = 500
#: A folder whose first files include a DICOM file (``DICM`` at byte 128) is offered as a DICOM series.
_DICOM_PROBE_FILES = 8


@dataclass(frozen=True)
class Entry:
    """One row of the picker: ``kind`` is ``folder``, ``dicom`` (a DICOM series folder) or ``image``."""

    name: str
    path: str
    kind: str


def is_volume_file(path: Path) -> bool:
    """A file the project's reader takes by its name (:data:`LesionSegWeb.files.VOLUME_SUFFIXES`)."""
    return path.name.lower().endswith(VOLUME_SUFFIXES)


def holds_dicom(folder: Path) -> bool:
    """True when one of the first few files of ``folder`` is a DICOM file (``DICM`` magic at byte 128)."""
    probed = 0
    try:
        for child in sorted(folder.iterdir()):
            if probed >= _DICOM_PROBE_FILES:
                break
            if not child.is_file():
                continue
            probed += 1
            with child.open("rb") as handle:
                head = handle.read(132)
            if head[128:132] == b"DICM":
                return True
    except OSError:
        return False
    return False


class FolderBrowser:
    """Lists the allowed folders for the page (see the module's docstring)."""

    def __init__(self, gate: PathGate) -> None:
        self.gate = gate

    def roots(self) -> list[Entry]:
        return [Entry(str(root), str(root), "folder") for root in self.gate.roots if root.is_dir()]

    def listing(self, folder: str | Path) -> list[Entry]:
        """The sub-folders and image files of an allowed folder (hidden ones and links out of the allowed folders
        left out); raises :class:`~LesionSegWeb.files.OutsideAllowedError` for a folder outside them."""
        where = self.gate.folder(folder, "folder")
        folders: list[Entry] = []
        images: list[Entry] = []
        try:
            children = sorted(where.iterdir(), key=lambda p: p.name.lower())
        except OSError as error:
            raise InputError(f"cannot list this folder ({error.strerror or error})", where) from error
        for child in children:
            if child.name.startswith("."):
                continue
            resolved = child.resolve()
            if not self.gate.allows(resolved):
                continue
            if resolved.is_dir():
                folders.append(Entry(child.name, str(resolved), "dicom" if holds_dicom(resolved) else "folder"))
            elif resolved.is_file() and is_volume_file(child):
                images.append(Entry(child.name, str(resolved), "image"))
        return (folders + images)[:MAX_ENTRIES]

    def parent(self, folder: str | Path) -> Path | None:
        """The folder above ``folder`` while it is allowed; ``None`` above a root (the page shows the roots)."""
        where = self.gate.folder(folder, "folder")
        up = where.parent
        return up if up != where and self.gate.allows(up) else None

    def pickable(self, path: str | Path) -> Path:
        """``path`` resolved, when it is an image file or a DICOM series folder the app may read."""
        resolved = Path(str(path)).expanduser().resolve()
        if not self.gate.allows(resolved):
            raise OutsideAllowedError("the chosen file is outside the folders this app may read", path)
        if not (resolved.is_file() and is_volume_file(resolved)) and not (resolved.is_dir() and holds_dicom(resolved)):
            raise InputError("choose an image file (NIfTI, NRRD, MHA) or a DICOM series folder", path)
        return resolved


class BrowserBinding:
    """The picker's state and actions on one trame ``state`` (messages go to the panel's ``message``)."""

    def __init__(self, state: Any, browser: FolderBrowser) -> None:
        self.state = state
        self.browser = browser
        self.show_roots()

    def _error(self, error: LesionSegError) -> None:
        self.state.message, self.state.message_kind = str(error), "error"

    def show_roots(self) -> None:
        self.state.browse_folder, self.state.browse_can_up, self.state.browse_selected = "", False, ""
        self.state.browse_entries = [asdict(e) for e in self.browser.roots()]

    def enter(self, folder: Any) -> bool:
        """Open a folder of the list (or a DICOM folder's contents); a folder outside the allowed ones is refused
        with a panel message and the listing stays."""
        try:
            entries = self.browser.listing(str(folder))
            where = self.browser.gate.folder(str(folder), "folder")
        except LesionSegError as error:
            self._error(error)
            return False
        self.state.browse_folder, self.state.browse_entries = str(where), [asdict(e) for e in entries]
        self.state.browse_can_up, self.state.browse_selected = True, ""
        return True

    def up(self) -> bool:
        """One folder up; above an allowed root, the list of roots (never a folder above them)."""
        if not self.state.browse_folder:
            return False
        try:
            parent = self.browser.parent(self.state.browse_folder)
        except LesionSegError as error:
            self._error(error)
            return False
        if parent is None:
            self.show_roots()
            return True
        return self.enter(str(parent))

    def activate(self, path: Any, kind: Any) -> bool:
        """A click on a row: a folder opens, an image or a DICOM series folder is selected."""
        return self.enter(path) if kind == "folder" else self.select(path)

    def select(self, path: Any) -> bool:
        try:
            self.state.browse_selected = str(self.browser.pickable(str(path)))
        except LesionSegError as error:
            self._error(error)
            return False
        return True

    def use(self, role: Any) -> bool:
        """Put the selected image in the panel's path field of ``role`` (FLAIR, T2, reference, probability)."""
        if role not in ROLES:
            return False
        if not self.state.browse_selected:
            self._error(InputError("choose a file in the list first"))
            return False
        try:
            path = self.browser.pickable(self.state.browse_selected)
        except LesionSegError as error:
            self._error(error)
            return False
        self.state[f"path_{role}"] = str(path)
        self.state.message, self.state.message_kind = f"{ROLES[role]}: {path.name}", "info"
        return True

    def use_folder_as_case(self) -> bool:
        """Put the listed folder in the panel's case-folder field."""
        if not self.state.browse_folder:
            return False
        self.state.path_case = self.state.browse_folder
        self.state.message, self.state.message_kind = f"Case folder: {Path(self.state.browse_folder).name}", "info"
        return True
