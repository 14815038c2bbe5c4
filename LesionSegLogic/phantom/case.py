"""The :class:`PhantomCase` result, its lesion table and ``write_case`` (NIfTI files + ``phantom.json``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from LesionSegLogic.image import Image

#: the files of every case (file name → the ``PhantomCase`` field written there), then the longitudinal ones;
#: ``phantom.json`` (:data:`CASE_JSON`) is written last
CASE_IMAGES: dict[str, str] = {"flair.nii.gz": "flair", "t2.nii.gz": "t2", "lesions.nii.gz": "lesions"}
LONGITUDINAL_IMAGES: dict[str, str] = {
    "baseline_flair.nii.gz": "baseline_flair", "baseline_lesions.nii.gz": "baseline_lesions",
    "new_lesions.nii.gz": "new_lesions",
}  # fmt: skip
CASE_JSON = "phantom.json"


def case_files(longitudinal: bool) -> tuple[str, ...]:
    """The names of the files :func:`write_case` writes into a case folder (the JSON last)."""
    return (*CASE_IMAGES, *(LONGITUDINAL_IMAGES if longitudinal else ()), CASE_JSON)


@dataclass(frozen=True)
class LesionRecord:
    """One lesion as reported in ``phantom.json`` (measured on the ground truth of the image it belongs to)."""

    id: int
    region: str
    volume_mm3: float  #: ground-truth voxels × voxel volume
    true_volume_mm3: float  #: Σ lesion fraction × voxel volume (the continuous shape, clipped to the tissue)
    centre_lps: tuple[float, float, float]  #: centroid of the ground-truth voxels, LPS mm
    n_voxels: int
    status: str = ""  #: longitudinal only: "stable", "enlarging" or "new"
    baseline_volume_mm3: float | None = None  #: longitudinal only (None for new lesions)
    t1_ms: float = 0.0
    t2_ms: float = 0.0
    pd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "region": self.region,
            "volume_mm3": round(self.volume_mm3, 4),
            "true_volume_mm3": round(self.true_volume_mm3, 4),
            "centre_lps": [round(c, 4) for c in self.centre_lps],
            "n_voxels": self.n_voxels,
            "relaxation": {"t1_ms": round(self.t1_ms, 1), "t2_ms": round(self.t2_ms, 1), "pd": round(self.pd, 3)},
        }
        if self.status:
            out["status"] = self.status
            base = self.baseline_volume_mm3
            out["baseline_volume_mm3"] = None if base is None else round(base, 4)
        return out


@dataclass(frozen=True)
class PhantomCase:
    """A generated case. ``flair``/``t2`` are int16 magnitude images, ``lesions`` the uint8 ground truth,
    ``lesion_labels`` the same labelled with the lesion ids of ``records``. Longitudinal cases hold the follow-up
    in ``flair``/``t2``/``lesions`` and add ``baseline_flair``, ``baseline_lesions`` and ``new_lesions``."""

    seed: int
    anatomy: str
    flair: Image
    t2: Image
    lesions: Image
    lesion_labels: Image
    records: tuple[LesionRecord, ...]
    snr: float
    metadata: dict[str, Any] = field(default_factory=dict)
    baseline_flair: Image | None = None
    baseline_lesions: Image | None = None
    new_lesions: Image | None = None

    @property
    def longitudinal(self) -> bool:
        return self.baseline_flair is not None

    def images(self) -> dict[str, tuple[Image, type]]:
        """File name → (image, dtype) of everything :func:`write_case` writes (masks uint8, images int16)."""
        files: dict[str, tuple[Image, type]] = {}
        for name, attribute in {**CASE_IMAGES, **LONGITUDINAL_IMAGES}.items():
            image = getattr(self, attribute)
            if image is not None:
                files[name] = (image, np.uint8 if "lesions" in attribute else np.int16)
        return files

    def to_json(self) -> dict[str, Any]:
        grid = self.flair
        return {
            "format": "lesionseg-phantom/1",
            "seed": self.seed,
            "anatomy": self.anatomy,
            "longitudinal": self.longitudinal,
            "grid": {
                "shape_zyx": list(grid.shape),
                "spacing_zyx_mm": list(grid.spacing),
                "origin_lps_mm": list(grid.origin),
                "direction_lps": np.asarray(grid.direction).tolist(),
            },
            "snr": round(self.snr, 3),
            **self.metadata,
            "n_lesions": len(self.records),
            "lesions": [r.to_json() for r in self.records],
        }


def measure_records(
    labels: Image, fractions: dict[int, tuple[tuple[slice, ...], np.ndarray]], info: dict[int, dict[str, Any]]
) -> tuple[LesionRecord, ...]:
    """Lesion table from a labelled ground truth: volumes and centroids are measured, never typed in."""
    ids = sorted(info)
    if not ids:
        return ()
    index = np.asarray(ids)
    counts = ndimage.sum_labels(np.ones(labels.shape, np.int8), labels.array, index)
    centroids = ndimage.center_of_mass(np.ones(labels.shape, np.int8), labels.array, index)
    records = []
    for lesion_id, count, centroid in zip(ids, counts, centroids, strict=True):
        box, fraction = fractions[lesion_id]
        centre = labels.index_to_physical(np.asarray(centroid))[0]
        meta = info[lesion_id]
        records.append(
            LesionRecord(
                id=int(lesion_id),
                region=meta["region"],
                volume_mm3=float(count) * labels.voxel_volume,
                true_volume_mm3=float(fraction.sum(dtype=np.float64)) * labels.voxel_volume,
                centre_lps=(float(centre[0]), float(centre[1]), float(centre[2])),
                n_voxels=int(count),
                status=meta.get("status", ""),
                baseline_volume_mm3=meta.get("baseline_volume_mm3"),
                t1_ms=meta["t1"],
                t2_ms=meta["t2"],
                pd=meta["pd"],
            )
        )
    return tuple(records)


def write_case(case: PhantomCase, folder: str | os.PathLike[str]) -> Path:
    """Write the case's NIfTI files and ``phantom.json`` into ``folder``; returns the folder.

    The whole case is written into one staging folder beside ``folder`` (the one atomic writer,
    :mod:`LesionSegLogic.io.write`), then renamed to ``folder`` (or, when ``folder`` exists, its files moved in,
    ``phantom.json`` removed first and moved in last, as :func:`LesionSegLogic.io.write.staged_outputs` does): a
    failure (a full disk, a signal) leaves no partial case and no temporary file. (``staged_outputs`` itself does
    not fit: it makes the case folder before writing, and a failed first write would leave it empty.) Whether an
    existing case may be replaced is the caller's decision (``lesionseg phantom --force``).
    """
    from LesionSegLogic.io.write import staged_file, write_image, write_json

    out = Path(folder)
    names = case_files(case.longitudinal)
    with staged_file(out, what="phantom case", directory=True) as staging:
        for name, (image, dtype) in case.images().items():
            write_image(image, staging / name, dtype=dtype)
        write_json(staging / CASE_JSON, case.to_json(), indent=1)
        if not out.exists():
            os.rename(staging, out)
        else:
            (out / CASE_JSON).unlink(missing_ok=True)  # the case is incomplete until the new phantom.json lands
            for name in names:
                os.replace(staging / name, out / name)
    return out
