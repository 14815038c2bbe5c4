"""Where each lesion lies, for the McDonald 2017 dissemination-in-space (DIS) view (Thompson et al. 2018).

McDonald 2017 counts T2 lesions in four CNS areas: periventricular, cortical/juxtacortical, infratentorial and
spinal cord (Thompson et al. 2018, Lancet Neurol 17:162); lesions elsewhere in the white matter ("deep white
matter") do not count for DIS. Every lesion of the review gets one region:

* brain inputs — one of :data:`BRAIN_REGIONS`, by the **distance rule** on anatomy maps resampled onto the
  case's grid (:class:`RegionAtlas`), in this order of precedence:

  1. *infratentorial*: any voxel of the lesion in the brainstem/cerebellum box below the tentorium, in MNI space
     (:func:`infratentorial_mni`, the box the phantom generator places infratentorial lesions in);
  2. *periventricular*: any voxel within :data:`MARGIN_MM` (3 mm) of the lateral/third ventricles (touching them);
  3. *juxtacortical* (cortical/juxtacortical): any voxel within 3 mm of the cortex;
  4. otherwise *deep white matter*.

  The ventricle and cortex distance maps are the phantom's own (:mod:`LesionSegLogic.phantom.anatomy`: the
  MNI152 2009 tissue maps that ship in the nilearn wheel, ventricles = deep CSF, cortex = GM ≥ 0.5 near the
  surface). How they reach the case's grid:

  - **phantom cases** (a ``phantom.json`` beside the images): the phantom is generated in MNI space, so the maps
    are resampled with the identity (a longitudinal follow-up with the recorded session shift). Lesions that
    overlap a ground-truth phantom lesion take that lesion's recorded region (``phantom.json``), so the known
    lesions get exactly the generator's region; other lesions (false positives) get the distance rule.
  - **real scans**: an affine registration of the FLAIR to the MNI152 T1 template of the same wheel with
    SimpleITK (Mattes mutual information, multi-resolution; :func:`register_to_mni`), then the same maps.
    Why these tools: SimpleITK is already the project's resampling and I/O library (the design card's), and the
    nilearn wheel already ships the template and tissue maps offline — nothing is downloaded, no new dependency.
    Limits (docs/regions.md): an affine fit does not follow large ventricles (atrophy) or lesions that distort the
    anatomy; a head with skull registered to the skull-stripped template can be off by a few mm, so lesions
    within a few mm of the 3 mm margins may change class. The method is named in the atlas (``method``).

* spinal-cord inputs (:func:`LesionSegLogic.anatomy.guess_anatomy` says ``cord``, or a cord phantom) — the region
  is :data:`SPINAL_CORD` and the lesion's level is its position along the cord: millimetres below the top of the
  image (the cord phantom has no vertebral labels in its files; see docs/regions.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.spatial import cKDTree

from LesionSegLogic.errors import InputError
from LesionSegLogic.image import Image
from LesionSegLogic.io.convert import to_sitk
from LesionSegLogic.phantom.anatomy import BrainMaps, mni_coordinates, nifti_to_image
from LesionSegLogic.phantom.brain import REGIONS as BRAIN_REGIONS
from LesionSegLogic.phantom.brain import infratentorial_mni
from LesionSegLogic.phantom.case import CASE_JSON

SPINAL_CORD = "spinal_cord"
#: every region a lesion can get (brain regions from the phantom generator's vocabulary, then the cord)
REGIONS: tuple[str, ...] = (*BRAIN_REGIONS, SPINAL_CORD)
#: the words the faces show for each region
REGION_TITLES: dict[str, str] = {
    "periventricular": "periventricular", "juxtacortical": "juxtacortical/cortical",
    "deep_white_matter": "deep white matter", "infratentorial": "infratentorial", SPINAL_CORD: "spinal cord",
}
#: the McDonald 2017 DIS areas (Thompson et al. 2018): every region except deep white matter
DIS_REGIONS: tuple[str, ...] = tuple(r for r in REGIONS if r != "deep_white_matter")
#: "touching" a structure: within this distance (mm) of it
MARGIN_MM = 3.0
#: precedence of the distance rule (index = the code of :attr:`RegionAtlas.codes`; lowest wins)
PRECEDENCE: tuple[str, ...] = ("infratentorial", "periventricular", "juxtacortical", "deep_white_matter")
_FAR_MM = 1.0e3  # distance given to voxels outside the anatomy maps

MapsLoader = Callable[[], BrainMaps]


class RegistrationError(InputError):
    """The image could not be registered to the MNI152 template (its regions cannot be labelled)."""


@dataclass(frozen=True)
class RegionAtlas:
    """Region information on one case grid.

    ``codes`` (uint8, the case grid): the distance rule's class of each voxel (index into :data:`PRECEDENCE`);
    ``None`` for cord inputs. ``known`` (uint8 or ``None``): 1 + index into :data:`REGIONS` of the ground-truth
    phantom lesion covering a voxel, 0 elsewhere. ``cord_top_mm``: cord inputs — the S coordinate (mm) of the top
    of the image, from which :meth:`cord_level_mm` counts. ``method``: how the maps were obtained, in words.
    """

    method: str
    codes: np.ndarray | None = None
    known: np.ndarray | None = None
    cord_top_mm: float | None = None

    @property
    def is_cord(self) -> bool:
        return self.codes is None

    def cord_level_mm(self, s_mm: float) -> float:
        """Position along the cord: mm below the top of the image (NaN for brain inputs)."""
        return float("nan") if self.cord_top_mm is None else float(self.cord_top_mm - s_mm)

    def regions_of(self, labels: np.ndarray, n: int) -> list[str]:
        """The region of each lesion ``1..n`` of the label image ``labels`` (on the atlas grid)."""
        flat = np.flatnonzero(labels)
        return self.regions_at(flat, labels.ravel()[flat].astype(np.int64), n)

    def regions_at(self, flat: np.ndarray, lesion: np.ndarray, n: int) -> list[str]:
        """:meth:`regions_of` from the lesion voxels only: their flat indices ``flat`` and lesion numbers ``lesion``
        (1..n) — the cost follows the lesions' size, not the image's."""
        if n == 0:
            return []
        if self.codes is None:
            return [SPINAL_CORD] * n
        codes = self.codes.ravel()[flat]
        best = np.full(n + 1, len(PRECEDENCE) - 1, np.int64)
        for code in range(len(PRECEDENCE) - 2, -1, -1):  # the lowest code a lesion touches wins
            best[np.bincount(lesion[codes == code], minlength=n + 1) > 0] = code
        out = [PRECEDENCE[c] for c in best[1:]]
        if self.known is not None:
            known = self.known.ravel()[flat]
            inside = known > 0
            width = len(REGIONS) + 1
            counts = np.bincount(lesion[inside] * width + known[inside], minlength=(n + 1) * width)
            counts = counts.reshape(n + 1, width)
            for index in np.flatnonzero(counts[1:].sum(axis=1)):
                out[index] = REGIONS[int(counts[index + 1].argmax()) - 1]
        return out


# ---------------------------------------------------------------------------------------------- building atlases
def atlas_from_mni(grid: Image, maps: BrainMaps, to_mni: sitk.Transform, method: str,
                   known: np.ndarray | None = None) -> RegionAtlas:
    """The distance rule's classes on ``grid``, from the MNI maps; ``to_mni`` maps a point of ``grid`` (LPS mm)
    to the MNI point (LPS mm) it shows (SimpleITK's fixed → moving convention)."""
    reference = to_sitk(grid.with_array(np.zeros(grid.shape, np.uint8)))

    def onto_grid(image: Image, nearest: bool, outside: float) -> np.ndarray:
        source = to_sitk(image, np.uint8 if nearest else np.float32)
        resampled = sitk.Resample(source, reference, to_mni, sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear,
                                  outside, source.GetPixelID())
        return sitk.GetArrayFromImage(resampled)

    x, y, z = mni_coordinates(maps.grid)
    infra_mni = maps.grid.with_array(np.broadcast_to(infratentorial_mni(x, y, z), maps.grid.shape) & maps.brain.array)
    infra = onto_grid(infra_mni, True, 0) > 0
    ventricles = onto_grid(maps.ventricle_distance, False, _FAR_MM) <= MARGIN_MM
    cortex = onto_grid(maps.cortex_distance, False, _FAR_MM) <= MARGIN_MM
    codes = np.full(grid.shape, PRECEDENCE.index("deep_white_matter"), np.uint8)
    codes[cortex] = PRECEDENCE.index("juxtacortical")
    codes[ventricles] = PRECEDENCE.index("periventricular")
    codes[infra] = PRECEDENCE.index("infratentorial")
    return RegionAtlas(method, codes, known)


def cord_atlas(grid: Image, method: str = "spinal cord: position along the cord (mm below the top of the image)"
               ) -> RegionAtlas:
    """Cord inputs: every lesion is :data:`SPINAL_CORD`; the level counts from the image's top (largest S)."""
    corners = np.array([[z, y, x] for z in (0, grid.shape[0] - 1) for y in (0, grid.shape[1] - 1)
                        for x in (0, grid.shape[2] - 1)], float)
    return RegionAtlas(method, cord_top_mm=float(grid.index_to_physical(corners)[:, 2].max()))


def phantom_atlas(grid: Image, case: Mapping[str, Any], truth: np.ndarray | None, maps_loader: MapsLoader
                  ) -> RegionAtlas:
    """A phantom case (its ``phantom.json`` as ``case``): the generator's own anatomy, and the ground truth's
    recorded regions for the lesions of ``truth`` (the case's ``lesions.nii.gz`` on ``grid``)."""
    if case.get("anatomy") == "cord":
        return cord_atlas(grid, "cord phantom: position along the cord (mm below the top of the image)")
    shift = np.asarray((case.get("longitudinal") or {}).get("shift_lps_mm", (0.0, 0.0, 0.0)), float)
    known = None if truth is None else _known_regions(grid, truth, case.get("lesions") or [])
    return atlas_from_mni(grid, maps_loader(), sitk.TranslationTransform(3, tuple(-shift)),
                          "phantom anatomy (the generator's MNI152 maps) and its recorded lesion regions", known)


def _known_regions(grid: Image, truth: np.ndarray, records: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
    """Label the ground truth (26-connected: the generator's lesions never touch) and give each component the
    region of the ``phantom.json`` record whose measured centre is nearest its centroid."""
    records = [r for r in records if r.get("centre_lps") is not None]
    labels, n = ndimage.label(np.asarray(truth) > 0, structure=np.ones((3, 3, 3), bool))
    if n == 0 or not records:
        return None
    centroids = np.asarray(ndimage.center_of_mass(np.ones(labels.shape, np.int8), labels, np.arange(1, n + 1)))
    _, nearest = cKDTree(np.array([r["centre_lps"] for r in records], float)).query(grid.index_to_physical(centroids))
    lut = np.zeros(n + 1, np.uint8)
    lut[1:] = [_region_code(str(records[int(i)].get("region", ""))) for i in np.atleast_1d(nearest)]
    return lut[labels]


def _region_code(phantom_region: str) -> int:
    """1 + index into :data:`REGIONS` of a phantom's recorded region; a variant of a region (the generator's
    ``confluent_periventricular`` clusters) counts as the region it names; 0 for anything else."""
    for index, region in enumerate(REGIONS):
        if phantom_region == region or phantom_region.endswith("_" + region):
            return 1 + index
    return 0


def mni_template() -> Image:
    """The MNI152 2009 T1 template (2 mm) that ships inside the nilearn wheel (nothing is downloaded)."""
    from nilearn import datasets  # heavy, only for real scans

    return nifti_to_image(datasets.load_mni152_template(resolution=2))


#: registration levels (shrink factors; smoothing σ = factor / 2 mm): a full-resolution level took 3.7× the time for
#: the same fit (benchmarks/bench_regions.py, docs/regions.md)
SHRINK_FACTORS = (4, 2)


def register_to_mni(image: Image, template: Image | None = None, *, seed: int = 1,
                    shrink: tuple[int, ...] = SHRINK_FACTORS) -> sitk.Transform:
    """Affine transform mapping points of ``image`` (LPS mm) to the MNI template's (SimpleITK registration:
    moments initialisation, Mattes mutual information on 10 % of the voxels, regular-step gradient descent at
    the :data:`SHRINK_FACTORS` resolutions). Deterministic for a given ``seed``."""
    template = template if template is not None else mni_template()
    fixed = to_sitk(image, np.float32)
    moving = to_sitk(template, np.float32)
    try:
        initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.AffineTransform(3),
                                                    sitk.CenteredTransformInitializerFilter.MOMENTS)
        return _register(fixed, moving, initial, seed, shrink)
    except RuntimeError as error:  # SimpleITK's exceptions: a blank image, no overlap with the template
        first = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise RegistrationError(f"registration to the MNI152 template failed: {first}", image.name or None) from None


def _register(fixed: sitk.Image, moving: sitk.Image, initial: sitk.Transform, seed: int,
              shrink: tuple[int, ...]) -> sitk.Transform:
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.1, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-3, numberOfIterations=150,
                                                     relaxationFactor=0.6)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([int(f) for f in shrink])
    method.SetSmoothingSigmasPerLevel([0.0 if f <= 1 else f / 2.0 for f in shrink])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    return method.Execute(fixed, moving)


