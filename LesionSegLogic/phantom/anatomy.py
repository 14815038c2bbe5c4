"""Brain anatomy of the phantom: the MNI152 2009 tissue maps that ship inside the ``nilearn`` wheel.

``nilearn.datasets.load_mni152_template/gm_template/wm_template/brain_mask`` (ICBM 2009a nonlinear symmetric,
1 mm, 197×233×189) are read from the wheel's own data folder (:func:`mni152_1mm`) — nothing is downloaded.
CSF = brain mask − GM − WM (clipped to [0, 1]). The lateral ventricles (plus the third ventricle) are the deep
CSF: CSF fraction ≥ 0.5, ≥ 15 mm inside the brain, within a central box of MNI space that excludes the midline
fissure above the corpus callosum and the basal cisterns, keeping connected components of ≥ 300 mm³.

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


#: The MNI152 2009a 1 mm files in the nilearn wheel's data folder (``nilearn.datasets.struct``'s ``MNI152_FILE_PATH``,
#: ``GM_MNI152_FILE_PATH``, ``WM_MNI152_FILE_PATH``).
MNI152_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
#: ``nilearn.datasets.load_mni152_brain_mask``'s default threshold on the [0, 1]-scaled T1 template
BRAIN_MASK_THRESHOLD = 0.2


def mni152_1mm(kind: str) -> Image:
    """The 1 mm MNI152 ``kind`` map (``"t1"``, ``"gm"`` or ``"wm"``) as ``nilearn.datasets.load_mni152_template`` /
    ``_gm_template`` / ``_wm_template(resolution=1)`` return it — float32 scaled to a maximum of 1 — read with nibabel
    from the nilearn wheel's data folder. Importing ``nilearn.datasets`` imports scikit-learn and pandas (≈ 3.5 s of a
    4 s map load); ``Testing/test_phantom.py`` checks the maps equal nilearn's own."""
    import importlib.util
    from pathlib import Path

    import nibabel as nib

    from LesionSegLogic.errors import FileMissingError

    spec = importlib.util.find_spec("nilearn")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(folders[0] if folders else ".") / "datasets" / "data" / MNI152_FILES[kind]
    if not path.is_file():
        raise FileMissingError("the MNI152 template that ships in the nilearn wheel is missing "
                               "(pip install nilearn)", path)
    nifti = nib.Nifti1Image.from_filename(path)
    data = np.asanyarray(nifti.dataobj).astype("float32")  # nilearn's get_data + typecast
    data /= data.max()
    return nifti_to_image(nib.Nifti1Image(data, nifti.affine))


def load_brain_maps() -> BrainMaps:
    """Load the bundled MNI152 maps (1 mm) and derive CSF, ventricles and distance maps (≈ 4 s)."""
    gm = mni152_1mm("gm")
    wm = mni152_1mm("wm")
    brain = mni152_1mm("t1").array > BRAIN_MASK_THRESHOLD
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
