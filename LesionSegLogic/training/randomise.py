"""Domain randomisation of training batches with MONAI transforms (issue 12): the model sees acquisitions it is
not trained on — other bias fields, contrasts, noise levels, resolutions and slight deformations.

Why MONAI (rather than TorchIO): its transforms take torch tensors and run on the tensor's device (the batches of
the GPU run never leave it, except the bias field and Rician noise, which MONAI draws with numpy), the wheel is pure
Python on top of torch, it is already a test dependency (the losses are checked against it), and every random
transform has its own ``RandomState`` that a seed fixes (``set_random_state``).

Per sample, in this order (probabilities and ranges: :class:`DomainRandomisation`):

1. spacing / orientation jitter — ``RandAffined`` (rotation ≤ ±10°, scale ±10 %; image linear, label nearest);
2. small elastic deformation — ``Rand3DElasticd`` (smooth displacement, σ 5–8 voxels);
3. on the image only, after shifting it so its background is 0 (the normalised background is its minimum; the
   shift is undone at the end, so the result stays on the predictor's z-score scale): a smooth multiplicative
   bias field (``RandBiasField``), gamma contrast keeping mean and standard deviation (``RandAdjustContrast``),
   Rician and Gaussian noise (``RandRicianNoise``, ``RandGaussianNoise``; σ up to a quarter of a standard
   deviation ≈ SNR 10 on white matter), Gaussian blur (``RandGaussianSmooth``), and thick slices
   (:class:`RandThickSlices`: MONAI ``Resize`` down along one random axis by a factor 1.5–3.5 with area averaging —
   1.5 mm becomes 2.25–5 mm slices, the 1×1×3 and 0.9×0.9×5 mm protocols — and back up with linear interpolation,
   as the predictor resamples such images).

The mirroring and 90° rotations stay in :mod:`.augment` (drawn by the batch stream). Determinism: the randomiser is
seeded afresh for every batch from ``(training seed, batch index)``, so the same seed gives the same batches, and a
resumed run the batches the uninterrupted run would have seen. MONAI is imported only when a randomiser is built
(``pip install 'lesionseg[train]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from LesionSegLogic.errors import ConfigError

#: ``TrainConfig.randomise`` values: no domain randomisation, or the transforms of this module.
RANDOMISATIONS = ("none", "domain")


@dataclass(frozen=True)
class DomainRandomisation:
    """Probability (``*_p``) and range of each transform."""

    affine_p: float = 0.3
    rotate_deg: float = 10.0
    scale: float = 0.1
    elastic_p: float = 0.15
    elastic_sigma: tuple[float, float] = (5.0, 8.0)
    elastic_magnitude: tuple[float, float] = (50.0, 150.0)
    bias_p: float = 0.5
    bias_coeff: tuple[float, float] = (0.0, 0.05)  #: MONAI's Legendre coefficients: a field of ≈ 0.8–1.8 over a patch
    gamma_p: float = 0.3
    gamma: tuple[float, float] = (0.7, 1.5)
    rician_p: float = 0.3
    rician_std: float = 0.25
    gaussian_p: float = 0.15
    gaussian_std: float = 0.15
    blur_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.25, 1.0)
    thick_p: float = 0.3
    thick_factor: tuple[float, float] = (1.5, 3.5)

    def only(self, name: str) -> DomainRandomisation:
        """These settings with every transform off except ``name`` (its probability set to 1): for tests."""
        probabilities = {f: 0.0 for f in self.__dataclass_fields__ if f.endswith("_p")}
        if f"{name}_p" not in probabilities:
            raise ConfigError(f"unknown transform {name!r}; known: {sorted(p[:-2] for p in probabilities)}")
        from dataclasses import replace

        return replace(self, **{**probabilities, f"{name}_p": 1.0})  # type: ignore[arg-type]  # the *_p fields are floats


def _monai() -> Any:
    try:
        import monai.transforms as transforms
    except ImportError:
        raise ConfigError("randomise='domain' needs MONAI: pip install 'lesionseg[train]'") from None
    return transforms


def batch_seed(seed: int | Sequence[int], index: int) -> int:
    """The seed of batch ``index`` of a run seeded with ``seed`` (well mixed, deterministic)."""
    parts = [int(s) for s in (seed if isinstance(seed, Sequence) else [seed])]
    return int(np.random.SeedSequence([*parts, int(index)]).generate_state(1)[0])


class Randomiser:
    """Applies the domain randomisation to a batch ``(x (B, C, *patch), y (B, 1, *patch))`` on its device."""

    def __init__(self, settings: DomainRandomisation | None = None, device: torch.device | str | None = None) -> None:
        t = _monai()
        s = settings or DomainRandomisation()
        self.settings = s
        keys = ("image", "label")
        dev = torch.device(device) if device is not None else None
        angle = float(np.deg2rad(s.rotate_deg))
        self.spatial = t.Compose([
            t.RandAffined(keys, prob=s.affine_p, rotate_range=(angle,) * 3, scale_range=(s.scale,) * 3,
                          mode=("bilinear", "nearest"), padding_mode="border", device=dev),
            t.Rand3DElasticd(keys, sigma_range=s.elastic_sigma, magnitude_range=s.elastic_magnitude,
                             prob=s.elastic_p, mode=("bilinear", "nearest"), padding_mode="border", device=dev),
        ])
        self.intensity = t.Compose([
            t.RandBiasField(coeff_range=s.bias_coeff, prob=s.bias_p),
            t.RandAdjustContrast(prob=s.gamma_p, gamma=s.gamma, retain_stats=True),
            t.RandRicianNoise(prob=s.rician_p, std=s.rician_std, sample_std=True),
            t.RandGaussianNoise(prob=s.gaussian_p, std=s.gaussian_std, sample_std=True),
            t.RandGaussianSmooth(sigma_x=s.blur_sigma, sigma_y=s.blur_sigma, sigma_z=s.blur_sigma, prob=s.blur_p),
            RandThickSlices(prob=s.thick_p, factor=s.thick_factor),
        ])

    def __call__(self, x: torch.Tensor, y: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The randomised batch (new tensors, float32, same shapes and device); ``seed`` fixes every draw."""
        self.spatial.set_random_state(seed=seed % 2**32)
        self.intensity.set_random_state(seed=(seed + 1) % 2**32)
        xs, ys = [], []
        for image, label in zip(x, y, strict=True):
            out = self.spatial({"image": image, "label": label})
            image, label = _plain(out["image"]), _plain(out["label"])
            floor = image.flatten(1).amin(dim=1).view(-1, *[1] * (image.ndim - 1))
            image = _plain(self.intensity(image - floor)) + floor
            xs.append(image.float())
            ys.append((label > 0.5).float())
        return torch.stack(xs), torch.stack(ys)


