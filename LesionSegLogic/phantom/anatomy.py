"""Brain anatomy of the phantom: the MNI152 2009 tissue maps that ship inside the ``nilearn`` wheel.

``nilearn.datasets.load_mni152_template/gm_template/wm_template/brain_mask`` (ICBM 2009a nonlinear symmetric,
1 mm, 197×233×189) are read from the wheel's own data folder — nothing is downloaded. CSF = brain mask − GM − WM
(clipped to [0, 1]). The lateral ventricles (plus the third ventricle) are the deep CSF: CSF fraction ≥ 0.5,
≥ 15 mm inside the brain, within a central box of MNI space that excludes the midline fissure above the corpus
callosum and the basal cisterns, keeping connected components of ≥ 300 mm³.

Arrays are converted to the project's convention — ``(z, y, x)`` with the ITK/LPS geometry derived from the
NIfTI affine — so the phantom's images have the template's exact physical positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from LesionSegLogic.image import Image

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class BrainMaps:
    """MNI152 tissue fractions and derived maps on the template grid (arrays read-only, ``(z, y, x)``)."""

    gm: Image
    wm: Image
    csf: Image
    brain: Image  #: brain mask (bool)
    ventricles: Image  #: deep-CSF ventricle mask (bool)
    ventricle_distance: Image  #: distance (mm) to the nearest ventricle voxel
    cortex_distance: Image  #: distance (mm) to the nearest cortical-GM voxel (GM ≥ 0.5 within 25 mm of the surface)
    depth: Image  #: distance (mm) from the outside of the brain mask

    @property
    def grid(self) -> Image:
        return self.gm


def nifti_to_image(nifti: object, dtype: type = np.float32) -> Image:
    """A nibabel image as an :class:`Image` with LPS geometry from its affine (``(x, y, z)`` → ``(z, y, x)``)."""
    affine_lps = _RAS_TO_LPS @ np.asarray(nifti.affine)[:3, :4]  # type: ignore[attr-defined]
    matrix = affine_lps[:, :3]
    spacing_xyz = np.linalg.norm(matrix, axis=0)
    direction = matrix / spacing_xyz
    data = np.asarray(nifti.get_fdata(dtype=np.float32), dtype=dtype)  # type: ignore[attr-defined, var-annotated]
    array = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    return Image(array, tuple(spacing_xyz[::-1]), tuple(affine_lps[:, 3]), direction)


def _readonly(image: Image) -> Image:
    image.array.setflags(write=False)
    return image


def load_brain_maps() -> BrainMaps:
    """Load the bundled MNI152 maps (1 mm) and derive CSF, ventricles and distance maps (≈ 3 s)."""
    from nilearn import datasets

    gm = nifti_to_image(datasets.load_mni152_gm_template(resolution=1))
    wm = nifti_to_image(datasets.load_mni152_wm_template(resolution=1))
    brain_img = nifti_to_image(datasets.load_mni152_brain_mask(resolution=1))
    brain = brain_img.array > 0.5
    gm_a = np.where(brain, gm.array, 0).astype(np.float32)
    wm_a = np.where(brain, wm.array, 0).astype(np.float32)
    total = gm_a + wm_a
    over = total > 1
    gm_a[over] /= total[over]
    wm_a[over] /= total[over]
    csf_a = np.where(brain, 1.0 - gm_a - wm_a, 0).astype(np.float32)
    spacing = gm.spacing
    depth = ndimage.distance_transform_edt(brain, sampling=spacing).astype(np.float32)
    ventricles = _ventricles(gm.with_array(csf_a), depth)
    ventricle_distance = ndimage.distance_transform_edt(~ventricles, sampling=spacing).astype(np.float32)
    cortex = (gm_a >= 0.5) & (depth <= 25.0)
    cortex_distance = ndimage.distance_transform_edt(~cortex, sampling=spacing).astype(np.float32)
    return BrainMaps(
        gm=_readonly(gm.with_array(gm_a)),
        wm=_readonly(gm.with_array(wm_a)),
        csf=_readonly(gm.with_array(csf_a)),
        brain=_readonly(gm.with_array(brain)),
        ventricles=_readonly(gm.with_array(ventricles)),
        ventricle_distance=_readonly(gm.with_array(ventricle_distance)),
        cortex_distance=_readonly(gm.with_array(cortex_distance)),
        depth=_readonly(gm.with_array(depth)),
    )


def mni_coordinates(image: Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcastable MNI (RAS mm) coordinates x, y, z of every voxel of an axis-aligned ``image``."""
    affine = image.affine_ras()
    axes = []
    for a in range(3):  # array axis a ↔ index axis 2 − a
        column = affine[:3, 2 - a] * np.arange(image.shape[a])[:, None]
        shape = [1, 1, 1]
        shape[a] = image.shape[a]
        axes.append((column, shape))
    coords = []
    for r in range(3):
        total = affine[r, 3]
        parts = [np.reshape(col[:, r], shp) for col, shp in axes]
        coords.append(total + parts[0] + parts[1] + parts[2])
    return coords[0], coords[1], coords[2]


def _ventricles(csf: Image, depth: np.ndarray) -> np.ndarray:
    x, y, z = mni_coordinates(csf)
    box = (np.abs(x) <= 32) & (y >= -48) & (y <= 32) & (z >= 2) & (z <= 34) & ~((np.abs(x) <= 3) & (z >= 16))
    deep = (csf.array >= 0.5) & (depth >= 15.0) & box
    labels, n = ndimage.label(deep)
    if n == 0:
        return deep
    sizes = ndimage.sum_labels(deep, labels, np.arange(1, n + 1)) * csf.voxel_volume
    return np.isin(labels, 1 + np.flatnonzero(sizes >= 300.0))
