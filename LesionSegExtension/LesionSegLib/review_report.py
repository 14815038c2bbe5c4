"""The HTML report of the open review (both faces; Qt-free): :mod:`LesionSegLogic.report` fed from a
:class:`ReviewSession` at its current threshold, with the reader's notes and, when the session has a region atlas
(:mod:`LesionSegLogic.regions`), the lesion regions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from LesionSegLogic.errors import OutputError
from LesionSegLogic.report import ReportData, report_data, write_report

from .export import _input_paths, _node_file, review_provenance


def session_report(session, notes: Mapping[str, str] | None = None, title: str = "") -> ReportData:
    """The :class:`ReportData` of ``session`` at its current threshold, overlay mode and rule."""
    if session.state is None or session.engine is None:
        raise OutputError("nothing to report: no probability map has been thresholded yet")
    session.sync_prediction()
    regions, method = None, None
    atlas = getattr(session, "region_atlas", None)
    if atlas is not None:
        from LesionSegLogic.metrics.lesion import label_components
        from LesionSegLogic.regions import regions_by_row

        result = session.state.result
        voxel = session.flair.voxel_volume
        regions = regions_by_row(atlas, result.lesions, result.mask, session.reference,
                                 lambda mask: label_components(mask, session.engine.rule, voxel))
        method = atlas.method
    accepted = session.accepted_node.GetName() if session.accepted_node is not None else None
    return report_data(session.flair, session.engine, session.state.threshold, provenance=review_provenance(session),
                       mode=session.parameters.mode, notes=notes, regions=regions, regions_method=method,
                       title=title or f"LesionSeg review — {_case_name(session)}",
                       model_name=session.model_name, recommended_threshold=session.recommended_threshold,
                       accepted_name=accepted)


def _case_name(session) -> str:
    """``case/flair.nii.gz`` when the FLAIR was read from a file, else the FLAIR node's name."""
    path = _node_file(session.flair_node)
    return f"{path.parent.name}/{path.name}" if path is not None else session.flair_node.GetName()


def export_report(session, path: str | os.PathLike[str], notes: Mapping[str, str] | None = None,
                  *, overwrite: bool = False) -> Path:
    """Write the report of ``session`` to ``path`` (HTML); never over an input, nor over a file unless
    ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: exists already (choose another name)")
    protect = list(_input_paths(session)) + [Path(p) for p in getattr(session, "source_files", {}).values()]
    return write_report(session_report(session, notes), path, protect=protect)