def _plain(tensor: Any) -> torch.Tensor:
    """A plain tensor (MONAI returns MetaTensors carrying transform history)."""
    return tensor.as_tensor() if hasattr(tensor, "as_tensor") else torch.as_tensor(tensor)


def _thick_slices_class() -> type:
    t = _monai()

    class _RandThickSlices(t.RandomizableTransform):  # type: ignore[name-defined]  # MONAI's transforms module, imported at run time
        """Thick slices along one random axis: MONAI ``Resize`` down by ``factor`` with area averaging (a box slice
        profile), then back to the patch with linear interpolation. The label is not touched."""

        def __init__(self, prob: float = 0.3, factor: tuple[float, float] = (1.5, 3.5)) -> None:
            super().__init__(prob)
            self.factor_range = factor
            self.axis, self.factor = 0, 1.0

        def randomize(self, data: Any = None) -> None:
            super().randomize(None)
            if self._do_transform:
                self.axis = int(self.R.randint(3))
                self.factor = float(self.R.uniform(*self.factor_range))

        def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
            if randomize:
                self.randomize()
            if not self._do_transform:
                return img
            shape = list(img.shape[1:])
            low = list(shape)
            low[self.axis] = max(1, int(round(shape[self.axis] / self.factor)))
            down = t.Resize(low, mode="area")(img)
            return t.Resize(shape, mode="trilinear", align_corners=False)(down)

    return _RandThickSlices


def RandThickSlices(prob: float = 0.3, factor: tuple[float, float] = (1.5, 3.5)) -> Any:
    """A MONAI randomizable transform simulating thick slices (see :func:`_thick_slices_class`)."""
    return _thick_slices_class()(prob, factor)


def build_randomiser(name: str, device: torch.device | str | None = None) -> Randomiser | None:
    """The randomiser named by ``TrainConfig.randomise`` (None for ``"none"``)."""
    if name not in RANDOMISATIONS:
        raise ConfigError(f"randomise must be one of {', '.join(RANDOMISATIONS)}, got {name!r}")
    return Randomiser(device=device) if name == "domain" else None
