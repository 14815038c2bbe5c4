"""I/O benchmark: LesionSeg's checked reader/writer against bare SimpleITK, measured in the same run.

Prints median wall time of several repeats and the ratio to the baseline (ratios, not absolute times:
the machines are shared). The NIfTI integrity scan (complete gzip stream, NaN count) is the main overhead.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from timing import median_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.preprocessing import foreground_mask, zscore_normalise

SHAPE = (160, 192, 160)  # ~ 1 mm brain FLAIR
REPEATS = 5


def main() -> None:
    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n, dtype=np.float32) for n in SHAPE], indexing="ij")
    head = (z**2 + y**2 + x**2) < 0.8
    array = (np.where(head, 300.0, 5.0) + rng.normal(0, 10, SHAPE)).astype(np.float32)
    image = Image(array, (1.0, 1.0, 1.0))
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        for ext in (".nii.gz", ".nii", ".nrrd", ".mha"):
            path = write_image(image, Path(folder) / f"bench{ext}")
            base = median_time(lambda p=path: sitk.GetArrayFromImage(sitk.ReadImage(str(p))), REPEATS)
            ours = median_time(lambda p=path: read_image(p), REPEATS)
            rows.append((f"read {ext}  (baseline sitk.ReadImage)", base, ours))
        itk_image = sitk.GetImageFromArray(array)
        target = Path(folder) / "w.nii.gz"
        base = median_time(lambda: sitk.WriteImage(itk_image, str(target), True), REPEATS)
        ours = median_time(lambda: write_image(image, Path(folder) / "w2.nii.gz"), REPEATS)
        rows.append(("write .nii.gz (baseline sitk.WriteImage)", base, ours))
    base = median_time(lambda: (array - array.mean()) / array.std(), REPEATS)
    ours = median_time(lambda: zscore_normalise(array, head), REPEATS)
    rows.append(("zscore in mask (baseline global z-score)", base, ours))
    ours = median_time(lambda: foreground_mask(array), REPEATS)
    rows.append(("foreground_mask (baseline global z-score)", base, ours))
    print(f"volume {SHAPE} float32, median of {REPEATS}")
    print(f"{'operation':<44} {'baseline s':>10} {'ours s':>8} {'ratio':>6}")
    for name, b, o in rows:
        print(f"{name:<44} {b:>10.3f} {o:>8.3f} {o / b:>6.2f}")


if __name__ == "__main__":
    main()
