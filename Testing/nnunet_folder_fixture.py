"""Write a real nnU-Net v2 trained-model folder through nnunetv2's own API, with untrained weights (for tests).

``dataset.json`` and ``plans.json`` as nnU-Net's planner writes them (a tiny 2-stage ``PlainConvUNet`` so a CPU
test is quick), the network from nnunetv2's ``get_network_from_plans`` and ``fold_<k>/checkpoint_final.pth`` in
the format of ``nnUNetTrainer.save_checkpoint`` (weights, an SGD optimizer state with momentum buffers, the
logger's numpy-scalar lists, init args with a ``torch.device``). ``extra`` entries are added to the checkpoint
dict (to plant objects the allow-list must refuse).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: channel order on purpose not LesionSeg's (flair first): the loader must follow dataset.json
CHANNELS = {"0": "T2", "1": "FLAIR"}
LABELS = {"background": 0, "lesion": 1}
PATCH = [16, 16, 16]
#: Spacing (mm, z y x; not the plans' 2 mm: nnU-Net resamples there and back) and origin of the test images.
CASE_SPACING = (2.5, 1.8, 1.8)
CASE_ORIGIN = (10.0, -20.0, 5.0)
ARCHITECTURE = {
    "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
    "arch_kwargs": {
        "n_stages": 2, "features_per_stage": [4, 8], "conv_op": "torch.nn.modules.conv.Conv3d",
        "kernel_sizes": [[3, 3, 3], [3, 3, 3]], "strides": [[1, 1, 1], [2, 2, 2]], "n_conv_per_stage": [1, 1],
        "n_conv_per_stage_decoder": [1], "conv_bias": True, "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
        "norm_op_kwargs": {"eps": 1e-05, "affine": True}, "dropout_op": None, "dropout_op_kwargs": None,
        "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True},
    },
    "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
}  # fmt: skip


def plans(n_channels: int = 2, dataset_name: str = "Dataset990_LesionSegTest") -> dict[str, Any]:
    stats = {"max": 400.0, "mean": 100.0, "median": 100.0, "min": 0.0, "percentile_00_5": 90.0,
             "percentile_99_5": 380.0, "std": 20.0}  # fmt: skip
    return {
        "dataset_name": dataset_name, "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [2.0, 2.0, 2.0], "original_median_shape_after_transp": [16, 20, 20],
        "image_reader_writer": "SimpleITKIO", "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2],
        "experiment_planner_used": "ExperimentPlanner", "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {str(i): dict(stats) for i in range(n_channels)},
        "configurations": {"3d_fullres": {
            "data_identifier": "nnUNetPlans_3d_fullres", "preprocessor_name": "DefaultPreprocessor", "batch_size": 2,
            "patch_size": PATCH, "median_image_size_in_voxels": [16.0, 20.0, 20.0], "spacing": [2.0, 2.0, 2.0],
            "normalization_schemes": ["ZScoreNormalization"] * n_channels, "use_mask_for_norm": [False] * n_channels,
            "resampling_fn_data": "resample_data_or_seg_to_shape",
            "resampling_fn_seg": "resample_data_or_seg_to_shape",
            "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
            "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
            "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
            "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0,
                                                   "force_separate_z": None},
            "architecture": json.loads(json.dumps(ARCHITECTURE)), "batch_dice": False,
        }},
    }  # fmt: skip


def head_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(FLAIR, T2)`` voxels of a small ellipsoid head (14 × 22 × 22, float32) with a bright block in each; the
    test images put them at :data:`CASE_SPACING` and :data:`CASE_ORIGIN`."""
    rng = np.random.default_rng(seed)
    shape = (14, 22, 22)
    z, y, x = np.indices(shape)
    head = ((z - 7) / 6) ** 2 + ((y - 11) / 10) ** 2 + ((x - 11) / 10) ** 2 <= 1
    flair = np.where(head, 100 + 8 * rng.standard_normal(shape), 1.0).astype(np.float32)
    flair[5:9, 8:12, 12:16] = 300.0
    t2 = np.where(head, 150 + 8 * rng.standard_normal(shape), 1.0).astype(np.float32)
    t2[6:9, 12:16, 6:10] = 320.0
    return flair, t2


