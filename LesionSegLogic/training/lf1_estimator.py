"""Kamraoui et al.'s lesion-wise F1 estimator (Kamraoui et al. 2021, section 2.2) and the loss that uses it.

A small CNN — convolutional layers followed by fully connected layers, as in the paper's Fig. 2 — takes a
(probability map, reference mask) patch pair and predicts the lesion-wise F1 of the prediction. It is trained
with the mean squared error on generated pairs whose target F1 covers [0, 1] evenly ("a balanced distribution
of values in the range [0, 1]"); the predicted masks are altered with Gaussian blur and small random intensity
changes so that they look like probability maps. Once trained it is frozen, and the segmentation network is
trained with ``Dice loss + 0.2 · (1 − LF1̂)`` (α = 0.2 in the paper), the gradient flowing through the frozen
estimator.

The lesion-wise F1 is the MSSEG-2 definition quoted by the paper: LTPR = share of reference lesions that
intersect a predicted lesion, LPPV = share of predicted lesions that intersect a reference lesion,
F1 = 2·LTPR·LPPV / (LTPR + LPPV); lesions are 26-connected components; an empty reference and an empty
prediction score 1, exactly one of them empty scores 0.

The paper publishes no code, layer sizes or pair-generation recipe; those below are ours and documented in
``docs/training.md``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from LesionSegLogic.errors import ModelFileError
from LesionSegLogic.io.write import staged_file, write_json

_STRUCTURE = np.ones((3, 3, 3), bool)


def lesion_f1(pred: np.ndarray, ref: np.ndarray) -> float:
    """Lesion-wise F1 (any-overlap detection, 26-connectivity) of two binary masks."""
    p, r = pred.astype(bool), ref.astype(bool)
    lp, n_p = ndimage.label(p, _STRUCTURE)
    lr, n_r = ndimage.label(r, _STRUCTURE)
    if n_p == 0 and n_r == 0:
        return 1.0
    if n_p == 0 or n_r == 0:
        return 0.0
    detected_ref = len(np.unique(lr[p & r]))
    detected_pred = len(np.unique(lp[p & r]))
    ltpr, lppv = detected_ref / n_r, detected_pred / n_p
    return 0.0 if ltpr + lppv == 0 else 2 * ltpr * lppv / (ltpr + lppv)


def _blob(shape: tuple[int, ...], centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    d = (
        ((zz - centre[0]) / radii[0]) ** 2
        + ((yy - centre[1]) / radii[1]) ** 2
        + ((xx - centre[2]) / radii[2]) ** 2
    )
    return d <= 1.0


def _place_blobs(
    shape: tuple[int, ...],
    n: int,
    rng: np.random.Generator,
    avoid: np.ndarray,
    radius: tuple[float, float] = (1.2, 2.8),
) -> list[np.ndarray]:
    """Up to ``n`` ellipsoids that neither touch each other nor ``avoid`` (gap of two voxels)."""
    blobs: list[np.ndarray] = []
    taken = avoid.copy()
    radius = (radius[0], max(radius[0], min(radius[1], min(shape) / 10)))
    for _ in range(n * 20):
        if len(blobs) == n:
            break
        radii = rng.uniform(*radius, 3)
        b = _blob(shape, rng.uniform(radii + 1, np.asarray(shape) - radii - 1), radii)
        if (ndimage.binary_dilation(b, _STRUCTURE, iterations=2) & taken).any():
            continue
        blobs.append(b)
        taken |= b
    return blobs


def _configurations(low: float, high: float, max_n: int = 7) -> list[tuple[int, int, int]]:
    """(reference lesions, detected, false positives) whose nominal LF1 = 2d / (n + d + fp) is in the bin."""
    out = []
    for n in range(1, max_n + 1):
        for d in range(0, n + 1):
            for fp in range(0, max_n + 1):
                f1 = 2 * d / (n + d + fp) if d else 0.0
                if low <= f1 < high or (high >= 1 and f1 >= 1):
                    out.append((n, d, fp))
    return out


def _alter(lesion: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A detected lesion as a model might predict it: grown, shrunk or shifted by a voxel."""
    op = int(rng.integers(3))
    if op == 0:
        return ndimage.binary_dilation(lesion)
    if op == 1:
        eroded = ndimage.binary_erosion(lesion)
        return eroded if eroded.sum() >= 2 else lesion
    return np.roll(lesion, tuple(int(v) for v in rng.integers(-1, 2, 3)), axis=(0, 1, 2))


