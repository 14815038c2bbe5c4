#!/usr/bin/env python
"""Data of zoo v2 (issue 12): generate the phantom sets, then pack normalised training arrays for the GPU run.

    .venv/bin/python scripts/zoo_data.py generate            # resumable: skips cases whose phantom.json exists
    .venv/bin/python scripts/zoo_data.py pack                # -> .zoo_pack/<set>.npz + .zoo_pack/manifest.json

**Sets** (:data:`SETS`), each ``DATA/<set>/{pool,tune,test}/phantomNNNN`` phantom case folders (:data:`SPLITS`):
``pool`` with the ``train`` generator setting (training + validation), ``tune`` with the ``tune`` setting (the
threshold-optimisation set of Hussein et al. 2023, never trained on), ``test`` with the ``shifted`` setting (held-out
acquisition, never trained or tuned on; :mod:`LesionSegLogic.phantom.presets`):

* ``brain`` — FLAIR + T2 (also the data of the FLAIR-only models), 1.5 mm grid, a 96×128×128 mm field of view
  around the ventricles (as ``scripts/train_zoo.py``);
* ``cord`` — T2-w sagittal cervical cord (``flair.nii.gz`` is a copy of the T2-w image);
* ``longitudinal`` — baseline FLAIR + follow-up FLAIR/T2, reference ``new_lesions.nii.gz``.

**Pack**: every pool case is read, normalised as :mod:`LesionSegLogic.predictor` normalises for a card with
``"normalisation": "zscore-foreground"`` (:func:`LesionSegLogic.training.data.zscore`), cropped to its
foreground box (+ a margin), and stored as uint8 codes ``round((z − LOW) · STEPS)`` (:data:`QUANT_LOW`,
:data:`QUANT_STEP`: 1/16 of a standard deviation) with the mask bit-packed, in one compressed ``.npz`` per set.
The ``difference`` channel of the longitudinal models is computed on the device from the two normalised FLAIRs
with the predictor's formula (follow-up − baseline), so it is not stored.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path("/work/zoo_v2/data")
PACK = ROOT / ".zoo_pack"
#: brain field of view (z, y, x) mm around the ventricles, as scripts/train_zoo.py
BRAIN_FOV_MM = (96.0, 128.0, 128.0)
#: uint8 quantisation of normalised intensities: code = round((z − QUANT_LOW) / QUANT_STEP), z = LOW + code · STEP
QUANT_LOW = -8.0
QUANT_STEP = 1.0 / 16.0
#: margin (voxels) kept around the foreground box when packing
CROP_MARGIN = 4


@dataclass(frozen=True)
class DataSet:
    """One zoo data set: anatomy, longitudinal or not, case counts and the series seeds of pool, tune and test."""

    name: str
    anatomy: str
    longitudinal: bool
    n_pool: int
    n_test: int
    pool_seed: int
    test_seed: int
    n_tune: int
    tune_seed: int
    #: the images packed per case (file stems), and the mask
    images: tuple[str, ...]
    mask: str

    def fov_mm(self) -> tuple[float, float, float] | None:
        return BRAIN_FOV_MM if self.anatomy == "brain" else None


SETS: dict[str, DataSet] = {
    s.name: s
    for s in (
        DataSet("brain", "brain", False, 40, 8, 1200, 9200, 8, 5200, ("flair", "t2"), "lesions"),
        DataSet("cord", "cord", False, 30, 8, 1300, 9300, 6, 5300, ("t2",), "lesions"),
        DataSet("longitudinal", "brain", True, 30, 8, 1400, 9400, 6, 5400, ("baseline_flair", "flair"),
                "new_lesions"),
    )
}


def case_folder(data: Path, dataset: DataSet, split: str, index: int) -> Path:
    return data / dataset.name / split / f"phantom{index:04d}"


def _generate_job(job: tuple[str, str, int, str]) -> str:
    set_name, split, index, data_s = job
    import torch

    torch.set_num_threads(1)
    from LesionSegLogic.phantom import case_seed, generate_case, write_case
    dataset = SETS[set_name]
    setting = split_setting(split)
    series = getattr(dataset, f"{split}_seed")
    fov = dataset.fov_mm()
    options = setting.options(dataset.anatomy, index, **({"fov_mm": fov} if fov else {}))
    maps = _maps() if dataset.anatomy == "brain" else None
    case = generate_case(case_seed(series, index), anatomy=dataset.anatomy, longitudinal=dataset.longitudinal,
                         options=options, maps=maps)
    folder = write_case(case, case_folder(Path(data_s), dataset, split, index))
    return f"{folder}: {len(case.records)} lesions, grid {case.flair.shape}"


_MAPS: list[Any] = []


def _maps() -> Any:
    """The MNI maps, loaded once per worker process."""
    if not _MAPS:
        from LesionSegLogic.phantom import load_brain_maps

        _MAPS.append(load_brain_maps())
    return _MAPS[0]


#: split → the name of its generator setting (:data:`LesionSegLogic.phantom.presets.PRESETS`)
SPLIT_SETTINGS: dict[str, str] = {"pool": "train", "tune": "tune", "test": "shifted"}
SPLITS = tuple(SPLIT_SETTINGS)


def split_setting(split: str) -> Any:
    """The :class:`~LesionSegLogic.phantom.presets.GeneratorSetting` a split is generated with."""
    from LesionSegLogic.phantom.presets import PRESETS

    return PRESETS[SPLIT_SETTINGS[split]]


def generation_order(sets: list[str], splits: tuple[str, ...] = SPLITS) -> list[tuple[str, str, int]]:
    """Interleaved so that a partial run already has cases of every set (the splits in the order given)."""
    jobs = []
    for split in splits:
        longest = max(getattr(SETS[s], f"n_{split}") for s in sets)
        for i in range(longest):
            jobs += [(s, split, i) for s in sets if i < getattr(SETS[s], f"n_{split}")]
    return jobs


def generate(data: Path, sets: list[str], jobs: int, splits: tuple[str, ...] = SPLITS) -> None:
    todo = [(s, split, i, str(data)) for s, split, i in generation_order(sets, splits)
            if not (case_folder(data, SETS[s], split, i) / "phantom.json").is_file()]
    print(f"{len(todo)} case(s) to generate", flush=True)
    t0 = time.time()
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as ex:
        for line in ex.map(_generate_job, todo):
            print(f"[{time.time() - t0:6.0f} s] {line}", flush=True)
    write_settings(data, sets)


def write_settings(data: Path, sets: list[str]) -> None:
    """``DATA/settings.json``: the sets, their seeds and the generator setting of each split (read by the pack)."""
    out = {
        "sets": {s: {**SETS[s].__dict__, "fov_mm": SETS[s].fov_mm()} for s in sets},
        "seed_rule": "case i of a split uses LesionSegLogic.phantom.case_seed(series seed, i)",
        "generator_settings": {split: split_setting(split).to_json() for split in SPLITS},
    }
    (data / "settings.json").write_text(json.dumps(out, indent=1))


# ------------------------------------------------------------------------------------------------------ pack
def quantise(z: Any) -> Any:
    import numpy as np

    return np.clip(np.rint((z - QUANT_LOW) / QUANT_STEP), 0, 255).astype(np.uint8)


def dequantise(codes: Any) -> Any:
    import numpy as np

    return (codes.astype(np.float32) * np.float32(QUANT_STEP) + np.float32(QUANT_LOW)).astype(np.float32)


def _foreground_box(mask: Any, margin: int) -> tuple[slice, ...]:
    import numpy as np

    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + margin + 1, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def pack_case(folder: Path, dataset: DataSet) -> dict[str, Any]:
    """One case: normalised channels (uint8 codes, cropped to the foreground box) and the mask."""
    import numpy as np

    from LesionSegLogic.io.read import read_image
    from LesionSegLogic.preprocessing import foreground_mask
    from LesionSegLogic.training.data import zscore

    images = [read_image(folder / f"{stem}.nii.gz") for stem in dataset.images]
    foreground = foreground_mask(images[-1].array)
    for image in images[:-1]:
        foreground |= foreground_mask(image.array)
    box = _foreground_box(foreground, CROP_MARGIN)
    channels = [quantise(zscore(im.array)[box]) for im in images]
    mask = read_image(folder / f"{dataset.mask}.nii.gz", role="mask").array[box] > 0
    return {"image": np.stack(channels), "mask": mask, "spacing": images[0].spacing, "name": folder.name}


def pack(data: Path, out: Path, sets: list[str], limit: dict[str, int]) -> None:
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"quantisation": {"low": QUANT_LOW, "step": QUANT_STEP, "dtype": "uint8"},
                                "git_commit": _git_commit(), "sets": {}}
    settings = json.loads((data / "settings.json").read_text()) if (data / "settings.json").is_file() else {}
    for name in sets:
        dataset = SETS[name]
        folders = sorted(p.parent for p in (data / name / "pool").glob("phantom*/phantom.json"))
        folders = folders[: limit.get(name, len(folders))]
        cases = [pack_case(f, dataset) for f in folders]
        arrays: dict[str, Any] = {}
        for i, c in enumerate(cases):
            arrays[f"image_{i:03d}"] = c["image"]
            arrays[f"mask_{i:03d}"] = np.packbits(c["mask"].ravel())
            arrays[f"shape_{i:03d}"] = np.asarray(c["mask"].shape, np.int32)
        np.savez_compressed(out / f"{name}.npz", **arrays)
        manifest["sets"][name] = {
            "file": f"{name}.npz",
            "cases": [c["name"] for c in cases],
            "images": list(dataset.images),
            "mask": dataset.mask,
            "spacing": [list(c["spacing"]) for c in cases],
            "lesion_voxels": [int(c["mask"].sum()) for c in cases],
            "normalisation": "zscore-foreground (LesionSegLogic.training.data.zscore), per channel",
            "bytes": (out / f"{name}.npz").stat().st_size,
            "generator": settings.get("sets", {}).get(name),
        }
        print(f"{name}: {len(cases)} cases, {manifest['sets'][name]['bytes'] / 2**20:.1f} MiB", flush=True)
    manifest["generator_settings"] = settings.get("generator_settings")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"pack: {total / 2**20:.1f} MiB in {out}", flush=True)


def load_pack(folder: Path, name: str) -> list[tuple[Any, Any]]:
    """The packed cases of set ``name``: [(image float32 (C, z, y, x) normalised, mask bool (z, y, x))]."""
    import numpy as np

    with np.load(folder / f"{name}.npz") as z:
        n = sum(1 for k in z.files if k.startswith("image_"))
        out = []
        for i in range(n):
            shape = tuple(int(s) for s in z[f"shape_{i:03d}"])
            count = int(np.prod(shape))
            mask = np.unpackbits(z[f"mask_{i:03d}"], count=count).reshape(shape).astype(bool)
            out.append((dequantise(z[f"image_{i:03d}"]), mask))
    return out


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=("generate", "pack", "settings"))
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=PACK, help="pack folder (ignored by git)")
    p.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--splits", nargs="*", default=list(SPLITS), choices=SPLITS, help="generate these splits")
    p.add_argument("--limit", nargs="*", default=[], help="pack at most N pool cases of a set: SET=N")
    args = p.parse_args(argv)
    if args.stage == "generate":
        generate(args.data, args.sets, args.jobs, tuple(args.splits))
    elif args.stage == "settings":
        write_settings(args.data, args.sets)
    else:
        limit = {k: int(v) for k, v in (item.split("=") for item in args.limit)}
        pack(args.data, args.out, args.sets, limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
