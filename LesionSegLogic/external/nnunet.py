"""Run an nnU-Net v2 model folder through nnU-Net's own predictor and take the lesion class's probability.

Loading never goes through nnunetv2's ``initialize_from_trained_model_folder`` (it unpickles checkpoints with
``weights_only=False``). Instead :func:`load_nnunet` reads the folder's json (:mod:`.nnunet_folder`) and each
fold's checkpoint with the weights-only unpickler (:mod:`.nnunet_checkpoint`), builds the network exactly as
nnU-Net does (the trainer class named in the checkpoint, found among nnunetv2's own trainers, and its
``build_network_architecture`` from the plans) and hands network, plans, dataset and the folds' weights to
``nnUNetPredictor.manual_initialization``. Prediction is nnU-Net's: ``predict_single_npy_array`` (crop to the
non-zero region, its normalisation, resampling to the configuration's spacing, Gaussian-weighted sliding windows
with ``tile_step_size``, mirroring over the trained axes, fold averaging, resampling back) with
``save_or_return_probabilities=True``; the lesion label's channel of the returned probabilities (softmax, or the
region's sigmoid for region-based models) is the map, on the input grid.

Arrays are handed over in SimpleITK's ``(c, z, y, x)`` order with the spacing in the same order — what nnU-Net's
``SimpleITKIO`` and ``NibabelIO`` readers produce from the same files (:data:`.nnunet_folder.SUPPORTED_READERS`).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from LesionSegLogic.errors import ConfigError, ModelFileError
from LesionSegLogic.external.nnunet_checkpoint import NnUNetCheckpoint, load_checkpoint
from LesionSegLogic.external.nnunet_folder import DATASET_FILE, PLANS_FILE, NnUNetFolder

INSTALL_HINT = "nnU-Net models need the nnunet extra: pip install 'lesionseg[nnunet]'"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """nnU-Net prints progress and set-up notes on stdout; keep the CLI's output to LesionSeg's own lines."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _nnunet() -> Any:
    try:
        with quiet():
            import nnunetv2.inference.predict_from_raw_data as module
    except ImportError as error:
        raise ConfigError(f"{INSTALL_HINT} ({error})") from None
    return module


@dataclass
class NnUNetModel:
    """A loaded nnU-Net v2 model: the folder, the lesion label's output channel, the network and the folds."""

    folder: NnUNetFolder
    label: str
    label_channel: int
    configuration_name: str
    checkpoints: list[NnUNetCheckpoint]
    network: nn.Module
    plans_manager: Any
    configuration_manager: Any

    @property
    def patch_size(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.configuration_manager.patch_size)

    @property
    def mirroring_axes(self) -> tuple[int, ...] | None:
        return self.checkpoints[0].mirroring_axes

    def predictor(self, device: torch.device, tile_step_size: float, mirroring: bool) -> Any:
        """An ``nnUNetPredictor`` initialised with this model (no file is read)."""
        module = _nnunet()
        with quiet():
            predictor = module.nnUNetPredictor(
                tile_step_size=tile_step_size, use_gaussian=True, use_mirroring=mirroring,
                perform_everything_on_device=device.type == "cuda", device=device, verbose=False,
                allow_tqdm=False,
            )  # fmt: skip
            predictor.manual_initialization(
                self.network, self.plans_manager, self.configuration_manager,
                [c.network_weights for c in self.checkpoints], self.folder.dataset, self.checkpoints[0].trainer_name,
                self.mirroring_axes,
            )  # fmt: skip
        return predictor

    def probability(
        self, channels: np.ndarray, spacing_zyx: Sequence[float], *, device: torch.device,
        tile_step_size: float = 0.5, mirroring: bool = True,
    ) -> np.ndarray:
        """The lesion probability ``(z, y, x)`` float32 for raw images ``(c, z, y, x)`` in dataset.json's order."""
        if channels.shape[0] != len(self.folder.channels):
            raise ModelFileError(f"the model takes {len(self.folder.channels)} channel(s), got {channels.shape[0]}",
                                 self.folder.path)
        predictor = self.predictor(device, tile_step_size, mirroring)
        with quiet():
            _, probabilities = predictor.predict_single_npy_array(
                np.ascontiguousarray(channels, dtype=np.float32), {"spacing": [float(s) for s in spacing_zyx]},
                None, None, True,
            )  # fmt: skip
        probabilities = np.asarray(probabilities)
        return np.ascontiguousarray(probabilities[self.label_channel], dtype=np.float32)