def make_pair(
    shape: tuple[int, int, int],
    rng: np.random.Generator,
    target_bin: tuple[float, float] = (0.0, 1.0),
    tries: int = 50,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One (probability map, reference, LF1) example whose LF1 falls in ``target_bin``.

    A configuration (n reference lesions, d of them detected, fp false-positive blobs) with a nominal LF1 in
    the bin is drawn; detected lesions are grown, shrunk or shifted a little; the binary prediction is then
    blurred (σ 0.5–1.2 voxels) and its intensity scaled and noised so it resembles a probability map. The
    target is the LF1 of that probability map thresholded at 0.5 (pairs that leave the bin are redrawn).
    """
    configs = _configurations(*target_bin)
    if not configs:
        raise ValueError(f"no lesion configuration has an LF1 in {target_bin}")
    for _ in range(tries):
        n, d, n_fp = configs[int(rng.integers(len(configs)))]
        lesions = _place_blobs(shape, n, rng, np.zeros(shape, bool))
        if len(lesions) < n:
            continue
        ref = np.any(lesions, axis=0)
        pred = np.zeros(shape, bool)
        for k in rng.permutation(n)[:d]:
            pred |= _alter(lesions[int(k)], rng)
        for fp in _place_blobs(shape, n_fp, rng, ref | pred):
            pred |= fp
        prob = ndimage.gaussian_filter(pred.astype(np.float32), sigma=rng.uniform(0.5, 1.2))
        if prob.max() > 0:
            prob = prob / prob.max()
        prob = prob * rng.uniform(0.85, 1.0) + rng.normal(0, rng.uniform(0, 0.05), shape)
        prob = np.clip(prob, 0, 1).astype(np.float32)
        f1 = lesion_f1(prob >= 0.5, ref)
        low, high = target_bin
        if low <= f1 < high or (high >= 1 and f1 >= 1):
            return prob, ref.astype(np.float32), f1
    raise RuntimeError(f"could not generate a pair with LF1 in {target_bin}")


def generate_pairs(
    n: int, shape: tuple[int, int, int], seed: int, bins: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs stacked as (n, 2, *shape) inputs and (n,) LF1 targets, an equal number per LF1 bin."""
    rng = np.random.default_rng(seed)
    edges = np.linspace(0, 1, bins + 1)
    xs, ys = [], []
    for i in range(n):
        b = i % bins
        prob, ref, f1 = make_pair(shape, rng, (float(edges[b]), float(edges[b + 1])))
        xs.append(np.stack([prob, ref]))
        ys.append(f1)
    order = rng.permutation(n)
    return np.stack(xs)[order].astype(np.float32), np.asarray(ys, np.float32)[order]


@dataclass
class EstimatorConfig:
    patch: tuple[int, int, int] = (32, 32, 32)
    features: tuple[int, ...] = (8, 16, 32)
    hidden: int = 64


class LF1Estimator(nn.Module):
    """Conv (stride-2) blocks → global average pooling → fully connected layers → sigmoid LF1 estimate."""

    def __init__(self, features: tuple[int, ...] = (8, 16, 32), hidden: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 2
        for f in features:
            layers += [
                nn.Conv3d(cin, f, 3, stride=2, padding=1),
                nn.InstanceNorm3d(f, affine=True),
                nn.LeakyReLU(0.1, inplace=True),
            ]
            cin = f
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(2 * cin, hidden), nn.LeakyReLU(0.1, inplace=True), nn.Linear(hidden, 1)
        )

    def forward(self, probability: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """LF1 estimates (B,) for probability maps and references of shape (B, 1, D, H, W)."""
        h = self.features(torch.cat([probability, reference], dim=1))
        pooled = torch.cat([h.mean(dim=(2, 3, 4)), h.amax(dim=(2, 3, 4))], dim=1)
        return torch.sigmoid(self.head(pooled)).squeeze(1)


@dataclass
class EstimatorReport:
    """How well the estimator predicts LF1 on held-out pairs."""

    n_train: int
    n_test: int
    epochs: int
    mse: float
    mae: float
    pearson: float
    target_histogram: list[int]


def train_estimator(
    n_train: int = 2000,
    n_test: int = 400,
    epochs: int = 20,
    seed: int = 0,
    config: EstimatorConfig | None = None,
    batch_size: int = 32,
) -> tuple[LF1Estimator, EstimatorReport]:
    """Generate balanced pairs, train with MSE (Adam 1e-3), report MAE / Pearson r on held-out pairs."""
    config = config or EstimatorConfig()
    x_tr, y_tr = generate_pairs(n_train, config.patch, seed)
    x_te, y_te = generate_pairs(n_test, config.patch, seed + 1)
    torch.manual_seed(seed)
    model = LF1Estimator(tuple(config.features), config.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    for _ in range(epochs):
        model.train()
        for idx in np.array_split(rng.permutation(n_train), max(1, n_train // batch_size)):
            i = torch.from_numpy(idx)
            pred = model(xt[i, :1], xt[i, 1:])
            loss = nn.functional.mse_loss(pred, yt[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        xe = torch.from_numpy(x_te)
        pred = torch.cat(
            [model(xe[i : i + 64, :1], xe[i : i + 64, 1:]) for i in range(0, n_test, 64)]
        ).numpy()
    err = pred - y_te
    r = float(np.corrcoef(pred, y_te)[0, 1]) if pred.std() > 0 else 0.0
    hist = np.histogram(y_tr, bins=10, range=(0, 1))[0].tolist()
    report = EstimatorReport(
        n_train, n_test, epochs, float((err**2).mean()), float(np.abs(err).mean()), r, hist
    )
    return freeze(model), report


def freeze(model: LF1Estimator) -> LF1Estimator:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def save_estimator(
    model: LF1Estimator, report: EstimatorReport, folder: str | Path, config: EstimatorConfig | None = None
) -> Path:
    """Write ``lf1_estimator.safetensors`` and ``lf1_estimator.json`` (config, report, sha256)."""
    import hashlib

    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "lf1_estimator.safetensors"
    with staged_file(weights, what="estimator weights") as staged:  # atomic, as every writer (io.write)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(staged))
    cfg = asdict(config or EstimatorConfig())
    meta = {
        "config": cfg,
        "report": asdict(report),
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "description": "Lesion-wise F1 estimator (Kamraoui et al. 2021) trained on synthetic pairs.",
    }
    write_json(folder / "lf1_estimator.json", meta, what="estimator description")
    return weights


def load_estimator(path: str | Path, device: torch.device | str = "cpu") -> LF1Estimator:
    """Load a frozen estimator from its folder (or its ``.safetensors`` file), verifying the sha256."""
    import hashlib

    from safetensors.torch import load_file

    path = Path(path)
    weights = path / "lf1_estimator.safetensors" if path.is_dir() else path
    meta_path = weights.with_suffix(".json")
    if not weights.is_file() or not meta_path.is_file():
        raise ModelFileError("LF1 estimator weights or their .json are missing", weights)
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        raise ModelFileError("not valid JSON", meta_path) from None
    if hashlib.sha256(weights.read_bytes()).hexdigest() != meta.get("sha256"):
        raise ModelFileError("sha256 does not match lf1_estimator.json", weights)
    cfg = meta.get("config", {})
    model = LF1Estimator(tuple(cfg.get("features", (8, 16, 32))), int(cfg.get("hidden", 64)))
    try:
        model.load_state_dict(load_file(weights))
    except Exception as exc:  # safetensors raises several types for a bad file
        raise ModelFileError(f"cannot load weights ({exc})", weights) from None
    return freeze(model.to(device))


class LF1Loss(nn.Module):
    """``base(logits, target) + weight · (1 − mean LF1̂(sigmoid(logits), target))`` with a frozen
    estimator."""

    def __init__(self, base: nn.Module, estimator: LF1Estimator, weight: float = 0.2) -> None:
        super().__init__()
        self.base = base
        self.estimator = freeze(estimator)
        self.weight = float(weight)

    def train(self, mode: bool = True) -> LF1Loss:
        super().train(mode)
        self.estimator.eval()  # stays frozen
        return self

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        lf1 = self.estimator(torch.sigmoid(logits), target.to(logits.dtype))
        return self.base(logits, target) + self.weight * (1.0 - lf1.mean())