def dataset(channels: dict[str, str] | None = None, labels: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"channel_names": dict(channels or CHANNELS), "labels": dict(labels or LABELS), "numTraining": 4,
            "file_ending": ".nii.gz"}  # fmt: skip


def write_folder(
    root: Path, *, folds: tuple[str, ...] = ("0",), seed: int = 0, extra: dict[str, Any] | None = None,
    dataset_json: dict[str, Any] | None = None, plans_json: dict[str, Any] | None = None,
    trainer: str = "nnUNetTrainer",
) -> Path:
    """``root/<trainer>__nnUNetPlans__3d_fullres`` with the json files and one checkpoint per fold."""
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    folder = root / f"{trainer}__nnUNetPlans__3d_fullres"
    folder.mkdir(parents=True)
    ds = dataset_json or dataset()
    pl = plans_json or plans(len(ds["channel_names"]))
    (folder / "dataset.json").write_text(json.dumps(ds, indent=2))
    (folder / "plans.json").write_text(json.dumps(pl, indent=2))
    arch = pl["configurations"]["3d_fullres"]["architecture"]
    for i, fold in enumerate(folds):
        torch.manual_seed(seed + i)
        network = get_network_from_plans(arch["network_class_name"], arch["arch_kwargs"], arch["_kw_requires_import"],
                                         len(ds["channel_names"]), len(ds["labels"]), deep_supervision=True)
        with torch.no_grad():  # untrained: background favoured a little, so the map is not all 0.5
            network.decoder.seg_layers[-1].bias.copy_(torch.linspace(0.5, -0.5, len(ds["labels"])))
        optimizer = torch.optim.SGD(network.parameters(), lr=0.01, momentum=0.99, nesterov=True)
        out = network(torch.randn(1, len(ds["channel_names"]), *PATCH))
        (out[0] if isinstance(out, (list, tuple)) else out).mean().backward()
        optimizer.step()
        checkpoint = {
            "network_weights": network.state_dict(),
            "optimizer_state": optimizer.state_dict(),
            "grad_scaler_state": None,
            "logging": {"mean_fg_dice": [np.float32(0.1)], "ema_fg_dice": [np.float32(0.1)],
                        "dice_per_class_or_region": [[np.float64(0.1)]], "train_losses": [np.float32(-0.2)],
                        "val_losses": [np.float32(-0.1)], "lrs": [0.01], "epoch_start_timestamps": [1.0],
                        "epoch_end_timestamps": [2.0]},
            "_best_ema": np.float64(0.1),
            "current_epoch": 1,
            "init_args": {"plans": pl, "configuration": "3d_fullres", "fold": fold, "dataset_json": ds,
                          "device": torch.device("cpu")},
            "trainer_name": trainer,
            "inference_allowed_mirroring_axes": (0, 1, 2),
            **(extra or {}),
        }  # fmt: skip
        (folder / f"fold_{fold}").mkdir()
        torch.save(checkpoint, folder / f"fold_{fold}" / "checkpoint_final.pth")
    return folder


_TRAIN = """import torch
from batchgenerators.utilities.file_and_folder_operations import load_json, join
from nnunetv2.paths import nnUNet_preprocessed as P
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
d = join(P, {name!r}); plans = load_json(join(d, 'nnUNetPlans.json'))
plans['continue_training'] = False
t = nnUNetTrainer(plans, '3d_fullres', 0, load_json(join(d, 'dataset.json')), torch.device('cpu'))
t.num_epochs = 1; t.num_iterations_per_epoch = {iterations}; t.num_val_iterations_per_epoch = 1
t.run_training()
"""


