"""``predict_volume``: a probability map from any patch network, by sliding windows.

1. **Foreground.** With ``skip_background`` (default) a foreground mask — given, or the rule of
   :func:`default_foreground` on the normalised image — limits the work to the mask's bounding box (grown to
   at least one patch), and windows with no foreground voxel are skipped. Voxels no window covers get
   probability 0. On whole-head volumes this removes most windows.
2. **Windows** (:mod:`.windows`): regular steps, last window on the edge; volumes smaller than a patch are
   padded with each channel's minimum (the background value of a normalised image).
3. **Forward** in batches under ``torch.inference_mode`` (autocast bf16/fp16 on CUDA, fp16 on MPS), the
   sigmoid taken per window and TTA predictions averaged (:mod:`.tta`). The windows are copied straight from
   the region into one reused batch buffer — channels-last 3-D on the CPU, the layout its oneDNN convolutions
   prefer; on a GPU the region itself is moved there once when the box fits, so no batch crosses the bus — and
   with ``fold_norms`` (default) each conv → batch-norm pair runs as one conv (:mod:`.fold`).
4. **Fusion** (:mod:`.fusion`): ``Σ W·p / Σ W`` over the windows run, accumulated in place in float32
   (``acc += p·W`` by ``addcmul_``) over the bounding box only (on the GPU when it fits) — two float32 maps of
   the box, never float64.

Out of memory → smaller batches, then the CPU (:mod:`.device`). ``cancel`` is checked between batches and
raises :class:`~LesionSegLogic.errors.Cancelled`; ``progress`` gets a :class:`~.progress.Progress` after every
batch. The model is put in eval mode for the call (its mode is restored) and is left on the device used.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from LesionSegLogic.errors import InputError, ModelFileError, NonFiniteError
from LesionSegLogic.inference.device import (
    FallbackState,
    default_batch_size,
    is_out_of_memory,
    resolve_device,
)
from LesionSegLogic.inference.fold import fold_batchnorm
from LesionSegLogic.inference.fusion import FUSIONS, fusion_weights
from LesionSegLogic.inference.progress import CancelToken, Progress
from LesionSegLogic.inference.tta import TTAS, predict_with_tta
from LesionSegLogic.inference.windows import WindowGrid, padding_for

#: a voxel is foreground when some channel exceeds that channel's minimum by this fraction of its range
FOREGROUND_TOLERANCE = 1e-3


def default_foreground(image: np.ndarray) -> np.ndarray:
    """The documented rule on a normalised ``(C, z, y, x)`` image: foreground where any channel is above its
    minimum by more than ``FOREGROUND_TOLERANCE`` × its range. ``zscore_normalise`` sets everything outside
    the head/brain mask to the channel's minimum, so this recovers that mask (plus nothing of the air)."""
    mask = np.zeros(image.shape[1:], dtype=bool)
    for channel in image:
        low, high = float(channel.min()), float(channel.max())
        if high > low:
            mask |= channel > low + FOREGROUND_TOLERANCE * (high - low)
    return mask


