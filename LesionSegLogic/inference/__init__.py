"""Patch inference: sliding windows, fusion of overlapping predictions, TTA, devices, progress and cancel.

``predict_volume(model, image, patch_size=..., overlap=0.5, fusion="gaussian", tta="none", device="auto",
skip_background=True, batch_size=None, progress=None, cancel=None)`` — see :mod:`.engine` and
``docs/inference.md``.

The vocabularies (:data:`FUSIONS`, :data:`TTAS`, :data:`DEVICES`) and everything but the engine import without
torch, so a model card, the CLI's ``--help`` and the desktop panel can name them before torch is installed;
``predict_volume`` and ``default_foreground`` load the engine (and torch) on first use.
"""

from __future__ import annotations

from LesionSegLogic.inference.device import DEVICES, DeviceFallbackWarning, resolve_device
from LesionSegLogic.inference.fusion import FUSIONS, fusion_weights
from LesionSegLogic.inference.progress import CancelToken, Progress
from LesionSegLogic.inference.tta import TTAS
from LesionSegLogic.inference.windows import WindowGrid, axis_starts
from LesionSegLogic.lazy import lazy_getattr

#: names that need torch, imported from their module on first use
_NEEDS_TORCH = {"default_foreground": "engine", "predict_volume": "engine"}
__getattr__ = lazy_getattr(__name__, _NEEDS_TORCH)


__all__ = [
    "DEVICES",
    "FUSIONS",
    "TTAS",
    "CancelToken",
    "DeviceFallbackWarning",
    "Progress",
    "WindowGrid",
    "axis_starts",
    "default_foreground",
    "fusion_weights",
    "predict_volume",
    "resolve_device",
]
