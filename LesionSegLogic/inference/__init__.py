"""Patch inference: sliding windows, fusion of overlapping predictions, TTA, devices, progress and cancel.

``predict_volume(model, image, patch_size=..., overlap=0.5, fusion="gaussian", tta="none", device="auto",
skip_background=True, batch_size=None, progress=None, cancel=None)`` — see :mod:`.engine` and
``docs/inference.md``.
"""

from LesionSegLogic.inference.device import DeviceFallbackWarning, resolve_device
from LesionSegLogic.inference.engine import default_foreground, predict_volume
from LesionSegLogic.inference.fusion import FUSIONS, fusion_weights
from LesionSegLogic.inference.progress import CancelToken, Progress
from LesionSegLogic.inference.tta import TTAS
from LesionSegLogic.inference.windows import WindowGrid, axis_starts

__all__ = [
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
