"""Write an :class:`~LesionSegLogic.image.Image` as a DICOM MR image series (one file per slice), with pydicom.

Used to make DICOM test data from phantom cases (``lesionseg phantom --dicom``) and by the tests of the DICOM
reader and the DICOM SEG writer. The geometry follows the DICOM image plane module (PS3.3 C.7.6.2):

* slice ``k`` is the file ``IM_<k+1>.dcm``: ``array[k]`` with rows along ``y`` (index ``j``) and columns along
  ``x`` (index ``i``);
* ``ImageOrientationPatient`` = the LPS directions of the ``i`` and ``j`` index axes (``direction[:, 0]``,
  ``direction[:, 1]``); ``PixelSpacing`` = (row spacing, column spacing) = ``(spacing_y, spacing_x)``;
* ``ImagePositionPatient`` of slice ``k`` = the LPS position of voxel ``(i, j, k) = (0, 0, k)``.

Pixels are stored as 16-bit integers. Integer-valued images within the int16 range are stored as they are
(``RescaleSlope`` 1, ``RescaleIntercept`` 0), so a reader gets the same numbers back; anything else is scaled
linearly onto 0..65535 (uint16) and :attr:`WrittenSeries.stored` holds the values a reader will see.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from LesionSegLogic.errors import GeometryError, OutputError
from LesionSegLogic.image import Image
from LesionSegLogic.io.write import staged_outputs

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
_INT16 = np.iinfo(np.int16)


@dataclass(frozen=True)
class SeriesOptions:
    """Who and what the series says it is; UIDs are made fresh when ``None``.

    Pass the same ``study_instance_uid`` and ``frame_of_reference_uid`` to several series of one examination
    (FLAIR and T2 of one session)."""

    series_description: str = "FLAIR"
    series_number: int = 1
    modality: str = "MR"
    patient_id: str = "LESIONSEG-PHANTOM"
    patient_name: str = "Phantom^LesionSeg"
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None
    study_date: str = "20260101"


@dataclass(frozen=True)
class WrittenSeries:
    """The files written (slice order ``k``), the series UID and the image exactly as a reader will see it."""

    folder: Path
    files: tuple[Path, ...]
    series_instance_uid: str
    stored: Image
    slope: float
    intercept: float


def write_dicom_series(
    image: Image, folder: str | PathLike[str], options: SeriesOptions | None = None
) -> WrittenSeries:
    """Write ``image`` into ``folder`` as one DICOM file per slice (see the module docstring for the geometry).

    The folder may already hold other series (a study folder); a file of the same name is never replaced
    (:class:`OutputError`). Files are written into a staging folder and moved into place.
    """
    from pydicom.uid import generate_uid

    options = options or SeriesOptions()
    direction = np.asarray(image.direction, dtype=float)
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-6):
        raise GeometryError("DICOM needs an orthonormal direction matrix (no shear)", image.name or None)
    stored_pixels, slope, intercept, signed = _quantise(image.array)
    series_uid = options.series_instance_uid or generate_uid()
    study_uid = options.study_instance_uid or generate_uid()
    frame_uid = options.frame_of_reference_uid or generate_uid()
    target = Path(folder)
    stem = f"S{options.series_number:03d}_IM_"
    names = [target / f"{stem}{k + 1:04d}.dcm" for k in range(image.shape[0])]
    clash = next((p for p in names if p.exists()), None)
    if clash is not None:
        raise OutputError(f"{clash}: exists already; refusing to overwrite it")
    with staged_outputs(names, what="series") as staging:
        for k, name in enumerate(names):
            dataset = _slice_dataset(image, k, stored_pixels[k], slope, intercept, signed, options,
                                     study_uid, series_uid, frame_uid)
            dataset.save_as(staging / name.name, enforce_file_format=True)
    values = stored_pixels.astype(np.float64) * slope + intercept
    stored = image.with_array(values.astype(np.float32), name=str(target))
    return WrittenSeries(target, tuple(names), series_uid, stored, slope, intercept)


def _quantise(array: np.ndarray) -> tuple[np.ndarray, float, float, bool]:
    """``(stored integers, slope, intercept, signed)``: exact for int16-range integers, else scaled to uint16."""
    values = np.asarray(array, dtype=np.float64)
    if np.all(values == np.round(values)) and values.min() >= _INT16.min and values.max() <= _INT16.max:
        return values.astype(np.int16), 1.0, 0.0, True
    low, high = float(values.min()), float(values.max())
    slope = (high - low) / 65535.0 if high > low else 1.0
    # DS holds 16 characters: round the slope/intercept to what is stored, then quantise with those numbers
    slope, low = float(f"{slope:.10g}"), float(f"{low:.10g}")
    stored = np.clip(np.round((values - low) / slope), 0, 65535).astype(np.uint16)
    return stored, slope, low, False


def _slice_dataset(image: Image, k: int, pixels: np.ndarray, slope: float, intercept: float, signed: bool,
                   options: SeriesOptions, study_uid: str, series_uid: str, frame_uid: str):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE  # type: ignore[assignment]  # pydicom takes a UID string
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MR_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = options.patient_name
    ds.PatientID = options.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = options.study_date
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = options.series_number
    ds.SeriesDescription = options.series_description
    ds.Modality = options.modality
    ds.Manufacturer = "LesionSeg"
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.InstanceNumber = k + 1
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.ScanningSequence = "RM"
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "3D"
    ds.SliceThickness = _ds(image.spacing[0])
    ds.SpacingBetweenSlices = _ds(image.spacing[0])
    ds.PixelSpacing = [_ds(image.spacing[1]), _ds(image.spacing[2])]
    ds.ImageOrientationPatient = [_ds(v) for v in (*image.direction[:, 0], *image.direction[:, 1])]
    position = image.index_to_physical(np.array([[k, 0, 0]]))[0]
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.SliceLocation = _ds(float(position @ np.cross(image.direction[:, 0], image.direction[:, 1])))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleSlope = _ds(slope)
    ds.RescaleIntercept = _ds(intercept)
    ds.RescaleType = "US"
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    return ds


def _ds(value: float) -> str:
    """A decimal string of at most 16 characters (DICOM's DS) holding ``value`` as precisely as it fits."""
    value = float(value)
    for digits in range(15, 5, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.6g}"


#: the images of a phantom case folder written as DICOM series by :func:`write_case_dicom`: file → description
CASE_SERIES = {"flair.nii.gz": "FLAIR", "t2.nii.gz": "T2", "baseline_flair.nii.gz": "baseline FLAIR"}


def write_case_dicom(case_folder: str | PathLike[str], suffix: str = "_dicom") -> dict[str, WrittenSeries]:
    """Write the images of a case folder (``flair.nii.gz`` ...; :data:`CASE_SERIES`) as DICOM series of one study
    and frame of reference into ``<stem><suffix>/`` beside them (``flair_dicom/`` ...). Float intensities are
    stored as 16-bit integers with a rescale slope (:attr:`WrittenSeries.stored` is what a reader gets)."""
    from pydicom.uid import generate_uid

    from LesionSegLogic.io.read import read_image

    folder = Path(case_folder)
    study, frame = generate_uid(), generate_uid()
    written: dict[str, WrittenSeries] = {}
    for number, (name, description) in enumerate(CASE_SERIES.items(), start=1):
        if (folder / name).is_file():
            options = SeriesOptions(series_description=description, series_number=number, patient_id=folder.name,
                                    study_instance_uid=study, frame_of_reference_uid=frame)  # fmt: skip
            stem = name.split(".")[0]
            written[name] = write_dicom_series(read_image(folder / name), folder / f"{stem}{suffix}", options)
    return written