def train_folder(root: Path, cases: list[dict[str, Path]], labels: list[Path], *, dataset_id: int = 502,
                 iterations: int = 2) -> tuple[Path, dict[str, str]]:
    """A trained folder made by nnU-Net's own tools: ``nnUNetv2_plan_and_preprocess`` (3d_fullres) and its
    ``nnUNetTrainer`` for ``iterations`` batches, on ``cases`` (role → image) with ``labels``; CPU, each in a
    subprocess with nnU-Net's environment variables. Returns the model folder and that environment."""
    bin_dir = Path(sys.executable).parent
    name = f"Dataset{dataset_id:03d}_Phantom"
    raw = root / "raw" / name
    (raw / "imagesTr").mkdir(parents=True)
    (raw / "labelsTr").mkdir()
    for i, (images, label) in enumerate(zip(cases, labels, strict=True)):
        for k, channel in CHANNELS.items():
            (raw / "imagesTr" / f"case{i}_{int(k):04d}.nii.gz").write_bytes(images[channel.lower()].read_bytes())
        (raw / "labelsTr" / f"case{i}.nii.gz").write_bytes(label.read_bytes())
    (raw / "dataset.json").write_text(json.dumps(dataset() | {"numTraining": len(cases)}))
    env = {**os.environ, "nnUNet_raw": str(root / "raw"), "nnUNet_preprocessed": str(root / "pre"),
           "nnUNet_results": str(root / "res"), "nnUNet_def_n_proc": "1"}  # fmt: skip
    _run([str(bin_dir / "nnUNetv2_plan_and_preprocess"), "-d", str(dataset_id), "-c", "3d_fullres", "-np", "1",
          "-npfp", "1"], env)
    keys = [f"case{i}" for i in range(len(cases))]  # fold 0: the last case validates (5 folds need 5 cases)
    (root / "pre" / name / "splits_final.json").write_text(json.dumps([{"train": keys[:-1], "val": keys[-1:]}]))
    _run([sys.executable, "-c", _TRAIN.format(name=name, iterations=iterations)], env | {"nnUNet_n_proc_DA": "0"})
    return next((root / "res" / name).iterdir()), env


def nnunet_predict_probabilities(folder: Path, images: dict[str, Path], work: Path, env: dict[str, str]) -> Path:
    """``nnUNetv2_predict_from_modelfolder --save_probabilities`` on one case; the ``.npz`` it writes."""
    bin_dir = Path(sys.executable).parent
    test_in, test_out = work / "nnunet_in", work / "nnunet_out"
    test_in.mkdir(parents=True)
    for k, channel in CHANNELS.items():
        (test_in / f"case_{int(k):04d}.nii.gz").write_bytes(images[channel.lower()].read_bytes())
    _run([str(bin_dir / "nnUNetv2_predict_from_modelfolder"), "-i", str(test_in), "-o", str(test_out), "-m",
          str(folder), "-f", "0", "--save_probabilities", "-npp", "1", "-nps", "1", "-device", "cpu"], env)
    return test_out / "case.npz"


def lesionseg_predict(folder: Path, images: dict[str, Path], out: Path, env: dict[str, str]) -> Path:
    """``lesionseg predict --model FOLDER`` in a subprocess with the same nnU-Net environment as
    :func:`nnunet_predict_probabilities` (``nnUNet_def_n_proc`` sets nnU-Net's torch threads: with another thread
    count the float32 sums differ in the last bit and nnU-Net's float16 logit accumulator can round them one
    float16 step apart, ~1e-3 in probability). Returns the probability map's path."""
    _run([sys.executable, "-m", "LesionSegLogic", "predict", "--model", str(folder), "--flair", str(images["flair"]),
          "--t2", str(images["t2"]), "--out", str(out), "--device", "cpu", "--no-progress"], env)
    return out / "probability.nii.gz"


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} {' '.join(command[1:3])} failed ({done.returncode}):\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")
