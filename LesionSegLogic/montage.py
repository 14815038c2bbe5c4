"""PNG montage of a case: axial and sagittal FLAIR and T2 through the lesion load, ground truth as a contour.

Uses ``matplotlib.figure.Figure`` with the Agg canvas directly (no pyplot, no global state). Slices are chosen
through the ground-truth voxels (the axial and sagittal planes holding the most lesion voxels) or the centre when
there are none. Intensities are windowed to the 0.5–99.5th percentiles of the non-zero voxels; pixels are drawn
with their physical aspect ratio (spacing), so anisotropic grids look right.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from LesionSegLogic.errors import FileMissingError
from LesionSegLogic.image import Image


def _axis_codes(image: Image) -> tuple[int, int, int]:
    """For each array axis, the LPS axis (0 x/LR, 1 y/AP, 2 z/SI) it runs along most."""
    codes = []
    for a in range(3):
        column = np.asarray(image.direction)[:, 2 - a]
        codes.append(int(np.argmax(np.abs(column))))
    return tuple(codes)  # type: ignore[return-value]


def _plane(image: Image, normal_lps: int, index: int | None, weight: np.ndarray | None) -> tuple[int, int]:
    """(array axis normal to the plane, slice index) for the plane normal to the LPS axis ``normal_lps``."""
    axis = _axis_codes(image).index(normal_lps)
    if index is not None:
        return axis, index
    if weight is not None and weight.any():
        other = tuple(a for a in range(3) if a != axis)
        return axis, int(np.argmax(weight.sum(axis=other)))
    return axis, image.shape[axis] // 2


def _oriented(image: Image, array: np.ndarray, axis: int) -> tuple[np.ndarray, float]:
    """A slice (2-D) oriented for display (superior / anterior up, patient left on the right) and its aspect."""
    codes = _axis_codes(image)
    rows_cols = [a for a in range(3) if a != axis]
    # vertical display axis: SI if present, else AP; horizontal: the other
    vertical = max(rows_cols, key=lambda a: (codes[a] == 2, codes[a] == 1))
    horizontal = next(a for a in rows_cols if a != vertical)
    plane = np.moveaxis(array, (vertical, horizontal), (0, 1)) if array.ndim == 3 else array
    direction = np.asarray(image.direction)
    sign_v = np.sign(direction[codes[vertical], 2 - vertical])
    sign_h = np.sign(direction[codes[horizontal], 2 - horizontal])
    # superior (+z LPS) or anterior (−y LPS) up; image-left = patient right (−x LPS... radiological: +x right)
    up_positive = codes[vertical] == 2
    if (sign_v > 0) == up_positive:
        plane = plane[::-1]
    right_positive = codes[horizontal] == 0  # radiological: patient left (+x LPS) on the screen right
    if codes[horizontal] == 1:
        right_positive = True  # sagittal: anterior (−y) on the left, posterior (+y) on the right
    if (sign_h > 0) != right_positive:
        plane = plane[:, ::-1]
    aspect = image.spacing[vertical] / image.spacing[horizontal]
    return plane, aspect


def _window(array: np.ndarray) -> tuple[float, float]:
    values = array[array > 0]
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(values, [0.5, 99.5])
    return float(lo), float(max(hi, lo + 1e-6))


def render_montage(
    images: dict[str, Image],
    truth: Image | None,
    path: str | os.PathLike[str],
    *,
    title: str = "",
    dpi: int = 110,
    plain_first: bool = True,
) -> Path:
    """Write a montage PNG: rows axial and sagittal; one column per image in ``images`` (label → image) with
    the ground-truth contour, preceded by the first image without contour when ``plain_first``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    first_label, first = next(iter(images.items()))
    columns = [(first_label, first, False)] if plain_first and truth is not None else []
    columns += [(label, image, truth is not None) for label, image in images.items()]
    weight = truth.array > 0 if truth is not None else None
    planes = [("axial", 2), ("sagittal", 0)]
    fig = Figure(figsize=(4.2 * len(columns), 8.6), facecolor="black")
    FigureCanvasAgg(fig)
    for row, (plane_name, normal) in enumerate(planes):
        axis, index = _plane(first, normal, None, weight)
        for col, (label, image, contour) in enumerate(columns):
            ax = fig.add_subplot(len(planes), len(columns), row * len(columns) + col + 1)
            data, aspect = _oriented(image, np.take(image.array, index, axis=axis), axis)
            lo, hi = _window(image.array)
            ax.imshow(data, cmap="gray", vmin=lo, vmax=hi, aspect=aspect, interpolation="nearest")
            if contour and truth is not None:
                mask, _ = _oriented(truth, np.take(truth.array, index, axis=axis) > 0, axis)
                if mask.any():
                    ax.contour(mask.astype(float), levels=[0.5], colors=["#ff3030"], linewidths=0.6)
            ax.set_title(f"{label} — {plane_name} {index}", color="white", fontsize=9)
            ax.set_axis_off()
    if title:
        fig.suptitle(title, color="white", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi, what="montage")


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int, what: str) -> Path:
    """Save a matplotlib ``Figure`` as PNG with the one atomic writer (:func:`LesionSegLogic.io.write.staged_file`);
    OutputError if it cannot. Whether ``path`` may be replaced is the caller's decision (``claim_outputs``)."""
    from LesionSegLogic.io.write import staged_file
    from LesionSegLogic.io.write_policy import refuse_image_extension

    refuse_image_extension(path, f"{what} (PNG)")
    target = Path(path)
    with staged_file(target, what=what) as staged:
        fig.savefig(staged, dpi=dpi, facecolor="black", format="png")
    return target


#: the files of a case folder a montage reads, in column order (label, file name)
CASE_IMAGES = (("baseline FLAIR", "baseline_flair.nii.gz"), ("FLAIR", "flair.nii.gz"), ("T2", "t2.nii.gz"))
#: ground-truth files, the first one present is drawn as the contour
CASE_TRUTHS = ("new_lesions.nii.gz", "lesions.nii.gz")


def case_inputs(case_dir: str | os.PathLike[str]) -> list[Path]:
    """Every file of ``case_dir`` that :func:`montage_case` may read (an output must never replace one)."""
    folder = Path(case_dir)
    return [folder / name for name in (*(n for _, n in CASE_IMAGES), *CASE_TRUTHS)]


def montage_case(case_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Montage of a phantom (or any) case folder holding ``flair.nii.gz``, ``t2.nii.gz`` and ``lesions.nii.gz``
    (and ``baseline_flair.nii.gz`` / ``new_lesions.nii.gz`` when present: the contour is then the new lesions)."""
    from LesionSegLogic.io import read_image
    from LesionSegLogic.io.write_policy import refuse_inputs

    folder = Path(case_dir)
    refuse_inputs([path], case_inputs(folder))
    if not folder.is_dir():
        raise FileMissingError("not a case folder", folder)
    images: dict[str, Image] = {}
    for label, name in CASE_IMAGES:
        if (folder / name).exists():
            images[label] = read_image(folder / name)
    if not images:
        raise FileMissingError("no flair.nii.gz or t2.nii.gz in the case folder", folder)
    truth_name = next((name for name in CASE_TRUTHS if (folder / name).exists()), CASE_TRUTHS[-1])
    truth = read_image(folder / truth_name, role="mask") if (folder / truth_name).exists() else None
    return render_montage(images, truth, path, title=f"{folder.name} — contour: {truth_name if truth else 'none'}")