def load_nnunet(
    path: str | Path, *, label: str | None = None, folds: Sequence[str] | None = None, checkpoint: str = "final"
) -> NnUNetModel:
    """Read, check and build an nnU-Net v2 model folder; every problem is a one-line :class:`ModelFileError`."""
    folder = NnUNetFolder.open(path)
    chosen_label = folder.choose_label(label)
    paths = folder.checkpoint_paths(None if folds is None else tuple(str(f) for f in folds), checkpoint)
    _nnunet()  # the extra is installed: say so before reading checkpoints
    checkpoints = [load_checkpoint(p) for p in paths]
    first = checkpoints[0]
    for other in checkpoints[1:]:
        if (other.trainer_name, other.configuration) != (first.trainer_name, first.configuration):
            raise ModelFileError(f"folds disagree: {first.path} is {first.trainer_name}/{first.configuration}, "
                                 f"this one {other.trainer_name}/{other.configuration}", other.path)
    for ckpt in checkpoints:
        _check_against_folder(ckpt, folder)
    folder.configuration(first.configuration)  # class names and cascade checked before nnU-Net imports them

    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    plans_path = folder.path / PLANS_FILE
    try:
        plans_manager = PlansManager(folder.plans)
        configuration_manager = plans_manager.get_configuration(first.configuration)
        label_manager = plans_manager.get_label_manager(folder.dataset)
        n_inputs = determine_num_input_channels(plans_manager, configuration_manager, folder.dataset)
    except (KeyError, TypeError, ValueError, AssertionError) as error:
        raise ModelFileError(f"plans/dataset mismatch: nnU-Net cannot read them together ({error!r})",
                             plans_path) from None
    channel = _label_channel(folder, label_manager, chosen_label)
    network = _build_network(first, plans_manager, configuration_manager, n_inputs,
                             label_manager.num_segmentation_heads)
    for ckpt in checkpoints:
        try:
            network.load_state_dict(ckpt.network_weights, strict=True)
        except RuntimeError as error:
            first_line = str(error).strip().splitlines()[0]
            raise ModelFileError(f"plans/dataset mismatch: the weights do not fit the network the plans describe "
                                 f"({first_line})", ckpt.path) from None
    network.eval()
    return NnUNetModel(folder, chosen_label, channel, first.configuration, checkpoints, network, plans_manager,
                       configuration_manager)


def _check_against_folder(ckpt: NnUNetCheckpoint, folder: NnUNetFolder) -> None:
    """The dataset.json / plans a checkpoint was trained with must be the folder's."""
    if ckpt.init_dataset is not None:
        for key in ("channel_names", "labels"):
            mine, theirs = folder.dataset.get(key), ckpt.init_dataset.get(key)
            if theirs is not None and mine != theirs:
                raise ModelFileError(f"plans/dataset mismatch: the checkpoint was trained with {key} {theirs}, "
                                     f"{folder.path / DATASET_FILE} has {mine}", ckpt.path)
    plans_name = folder.plans.get("plans_name")
    if ckpt.init_plans_name is not None and plans_name is not None and ckpt.init_plans_name != plans_name:
        raise ModelFileError(f"plans/dataset mismatch: the checkpoint was trained with plans {ckpt.init_plans_name!r}"
                             f", {folder.path / PLANS_FILE} is {plans_name!r}", ckpt.path)


def _label_channel(folder: NnUNetFolder, label_manager: Any, name: str) -> int:
    """Index of label ``name`` among nnU-Net's output heads (labels in ``all_labels`` order, or regions)."""
    value = folder.dataset["labels"][name]
    if label_manager.has_regions:
        wanted = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        regions = [tuple(r) if isinstance(r, (list, tuple)) else (r,) for r in label_manager.foreground_regions]
        if wanted in regions:
            return regions.index(wanted)
    elif isinstance(value, int) and value in label_manager.all_labels:
        return list(label_manager.all_labels).index(value)
    raise ModelFileError(f"label {name!r} ({value}) is not one of the model's outputs", folder.path / DATASET_FILE)


def find_trainer_class(name: str) -> type | None:
    """nnunetv2's trainer class ``name``, importing only the module that defines it.

    nnU-Net's ``recursive_find_trainer_class_by_name`` imports every trainer module until one has the class; some
    import optional packages (torchvision through timm) that fail against a CPU-only torch. Here the defining
    module is found by its source text (``class <name>(``) under ``nnunetv2/training/nnUNetTrainer`` and only it
    is imported; the class must be an ``nnUNetTrainer``.
    """
    import importlib

    import nnunetv2

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return None
    root = Path(nnunetv2.__path__[0])
    pattern = re.compile(rf"^class\s+{name}\s*\(", re.MULTILINE)
    for source in sorted((root / "training" / "nnUNetTrainer").rglob("*.py")):
        if not pattern.search(source.read_text(encoding="utf-8", errors="replace")):
            continue
        dotted = ".".join(("nnunetv2", *source.relative_to(root).with_suffix("").parts))
        with quiet():
            found = getattr(importlib.import_module(dotted), name, None)
            from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
        if isinstance(found, type) and issubclass(found, nnUNetTrainer):
            return found
    return None


def _build_network(ckpt: NnUNetCheckpoint, plans_manager: Any, configuration_manager: Any,
                   n_inputs: int, n_outputs: int) -> nn.Module:
    """The network as ``initialize_from_trained_model_folder`` builds it, without deep supervision."""
    trainer_class = find_trainer_class(ckpt.trainer_name)
    if trainer_class is None:
        raise ModelFileError(f"trainer {ckpt.trainer_name!r} is not one of nnunetv2's trainers (a custom trainer "
                             "must be installed as part of nnunetv2 to run its model)", ckpt.path)
    build = trainer_class.build_network_architecture  # type: ignore[attr-defined]  # an nnU-Net trainer class (found by name)
    try:
        with quiet():
            if "plans_manager" in inspect.signature(build).parameters:
                return build(plans_manager, configuration_manager, n_inputs, n_outputs, enable_deep_supervision=False)
            return build(configuration_manager.network_arch_class_name, configuration_manager.network_arch_init_kwargs,
                         configuration_manager.network_arch_init_kwargs_req_import, n_inputs, n_outputs,
                         enable_deep_supervision=False)
    except (ImportError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise ModelFileError(f"nnU-Net cannot build the network the plans describe ({error!r})",
                             ckpt.path.parent.parent / PLANS_FILE) from None
