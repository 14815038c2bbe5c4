"""nnU-Net v2 checkpoints, unpickled only with ``torch.load(weights_only=True)`` and an exact allow-list.

An nnU-Net checkpoint is ``torch.save`` of a dict (``nnUNetTrainer.save_checkpoint``): ``network_weights`` (a
state dict), ``optimizer_state``, ``grad_scaler_state``, ``logging`` (the trainer's logger lists), ``_best_ema``,
``current_epoch``, ``init_args`` (plans, configuration, fold, dataset_json, device), ``trainer_name`` and
``inference_allowed_mirroring_axes``. Beyond tensors, containers and numbers — which the weights-only unpickler
accepts — the logger's lists hold numpy scalars (``np.float64`` from ``np.mean``) and ``init_args`` a
``torch.device``. :data:`ALLOWED_GLOBALS` is exactly what those need; nnunetv2's own loader
(``nnUNetPredictor.initialize_from_trained_model_folder``) calls ``torch.load(..., weights_only=False)``, which
runs whatever code a pickle names, so LesionSeg never calls it. A checkpoint naming any other global is refused
with the global's name, before anything is built or run.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from LesionSegLogic.errors import ModelFileError


def _numpy_scalar_reconstructor() -> Any:
    """``numpy.core.multiarray.scalar`` (``numpy._core`` from numpy 2): how a pickled numpy scalar is rebuilt."""
    core = getattr(np, "_core", None) or np.core
    return core.multiarray.scalar


#: the globals nnU-Net v2 checkpoints name beyond what ``weights_only=True`` allows by itself: the logger's numpy
#: scalars — their reconstructor, ``numpy.dtype`` and the dtype classes of float32 (the losses and pseudo-Dice of
#: a checkpoint nnunetv2 2.8 writes; ``get_unsafe_globals_in_checkpoint`` lists the first two) and float64 (the
#: ``np.mean``/``np.nanmean`` of float64 values other versions log). Nothing that can run code.
ALLOWED_GLOBALS: tuple[Any, ...] = (
    _numpy_scalar_reconstructor(),
    np.dtype,
    type(np.dtype(np.float32)),
    type(np.dtype(np.float64)),
)


@dataclass(frozen=True)
class NnUNetCheckpoint:
    """What LesionSeg uses from one checkpoint file."""

    path: Path
    network_weights: dict[str, torch.Tensor]
    trainer_name: str
    configuration: str
    mirroring_axes: tuple[int, ...] | None
    init_dataset: dict[str, Any] | None
    init_plans_name: str | None


def load_checkpoint(path: str | Path) -> NnUNetCheckpoint:
    """Read ``path`` with the weights-only unpickler and :data:`ALLOWED_GLOBALS`; check its shape."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(list(ALLOWED_GLOBALS)):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ModelFileError(
            f"refused: the checkpoint needs unpickling beyond nnU-Net's allow-list ({_first_global(error)}); "
            "nothing was run", path,
        ) from None  # fmt: skip
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise ModelFileError(f"not a readable PyTorch checkpoint ({str(error).splitlines()[0][:200]})", path) from None
    if not isinstance(data, dict):
        raise ModelFileError(f"not an nnU-Net checkpoint (a {type(data).__name__}, expected a dict)", path)
    missing = [k for k in ("network_weights", "trainer_name", "init_args") if k not in data]
    if missing:
        raise ModelFileError(f"not an nnU-Net v2 checkpoint: missing {missing}", path)
    weights = data["network_weights"]
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise ModelFileError("network_weights is not a state dict of tensors", path)
    init = data["init_args"] if isinstance(data["init_args"], dict) else {}
    configuration = init.get("configuration")
    if not isinstance(configuration, str):
        raise ModelFileError("init_args has no configuration name", path)
    axes = data.get("inference_allowed_mirroring_axes")
    plans = init.get("plans") if isinstance(init.get("plans"), dict) else {}
    return NnUNetCheckpoint(
        path=path, network_weights=weights, trainer_name=str(data["trainer_name"]), configuration=configuration,
        mirroring_axes=None if axes is None else tuple(int(a) for a in axes),
        init_dataset=init.get("dataset_json") if isinstance(init.get("dataset_json"), dict) else None,
        init_plans_name=plans.get("plans_name"),  # type: ignore[union-attr]  # plans is a dict here (checked when read)
    )  # fmt: skip


def _first_global(error: BaseException) -> str:
    """The global the weights-only unpickler refused, from its long message."""
    for line in str(error).splitlines():
        line = line.strip()
        if "Unsupported global" in line or "GLOBAL" in line:
            return line.rstrip(".")[:200]
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
