"""Surface distances between two binary masks, in millimetres (spacing-aware).

The surface ``∂A`` of a mask is its voxels with at least one face neighbour (6-connectivity) outside the mask;
voxels on the image border count as surface. Voxel positions are ``index · spacing`` (array order), so the
distances are exact Euclidean distances in mm between voxel centres for any orthonormal direction matrix.
With ``d(a, ∂B) = min_b ‖a − b‖``:

* ``hd``   = ``max( max_{a∈∂A} d(a, ∂B), max_{b∈∂B} d(b, ∂A) )`` (Hausdorff distance);
* ``hd95`` = ``max( P95_{a∈∂A} d(a, ∂B), P95_{b∈∂B} d(b, ∂A) )`` (95th percentiles with linear interpolation,
  the MONAI ``compute_hausdorff_distance(percentile=95)`` convention);
* ``asd``  = ``(Σ_{a∈∂A} d(a, ∂B) + Σ_{b∈∂B} d(b, ∂A)) / (|∂A| + |∂B|)`` (average symmetric surface
  distance, the formula of animaSegPerfAnalyzer, Commowick et al. 2018).

Empty cases: if either mask is empty the distances are undefined (infinite for one empty mask, 0/0 for two)
and every value is ``None`` (JSON ``null``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

_FACE = ndimage.generate_binary_structure(3, 1)


def surface_voxels(mask: np.ndarray) -> np.ndarray:
    """Boolean surface of ``mask`` (see the module docstring)."""
    mask = np.asarray(mask, dtype=bool)
    return mask & ~ndimage.binary_erosion(mask, structure=_FACE, border_value=0)


def _surface_points(mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    return np.argwhere(surface_voxels(mask)) * np.asarray(spacing, dtype=np.float64)


def surface_distances(
    prediction: np.ndarray, reference: np.ndarray, spacing: tuple[float, float, float]
) -> dict[str, float | None]:
    """``{"hd", "hd95", "asd"}`` in mm, ``None`` when either mask is empty."""
    prediction = np.asarray(prediction, dtype=bool)
    reference = np.asarray(reference, dtype=bool)
    if not prediction.any() or not reference.any():
        return {"hd": None, "hd95": None, "asd": None}
    # crop to the joint bounding box: distances between the two surfaces do not change
    box = ndimage.find_objects((prediction | reference).astype(np.uint8))[0]
    a = _surface_points(prediction[box], spacing)
    b = _surface_points(reference[box], spacing)
    d_ab = cKDTree(b).query(a, k=1)[0]
    d_ba = cKDTree(a).query(b, k=1)[0]
    return {
        "hd": float(max(d_ab.max(), d_ba.max())),
        "hd95": float(max(np.percentile(d_ab, 95), np.percentile(d_ba, 95))),
        "asd": float((d_ab.sum() + d_ba.sum()) / (d_ab.size + d_ba.size)),
    }
