"""DICOM outputs that reference the source series: the mask as a DICOM Segmentation, the probability map as a
DICOM Parametric Map (both with highdicom, which builds and checks the IODs of DICOM PS3.3 A.51 and A.75).

Both take an image on the grid of a :class:`~LesionSegLogic.io.dicom.DicomSeries` (``lesionseg predict`` writes
its maps on the FLAIR's own grid): frame ``k`` is ``array[k]`` and references the source file ``k``
(``series.files``), and highdicom copies that file's plane position and orientation, so a viewer overlays the
segment on the source series voxel for voxel. The segment is coded as SNOMED CT "Morphologically altered
structure" / "Lesion" (``49755003`` / ``52988006``), the codes of the review's own segment terminology.

Files are written next to their final name and moved into place; nothing is written when building the object
fails (a mask on another grid, a source file that cannot be referenced).
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from LesionSegLogic.errors import GeometryError, OutputError
from LesionSegLogic.image import Image
from LesionSegLogic.io.dicom import INSTALL_HINT, DicomSeries
from LesionSegLogic.io.write import staged_file

#: (coding scheme, value, meaning) of the segment: category and type
LESION_CATEGORY = ("SCT", "49755003", "Morphologically Altered Structure")
LESION_TYPE = ("SCT", "52988006", "Lesion")
SEGMENTATION_FILE = "mask.seg.dcm"
PARAMETRIC_MAP_FILE = "probability.pm.dcm"


@dataclass(frozen=True)
class DicomWriterInfo:
    """What the objects say made them (the DICOM enhanced general equipment module)."""

    manufacturer: str = "LesionSeg"
    model_name: str = "LesionSeg"
    software_version: str = "0"
    algorithm_name: str = "LesionSeg"
    series_number: int = 900
    segment_label: str = "MS lesion"


def build_segmentation(mask: Image, series: DicomSeries, info: DicomWriterInfo | None = None):
    """A binary ``highdicom.seg.Segmentation`` of ``mask`` (one segment) referencing ``series``."""
    hd = _highdicom()
    from pydicom.sr.codedict import codes

    info = info or DicomWriterInfo()
    sources = _sources(mask, series)
    algorithm = hd.AlgorithmIdentificationSequence(
        name=info.algorithm_name, version=info.software_version,
        family=codes.cid7162.ArtificialIntelligence,
    )
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=info.segment_label,
        segmented_property_category=hd.sr.CodedConcept(LESION_CATEGORY[1], LESION_CATEGORY[0], LESION_CATEGORY[2]),
        segmented_property_type=hd.sr.CodedConcept(LESION_TYPE[1], LESION_TYPE[0], LESION_TYPE[2]),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
    )
    return hd.seg.Segmentation(
        source_images=sources,
        pixel_array=(np.asarray(mask.array) > 0).astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment],
        **_new_series(info, info.series_number),
        series_description=f"{info.segment_label} segmentation",
        omit_empty_frames=False,
    )


def build_parametric_map(probability: Image, series: DicomSeries, info: DicomWriterInfo | None = None):
    """A float ``highdicom.pm.ParametricMap`` of ``probability`` (values in [0, 1]) referencing ``series``."""
    hd = _highdicom()

    info = info or DicomWriterInfo()
    sources = _sources(probability, series)
    mapping = hd.pm.RealWorldValueMapping(
        lut_label="probability",
        lut_explanation=f"{info.segment_label} probability",
        unit=hd.sr.CodedConcept("1", "UCUM", "no units"),
        value_range=(0.0, 1.0),
        slope=1.0,
        intercept=0.0,
    )
    return hd.pm.ParametricMap(
        source_images=sources,
        pixel_array=np.asarray(probability.array, dtype=np.float32),
        **_new_series(info, info.series_number + 1),
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[hd.VOILUTTransformation(window_center=0.5, window_width=1.0)],
        series_description=f"{info.segment_label} probability",
    )


def save_dataset(dataset, path: str | PathLike[str], protect: list[str | PathLike[str]] | None = None) -> Path:
    """Write a built object to ``path`` atomically (replacing an earlier output), never over one of ``protect``
    (the inputs: a file, or every file under a folder)."""
    target = Path(path)
    resolved = target.resolve()
    for guarded in (Path(p).resolve() for p in (protect or [])):
        if resolved == guarded or (guarded.is_dir() and resolved.exists() and resolved.is_relative_to(guarded)):
            raise OutputError(f"{target}: refusing to overwrite an input")
    with staged_file(target, what="DICOM object") as staged:
        dataset.save_as(staged, enforce_file_format=True)
    return target


def _sources(image: Image, series: DicomSeries) -> list:
    from pydicom import dcmread

    if not image.same_grid(series.image):
        raise GeometryError(f"is not on the grid of the DICOM series {series.folder} (shape {image.shape} vs "
                            f"{series.image.shape}); DICOM objects must overlay their source", image.name or None)
    return [dcmread(path, stop_before_pixels=True) for path in series.files]


def write_dicom_outputs(
    mask: Image | None, probability: Image | None, series: DicomSeries, out_dir: str | PathLike[str],
    info: DicomWriterInfo | None = None, protect: list[str | PathLike[str]] | None = None,
) -> dict[str, Path]:
    """``mask.seg.dcm`` (when ``mask``) and ``probability.pm.dcm`` (when ``probability``) in ``out_dir``; every
    object is built before anything is written."""
    built = {}
    if mask is not None:
        built[SEGMENTATION_FILE] = build_segmentation(mask, series, info)
    if probability is not None:
        built[PARAMETRIC_MAP_FILE] = build_parametric_map(probability, series, info)
    return {name: save_dataset(dataset, Path(out_dir) / name, protect) for name, dataset in built.items()}


def _highdicom():
    try:
        import highdicom
    except ImportError:
        raise OutputError(f"DICOM SEG and Parametric Map outputs need highdicom: {INSTALL_HINT}") from None
    return highdicom


def _new_series(info: DicomWriterInfo, series_number: int) -> dict[str, Any]:
    """The identity of a new one-instance derived series (new UIDs, LesionSeg as the device) shared by the SEG and
    the Parametric Map."""
    from pydicom.uid import generate_uid

    return {
        "series_instance_uid": generate_uid(), "series_number": series_number, "sop_instance_uid": generate_uid(),
        "instance_number": 1, "manufacturer": info.manufacturer, "manufacturer_model_name": info.model_name,
        "software_versions": info.software_version, "device_serial_number": "0",
    }  # fmt: skip
