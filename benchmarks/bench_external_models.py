"""Benchmark: models you bring beside LesionSeg's own — agreement and time on one phantom case.

* **LesionSeg's own** zoo model (``dice``, torch) through ``Predictor.run``: the baseline time.
* **ONNX**: the same model exported by ``export_onnx`` (default exporter) and run by onnxruntime through the
  same sliding-window engine: max |p_onnx − p_torch| and its time.
* **nnU-Net v2**: a folder made by nnU-Net's own tools (``nnUNetv2_plan_and_preprocess`` + its trainer for a
  few batches on phantom cases) run (a) by ``lesionseg predict --model FOLDER`` (safe load + nnU-Net's
  predictor, mirroring on) and (b) by ``nnUNetv2_predict_from_modelfolder --save_probabilities`` (its own loader,
  reader and writer), each a process with the same nnU-Net environment: max |p_lesionseg − p_nnunet| and both
  times (process start and imports included in both).

Times are ratios against the baseline measured in the same run (the machine is shared); the load is printed.

    .venv/bin/python benchmarks/bench_external_models.py [--spacing 2] [--fov 96,128,128] [--iterations 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "Testing"))


def _phantoms(folder: Path, n: int, spacing: float, fov: str) -> list[Path]:
    from LesionSegLogic.cli import main

    main(["phantom", str(folder), "--cases", str(n), "--seed", "7", "--spacing", str(spacing), "--fov", fov])
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacing", type=float, default=2.0, help="phantom voxel size, mm (default 2)")
    parser.add_argument("--fov", default="96,128,128", help="phantom field of view mm z,y,x (default: the zoo's "
                        "training crops)")
    parser.add_argument("--iterations", type=int, default=2, help="nnU-Net training batches (default 2)")
    args = parser.parse_args()

    import nnunet_folder_fixture as fx
    import torch

    from LesionSegLogic.external.onnx_export import export_onnx
    from LesionSegLogic.io import read_image
    from LesionSegLogic.predictor import Predictor, PredictSettings

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    settings = PredictSettings(device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = _phantoms(work / "phantoms", 4, args.spacing, args.fov)
        images = [{"flair": c / "flair.nii.gz", "t2": c / "t2.nii.gz"} for c in cases]
        test = images[-1]
        shape = read_image(test["flair"]).shape
        rows = []

        torch_run, own_s = _timed(lambda: Predictor.load("dice", settings).run(test))
        p_torch = torch_run.probability.array
        rows.append(("LesionSeg zoo 'dice' (torch)", own_s, None, "baseline"))

        export, export_s = _timed(lambda: export_onnx("dice", work / "dice_onnx"))
        onnx_run, onnx_s = _timed(lambda: Predictor.load(export.onnx_path, settings).run(test))
        diff_onnx = float(np.abs(onnx_run.probability.array - p_torch).max())
        rows.append(("ONNX export of 'dice' (torch.onnx)", export_s, None, "one-off"))
        rows.append(("'dice' as ONNX (onnxruntime, same engine)", onnx_s, diff_onnx, "vs torch"))

        labels = [c / "lesions.nii.gz" for c in cases[:-1]]
        (folder, env), train_s = _timed(lambda: fx.train_folder(work / "nnunet", images[:-1], labels,
                                                                iterations=args.iterations))
        ours_path, ours_s = _timed(lambda: fx.lesionseg_predict(folder, test, work / "ours", env))
        npz, theirs_s = _timed(lambda: fx.nnunet_predict_probabilities(folder, test, work, env))
        p_nnunet = np.load(npz)["probabilities"][1]
        diff_nnunet = float(np.abs(read_image(ours_path, role="probability").array - p_nnunet).max())
        summary = json.loads((ours_path.parent / "summary.json").read_text())
        rows.append((f"nnU-Net plan+preprocess+train ({args.iterations} batches)", train_s, None, "one-off"))
        rows.append(("lesionseg predict --model NNUNET_FOLDER (process)", ours_s, diff_nnunet, "vs nnU-Net"))
        rows.append(("nnUNetv2_predict_from_modelfolder (process)", theirs_s, None, "reference"))

    load = os.getloadavg()
    print(f"phantom case {shape} voxels at {args.spacing} mm; CPU, {torch.get_num_threads()} torch thread(s); "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; nnU-Net network "
          f"{summary['model']['architecture']}, patch {summary['settings']['patch_size']}, mirroring on; both nnU-Net "
          "runs are processes with nnUNet_def_n_proc=1")
    print(f"| {'what':<52} | {'seconds':>8} | {'× own model':>11} | {'max |Δp|':>9} | note |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 13}|{'-' * 11}|------|")
    for name, seconds, diff, note in rows:
        shown = "" if diff is None else f"{diff:.1e}"
        print(f"| {name:<52} | {seconds:8.1f} | {seconds / own_s:11.2f} | {shown:>9} | {note} |")
    return 0 if diff_onnx <= 1e-4 and diff_nnunet <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
