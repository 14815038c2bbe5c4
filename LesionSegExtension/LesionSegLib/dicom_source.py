"""Which DICOM series a review's FLAIR came from — what a DICOM SEG / Parametric Map export must reference.

Qt-free and light (pydicom imported on use), so the panel presenter can say whether a review can be exported as
DICOM before the exporter (matplotlib, highdicom) is imported. Two ways a FLAIR comes from DICOM:

* read from a **DICOM series folder** by path (the web app's open fields, scripts): ``ReviewSession.flair_source``;
* loaded by **Slicer's DICOM module** (desktop): the volume node carries ``DICOM.instanceUIDs`` (set by
  ``DICOMScalarVolumePlugin``), and each UID's file is found in Slicer's DICOM database
  (``slicer.dicomDatabase.fileForInstance``), passed in as ``locate``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from LesionSegLogic.errors import LesionSegError

#: the node attribute Slicer's DICOM module (DICOMScalarVolumePlugin) sets on a volume it loaded: the SOP Instance
#: UIDs of its slices, space-separated
DICOM_UIDS_ATTRIBUTE = "DICOM.instanceUIDs"
#: what the faces say when a DICOM export is asked for a review whose FLAIR did not come from DICOM
NOT_DICOM = ("DICOM SEG / Parametric Map export needs a FLAIR read from a DICOM series (a DICOM folder, or a volume "
             "loaded by Slicer's DICOM module); this review's FLAIR {what}: export NIfTI instead")


def is_dicom_review(session) -> bool:
    """True when the review's FLAIR came from DICOM (a series folder, or a node Slicer's DICOM module loaded)."""
    source = getattr(session, "flair_source", None)
    if source is not None and Path(source).is_dir():
        return True
    return bool(_instance_uids(getattr(session, "flair_node", None)))


def _instance_uids(node) -> list[str]:
    """The ``DICOM.instanceUIDs`` of a volume node (none for another object, or a node not loaded from DICOM)."""
    attribute = getattr(node, "GetAttribute", None)
    return (attribute(DICOM_UIDS_ATTRIBUTE) or "").split() if attribute is not None else []


def dicom_source(session, locate: Callable[[str], str] | None = None):
    """The DICOM series the review's FLAIR came from, for ``export_review(dicom_seg=..., dicom_pmap=...)``: the series
    folder it was read from (``session.flair_source``: the web app and scripts open DICOM folders by path), or —
    desktop Slicer — the series of the volume node Slicer's DICOM module loaded (its ``DICOM.instanceUIDs``
    attribute, each UID's file found by ``locate``, i.e. ``slicer.dicomDatabase.fileForInstance``). A
    :class:`LesionSegError` saying so when the FLAIR is not DICOM."""
    folder = getattr(session, "flair_source", None)
    if folder is not None and Path(folder).is_dir():
        return Path(folder)
    uids = _instance_uids(session.flair_node)
    files = [f for f in (locate(uid) for uid in uids) if f] if locate is not None else []
    if uids and len(files) == len(uids):
        return series_of_files([Path(f) for f in files])
    if uids:
        raise LesionSegError(NOT_DICOM.format(what="was loaded from DICOM, but its files are no longer in the DICOM "
                                              "database"))
    what = f"was read from {folder}" if folder is not None else "was not read from DICOM"
    raise LesionSegError(NOT_DICOM.format(what=what))


def series_of_files(files: list[Path]):
    """The :class:`LesionSegLogic.io.dicom.DicomSeries` of these instance files (one series: chosen by its UID in
    their common folder, where Slicer's database keeps each series)."""
    from pydicom import dcmread

    from LesionSegLogic.io.dicom import read_dicom_series

    folder = Path(os.path.commonpath([str(f.parent) for f in files]))
    uid = str(dcmread(files[0], stop_before_pixels=True, specific_tags=["SeriesInstanceUID"]).SeriesInstanceUID)
    return read_dicom_series(folder, series=uid)
