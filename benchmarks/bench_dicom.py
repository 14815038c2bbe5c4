"""DICOM benchmark: LesionSeg's checked series reader and its DICOM SEG writer against baselines in the same run.

* read — ``read_image(series folder)`` (pydicom header pass + geometry checks + GDCM pixels) against SimpleITK's
  bare ``ImageSeriesReader`` on the same sorted files (no checks), and against ``read_image`` of the NIfTI of the
  same volume;
* write — the DICOM SEG of a mask (highdicom) against ``write_image`` of the same mask as NIfTI.

Prints the median of several repeats and the ratio to the baseline (ratios, not absolute times: the machines are
shared and noisy), with the load average.

    python benchmarks/bench_dicom.py [--shape 160,192,160] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from timing import median_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.io.dicom import read_dicom_series
from LesionSegLogic.io.dicom_seg import build_segmentation, save_dataset
from LesionSegLogic.io.dicom_write import write_dicom_series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="160,192,160", help="z,y,x voxels (default: a 1 mm brain FLAIR)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    rng = np.random.default_rng(0)
    array = np.round(rng.normal(300, 40, shape)).astype(np.float32)  # integer intensities, as a scanner stores
    image = Image(array, (1.0, 1.0, 1.0), (-80.0, -96.0, -80.0))
    mask = image.with_array((rng.random(shape) > 0.999).astype(np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        written = write_dicom_series(image, root / "series")
        nifti = write_image(image, root / "flair.nii.gz")
        files = [str(p) for p in written.files]

        def bare_itk() -> np.ndarray:
            reader = sitk.ImageSeriesReader()
            reader.SetImageIO("GDCMImageIO")
            reader.SetFileNames(files)
            return sitk.GetArrayFromImage(reader.Execute())

        series = read_dicom_series(root / "series")
        count = iter(range(10**6))
        rows = [
            ("read series: read_image vs bare ImageSeriesReader", median_time(bare_itk, args.repeats),
             median_time(lambda: read_image(root / "series"), args.repeats)),
            ("read: DICOM series vs NIfTI of the same volume", median_time(lambda: read_image(nifti), args.repeats),
             median_time(lambda: read_image(root / "series"), args.repeats)),
            ("write mask: DICOM SEG vs NIfTI", median_time(
                lambda: write_image(mask, root / f"m{next(count)}.nii.gz"), args.repeats),
             median_time(lambda: save_dataset(build_segmentation(mask, series), root / f"s{next(count)}.dcm"),
                         args.repeats)),
        ]  # fmt: skip
    print(f"volume {shape} ({shape[0]} slice files), median of {args.repeats}; load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'operation (ours vs baseline)':<52} {'baseline s':>10} {'ours s':>8} {'ratio':>6}")
    for name, baseline, ours in rows:
        print(f"{name:<52} {baseline:>10.3f} {ours:>8.3f} {ours / baseline:>6.2f}")


if __name__ == "__main__":
    main()
