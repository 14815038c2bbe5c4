"""The desktop panel's lesion navigation, Qt-free (the presenter holds one; ``Testing/test_presenter_lesions.py``):
"Next FN"/"Next FP" over the session's lesion rows, the lesion-load line, and labelling the regions.

The panel's table shows the session's lesion table node row for row (``ReviewSession.lesions`` order), so the row
a step lands on is the table node's row the widget selects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from LesionSegLogic.errors import InputError

from .lesion_list import LesionList, describe_load, load_summary


class LesionNavigator:
    """Next FN/FP in the table's order (wrapping), the load line, the regions of one review at a time."""

    def __init__(self) -> None:
        self.list = LesionList()

    def next(self, session: Any, status: str, backwards: bool = False) -> int:
        """Step to the next lesion with ``status`` after the one last stepped to (or clicked), centre, zoom and mark
        it in the views (``session.jump_to_lesion``); returns its table row. No such lesion: an ``InputError``."""
        self.list.set_rows(session.lesions)
        row = self.list.next(status, backwards=backwards)
        if row is None:
            raise InputError(f"no {status} lesion at this threshold")
        session.jump_to_lesion(row.id, row.kind)
        return self.row(session)

    def clicked(self, session: Any, index: int) -> None:
        """A table row was clicked: the next step continues from it."""
        rows = session.lesions
        if 0 <= index < len(rows):
            self.list.set_rows(rows)
            self.list.focus_on(rows[index].kind, rows[index].id)

    def row(self, session: Any) -> int:
        """The table row of the lesion in focus (−1: none, or it is gone at this threshold)."""
        for index, row in enumerate(session.lesions):
            if row.key == self.list.focus:
                return index
        return -1

    @staticmethod
    def load_text(session: Any) -> str:
        """:func:`.lesion_list.describe_load` of the session's rows ("" before a review)."""
        if session is None or session.state is None:
            return ""
        return describe_load(load_summary(session.lesions, session.reference is not None))

    @staticmethod
    def label_regions(session: Any) -> str:
        """Label the lesions' regions (``LesionSegLogic.regions.atlas_for_case``: a phantom's when the FLAIR's file
        has a ``phantom.json`` beside it, a cord's, else a registration to MNI152 — seconds, in this thread); returns
        how they were labelled. An image that is neither brain nor cord by its extent is refused."""
        from LesionSegLogic.anatomy import guess_anatomy
        from LesionSegLogic.phantom.case import CASE_JSON
        from LesionSegLogic.regions import atlas_for_case

        folder = _file_folder(session.flair_node)
        phantom = folder is not None and (folder / CASE_JSON).is_file()
        if not phantom and guess_anatomy(session.flair) is None:
            raise InputError("cannot tell brain from spinal cord by the image's extent: no regions labelled")
        atlas = atlas_for_case(session.flair, reference=session.reference, folder=folder)
        session.set_region_atlas(atlas)
        return atlas.method


def _file_folder(node: Any) -> Path | None:
    """The folder of the file a volume node was loaded from (its storage node), ``None`` for a node made in memory."""
    storage = node.GetStorageNode() if node is not None and hasattr(node, "GetStorageNode") else None
    name = storage.GetFileName() if storage is not None else None
    return Path(name).parent if name else None