def _bounding_box(mask: np.ndarray, patch: Sequence[int]) -> tuple[slice, ...] | None:
    """The mask's bounding box grown (centred, within the volume) to at least ``patch``; None when empty."""
    box = []
    for axis, (n, p) in enumerate(zip(mask.shape, patch, strict=True)):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        if hits.size == 0:
            return None
        lo, hi = int(hits[0]), int(hits[-1]) + 1
        if hi - lo < p:
            grow = min(p, n) - (hi - lo)
            lo = max(0, lo - grow // 2)
            hi = lo + min(p, n)
            if hi > n:
                lo, hi = n - min(p, n), n
        box.append(slice(lo, hi))
    return tuple(box)


def _as_image(image: np.ndarray | torch.Tensor) -> np.ndarray:
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or min(array.shape) < 1:
        raise InputError(f"expected a (C, z, y, x) image, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise NonFiniteError("the image contains NaN or infinite values")
    return array


def _pad(region: np.ndarray, pads: tuple[tuple[int, int], ...], values: Sequence[float]) -> np.ndarray:
    shape = tuple(n + a + b for n, (a, b) in zip(region.shape[1:], pads, strict=True))
    out = np.empty((region.shape[0], *shape), dtype=np.float32)
    inner = tuple(slice(a, a + n) for n, (a, _) in zip(region.shape[1:], pads, strict=True))
    for c, value in enumerate(values):
        out[c].fill(value)
        out[c][inner] = region[c]
    return out


def _autocast(device: torch.device, cpu_bf16: bool = False) -> contextlib.AbstractContextManager:
    """bf16/fp16 autocast on accelerators; on the CPU only with ``cpu_bf16`` (AMX / AVX-512-BF16 kernels)."""
    if device.type == "cpu" and cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    if device.type == "mps":
        return torch.autocast("mps", dtype=torch.float16)
    return contextlib.nullcontext()


def _forward_batch(
    model: nn.Module, batch: torch.Tensor, device: torch.device, tta: str, cpu_bf16: bool = False
) -> torch.Tensor:
    """Probabilities ``(B, 1, *patch)`` float32 for a CPU batch, TTA-averaged, on ``device``."""
    x = batch.to(device, non_blocking=True)
    expected = (x.shape[0], 1, *x.shape[2:])

    def forward(t: torch.Tensor) -> torch.Tensor:
        out = model(t)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ModelFileError(
                f"the model returned {shape} for windows {tuple(t.shape)}; expected {expected}"
            )
        return torch.sigmoid(out.float())

    with _autocast(device, cpu_bf16):
        return predict_with_tta(forward, x, tta)


def _batch_buffer(size: int, channels: int, patch: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """The reused buffer the windows are gathered into, on the device the region lives on: channels-last 3-D on the
    CPU (what its oneDNN convolutions prefer), plain on a GPU."""
    buffer = torch.empty((size, channels, *patch), dtype=torch.float32, device=device)
    if device.type == "cpu":
        buffer = buffer.contiguous(memory_format=torch.channels_last_3d)
    return buffer


def _box_device(device: torch.device, image_values: int, box_voxels: int) -> torch.device:
    """Where the box lives: on the GPU when the image (``image_values`` float32 values) and the two fusion maps of the
    box take under a quarter of the GPU's free memory, else the CPU. On the GPU the windows are then gathered there
    (no host → device copy per batch) and fused there."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if 4 * (image_values + 2 * box_voxels) < free // 4:
            return device
    return torch.device("cpu")


def _region_on(device: torch.device, array: np.ndarray, region: np.ndarray, box: tuple[slice, ...],
               padded: bool) -> torch.Tensor:
    """The region as a float32 tensor on ``device``. On a GPU (and unpadded) the whole image goes up once and the box
    is a view of it there: no host copy of the box."""
    if device.type == "cuda" and not padded:
        image = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device)
        return image[(slice(None),) + tuple(box)]
    return torch.from_numpy(np.ascontiguousarray(region, dtype=np.float32)).to(device)


def predict_volume(
    model: nn.Module,
    image: np.ndarray | torch.Tensor,
    *,
    patch_size: Sequence[int],
    overlap: float = 0.5,
    fusion: str = "gaussian",
    tta: str = "none",
    device: str | torch.device = "auto",
    skip_background: bool | np.ndarray = True,
    batch_size: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    foreground: np.ndarray | None = None,
    notify: Callable[[str], None] | None = None,
    bspline_degree: int = 2,
    fold_norms: bool = True,
    cpu_bf16: bool = False,
) -> np.ndarray:
    """Float32 probability map ``(z, y, x)`` of a normalised ``(C, z, y, x)`` image (see the module doc).

    ``skip_background`` may itself be a boolean foreground mask ``(z, y, x)``; ``foreground`` is the same
    mask given separately (used only when skipping). ``notify`` receives device-fallback messages.
    ``fold_norms`` runs a copy of the model with its conv → batch-norm pairs folded (:mod:`.fold`; equal up to
    float rounding); False runs the model exactly as given. ``cpu_bf16`` runs the forward passes on the CPU under
    bf16 autocast (reduced precision: the map moves by up to ~1e-3, see docs/inference.md); off by default.
    """
    array = _as_image(image)
    patch = tuple(int(p) for p in patch_size)
    if len(patch) != 3 or min(patch) < 1:
        raise InputError(f"patch_size must be three positive integers, got {tuple(patch_size)}")
    if not 0.0 <= float(overlap) < 1.0:
        raise InputError(f"overlap must be in [0, 1), got {overlap}")
    if fusion not in FUSIONS:
        raise InputError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
    if tta not in TTAS:
        raise InputError(f"unknown tta {tta!r}; choose one of {', '.join(TTAS)}")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    spatial = array.shape[1:]

    mask: np.ndarray | None = None
    if isinstance(skip_background, np.ndarray):
        mask = skip_background
    elif skip_background:
        mask = foreground if foreground is not None else default_foreground(array)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != spatial:
            raise InputError(f"foreground mask shape {mask.shape} does not match the image {spatial}")

    dev = resolve_device(device)
    state = FallbackState(dev, batch_size or default_batch_size(dev, patch), notify)
    output = np.zeros(spatial, dtype=np.float32)
    box: tuple[slice, ...] = (slice(0, spatial[0]), slice(0, spatial[1]), slice(0, spatial[2]))
    if mask is not None:
        found = _bounding_box(mask, patch)
        if found is None:
            if progress is not None:
                progress(Progress(0, 0, 0.0))
            return output
        box = found
    region = array[(slice(None),) + tuple(box)]
    pads = padding_for(region.shape[1:], patch)
    padded = any(a or b for a, b in pads)
    if padded:
        region = _pad(region, pads, [float(c.min()) for c in array])
    grid = WindowGrid.build(region.shape[1:], patch, float(overlap))
    windows = list(grid) if mask is None else grid.touching(np.pad(mask[box], pads, constant_values=False))

    acc_dev = _box_device(dev, array.size, int(np.prod(region.shape[1:])))
    region_t = _region_on(acc_dev, array, region, box, padded)
    acc = torch.zeros(region.shape[1:], dtype=torch.float32, device=acc_dev)
    wsum = torch.zeros(region.shape[1:], dtype=torch.float32, device=acc_dev)
    weight = torch.from_numpy(fusion_weights(fusion, patch, degree=bspline_degree)).to(acc_dev)

    was_training = model.training
    model.eval()
    model.to(state.device)
    runner = fold_batchnorm(model) if fold_norms else model
    buffer = _batch_buffer(state.batch_size, region_t.shape[0], patch, region_t.device)
    start = time.perf_counter()
    done = 0
    if progress is not None:
        progress(Progress(0, len(windows), 0.0))
    try:
        with torch.inference_mode():
            while done < len(windows):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                chunk = windows[done : done + state.batch_size]
                slices = [grid.slices(w) for w in chunk]
                batch = buffer[: len(chunk)]
                for b, s in enumerate(slices):
                    batch[b].copy_(region_t[(slice(None),) + tuple(s)])
                try:
                    probs = _forward_batch(runner, batch, state.device, tta, cpu_bf16)
                except Exception as error:  # only out-of-memory is handled, the rest re-raised
                    if not is_out_of_memory(error):
                        raise
                    state.step_down(runner, error)
                    if runner is not model:
                        model.to(state.device)
                    if state.device.type == "cpu":
                        region_t = region_t.cpu()  # the windows are gathered where the model now runs
                    buffer = _batch_buffer(state.batch_size, region_t.shape[0], patch, region_t.device)
                    continue
                probs = probs.to(acc_dev)
                for b, s in enumerate(slices):
                    acc[s].addcmul_(probs[b, 0], weight)
                    wsum[s].add_(weight)
                done += len(chunk)
                if progress is not None:
                    progress(Progress(done, len(windows), time.perf_counter() - start))
    finally:
        model.train(was_training)

    covered = wsum > 0
    acc.div_(torch.where(covered, wsum, torch.ones_like(wsum))).clamp_(0.0, 1.0)
    del wsum
    inner = tuple(slice(a, a + n) for n, (a, _) in zip(
        (s.stop - s.start for s in box), pads, strict=True))
    output[box] = acc[inner].cpu().numpy()
    return output