def registered_atlas(flair: Image, maps_loader: MapsLoader, template: Image | None = None) -> RegionAtlas:
    """Real brain scans: :func:`register_to_mni`, then the distance rule on the MNI maps."""
    transform = register_to_mni(flair, template)
    return atlas_from_mni(flair, maps_loader(), transform,
                          "affine registration to the MNI152 template (SimpleITK), distance rule on its maps")


def atlas_for_case(flair: Image, *, reference: np.ndarray | None = None, folder: str | os.PathLike | None = None,
                   maps_loader: MapsLoader | None = None) -> RegionAtlas:
    """The atlas for a case: a phantom's (``folder`` holds ``phantom.json``; ``reference`` is its ground truth),
    the cord's (the image's extent says spinal cord), else a registered one."""
    from LesionSegLogic.anatomy import guess_anatomy
    from LesionSegLogic.phantom.anatomy import load_brain_maps

    loader = maps_loader or load_brain_maps
    described = Path(folder) / CASE_JSON if folder is not None else None
    if described is not None and described.is_file():
        try:
            case = json.loads(described.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"cannot read the phantom description: {error}", str(described)) from error
        truth = reference if reference is not None and reference.shape == flair.shape else None
        return phantom_atlas(flair, case, truth, loader)
    if guess_anatomy(flair) == "cord":
        return cord_atlas(flair)
    return registered_atlas(flair, loader)


