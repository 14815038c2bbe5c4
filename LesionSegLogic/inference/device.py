"""Device choice and out-of-memory fallback.

``auto`` picks CUDA, then Apple's MPS, then the CPU. When a forward pass runs out of memory the engine halves
the window batch and retries the same windows; at one window per batch on an accelerator it moves the model to
the CPU and carries on; out of memory on the CPU with one window is an error. Each step is announced by a
:class:`DeviceFallbackWarning` and the optional ``notify`` callback.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from LesionSegLogic.errors import InputError, LesionSegError

if TYPE_CHECKING:
    import torch

#: every device a prediction may ask for (``--device``, the panel's choice); the one list. This module imports
#: torch only inside its functions, so that the faces can offer the choice before torch is installed.
DEVICES = ("auto", "cpu", "cuda", "mps")


class DeviceFallbackWarning(RuntimeWarning):
    """The prediction continued with a smaller batch or on the CPU after running out of memory."""


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str | torch.device) -> torch.device:
    """``auto`` → CUDA, else MPS, else CPU; an unavailable explicit device is an :class:`InputError`."""
    import torch

    if isinstance(spec, torch.device):
        return spec
    name = str(spec).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA GPU is available (use --device cpu)")
    if device.type == "mps" and not _mps_available():
        raise InputError("device 'mps' was requested but MPS is not available (use --device auto or cpu)")
    return device


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA's ``torch.OutOfMemoryError`` and the 'out of memory' RuntimeErrors of other backends."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    if isinstance(error, oom_type):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def default_batch_size(device: torch.device, patch: tuple[int, int, int]) -> int:
    """Windows per forward pass: about 2²⁰ voxels per batch on an accelerator (≥ 1, ≤ 8), about 2¹⁹ on the CPU
    (≥ 1, ≤ 4: four 48³ windows; the CPU convolutions run a batch of 4 faster per window than 1 or 2, measured in
    ``benchmarks/bench_inference.py``)."""
    voxels = patch[0] * patch[1] * patch[2]
    if device.type == "cpu":
        return int(max(1, min(4, (1 << 19) // max(1, voxels))))
    return int(max(1, min(8, (1 << 20) // max(1, voxels))))


@dataclass
class FallbackState:
    """The current device and batch size, updated by :meth:`step_down` after each out-of-memory error."""

    device: torch.device
    batch_size: int
    notify: Callable[[str], None] | None = None

    def step_down(self, model: torch.nn.Module, error: BaseException) -> None:
        """Halve the batch, or move to the CPU at batch 1; raise when already on the CPU at batch 1."""
        import torch

        if self.batch_size > 1:
            self.batch_size //= 2
            self._say(f"out of memory on {self.device}: retrying with {self.batch_size} window(s) per batch")
        elif self.device.type != "cpu":
            old = self.device
            self.device = torch.device("cpu")
            model.to(self.device)
            self._say(f"out of memory on {old} with 1 window per batch: continuing on the CPU (slower)")
        else:
            raise LesionSegError(
                "out of memory on the CPU with one window per batch: use a smaller patch or free memory"
            ) from error
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _say(self, message: str) -> None:
        warnings.warn(message, DeviceFallbackWarning, stacklevel=3)
        if self.notify is not None:
            self.notify(message)