# ---------------------------------------------------------------------------------------------- per review row
def regions_by_row(atlas: RegionAtlas, rows: Sequence[Any], mask: np.ndarray, reference: np.ndarray | None,
                   label: Callable[[np.ndarray], tuple[np.ndarray, int]],
                   reference_regions: dict[tuple[str, int], str] | None = None) -> dict[tuple[str, int], str]:
    """``(kind, id) → region`` for the lesion rows of one threshold (the engine's rows: ``kind``, ``id``,
    ``centroid_zyx``). ``label`` numbers the components of a mask as the engine does (its matching rule's
    connectivity and size limit, raster order). Reference rows are those components in raster order; predicted rows
    (numbered by the engine by peak probability) are matched to the components of ``mask`` by their centroids.
    ``reference_regions``: the reference's part from an earlier call (it does not move with the threshold: the
    caller keeps :func:`reference_regions` per reference and atlas)."""
    out: dict[tuple[str, int], str] = {}
    predicted = [r for r in rows if r.kind == "predicted"]
    if predicted:
        labels, n = label(mask)
        flat = np.flatnonzero(labels)
        lesion = labels.ravel()[flat].astype(np.int64)
        regions = atlas.regions_at(flat, lesion, n)
        if n:
            sizes = np.maximum(np.bincount(lesion, minlength=n + 1)[1:], 1)
            zyx = np.unravel_index(flat, labels.shape)
            centroids = np.stack([np.bincount(lesion, weights=axis, minlength=n + 1)[1:] / sizes for axis in zyx], 1)
            _, nearest = cKDTree(centroids).query(np.array([r.centroid_zyx for r in predicted], float))
            for row, component in zip(predicted, np.atleast_1d(nearest), strict=True):
                out[("predicted", int(row.id))] = regions[int(component)]
    if reference is not None and any(r.kind == "reference" for r in rows):
        if reference_regions is None:
            reference_regions = reference_regions_of(atlas, reference, label)
        out.update(reference_regions)
    return out


def reference_regions_of(atlas: RegionAtlas, reference: np.ndarray,
                         label: Callable[[np.ndarray], tuple[np.ndarray, int]]) -> dict[tuple[str, int], str]:
    """``("reference", id) → region`` of the reference lesions (ids: ``label``'s raster order, as the engine's)."""
    labels, n = label(reference)
    return {("reference", lesion): region for lesion, region in enumerate(atlas.regions_of(labels, n), start=1)}
