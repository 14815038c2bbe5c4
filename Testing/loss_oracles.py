"""Independent numpy (float64) formulas for every loss, written from the papers, for the loss tests (no test
functions here: ``test_losses_reference`` checks these formulas against values worked out by hand).

Nothing here calls LesionSegLogic: these are the expected values the implementation is checked against.
"""

from __future__ import annotations

import numpy as np


def sig(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def groups(x: np.ndarray, pooling: str) -> list[np.ndarray]:
    """Flattened voxel groups: the whole batch, or one per sample."""
    return [x.ravel()] if pooling == "batch" else [x[b].ravel() for b in range(x.shape[0])]


def zipped(z: np.ndarray, y: np.ndarray, pooling: str) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(zip(groups(sig(z), pooling), groups(y, pooling), strict=True))


def bce(z, y):
    p = sig(z)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def weighted_bce(z, y, beta=0.7):
    p = sig(z)
    return float(-np.mean(beta * y * np.log(p) + (1 - beta) * (1 - y) * np.log(1 - p)))


def focal(z, y, alpha=0.25, gamma=2.0):
    p = sig(z)
    pt = np.where(y == 1, p, 1 - p)
    at = np.ones_like(p) if alpha is None else np.where(y == 1, alpha, 1 - alpha)
    return float(np.mean(-at * (1 - pt) ** gamma * np.log(pt)))


def dice(z, y, smooth=1.0, pooling="batch", squared=False):
    out = []
    for p, g in zipped(z, y, pooling):
        den = (p**2).sum() + (g**2).sum() if squared else p.sum() + g.sum()
        out.append(1 - (2 * (p * g).sum() + smooth) / (den + smooth))
    return float(np.mean(out))


def generalized_dice(z, y, pooling="batch", weights="square", smooth=0.0):
    """Cabezas & Diez 2024 eq. 3 (expanded two-class form) with Sudre's 1/n² weights; empty class → largest weight."""
    out = []
    for p, g in zipped(z, y, pooling):
        n = len(p)
        n_fg, n_bg = g.sum(), (1 - g).sum()
        if weights == "uniform":
            w_fg = w_bg = 1.0
        else:
            power = 2 if weights == "square" else 1
            w_fg = 1 / n_fg**power if n_fg > 0 else None
            w_bg = 1 / n_bg**power if n_bg > 0 else None
            w_fg = w_bg if w_fg is None else w_fg
            w_bg = w_fg if w_bg is None else w_bg
        s_py, s_sum = (p * g).sum(), (p + g).sum()
        num = (w_fg + w_bg) * s_py + w_bg * (n - s_sum)
        den = (w_fg - w_bg) * s_sum + 2 * n * w_bg
        scale = w_fg + w_bg  # our implementation normalises the weights: smoothing acts on that scale
        out.append(1 - (2 * num / scale + smooth) / (den / scale + smooth))
    return float(np.mean(out))


def tversky_index(p, g, alpha, beta, smooth):
    tp = (p * g).sum()
    fp = (p * (1 - g)).sum()
    fn = ((1 - p) * g).sum()
    return (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


def tversky(z, y, alpha=0.3, beta=0.7, smooth=1.0, pooling="batch"):
    return float(np.mean([1 - tversky_index(p, g, alpha, beta, smooth) for p, g in zipped(z, y, pooling)]))


def focal_tversky(z, y, alpha=0.3, beta=0.7, gamma=0.75, smooth=1.0, pooling="batch"):
    ti = [tversky_index(p, g, alpha, beta, smooth) for p, g in zipped(z, y, pooling)]
    return float(np.mean([(1 - t) ** gamma for t in ti]))


def log_cosh_dice(z, y, smooth=1.0, pooling="batch"):
    out = []
    for p, g in zipped(z, y, pooling):
        d = 1 - (2 * (p * g).sum() + smooth) / (p.sum() + g.sum() + smooth)
        out.append(np.log(np.cosh(d)))
    return float(np.mean(out))


def combo(z, y, alpha=0.5, beta=0.5, smooth=1.0, pooling="batch", nonnegative=True):
    dsc = 1 - dice(z, y, smooth, pooling)
    return alpha * weighted_bce(z, y, beta) + (1 - alpha) * ((1 - dsc) if nonnegative else -dsc)


def dice_ce(z, y, lambda_dice=1.0, lambda_ce=1.0, smooth=1.0, pooling="batch"):
    return lambda_dice * dice(z, y, smooth, pooling) + lambda_ce * bce(z, y)


def dice_focal(z, y, lambda_dice=1.0, lambda_focal=1.0, alpha=None, gamma=2.0, smooth=1.0, pooling="batch"):
    return lambda_dice * dice(z, y, smooth, pooling) + lambda_focal * focal(z, y, alpha, gamma)


def unified_focal(z, y, lambda_=0.5, delta=0.6, gamma=0.5, smooth=1e-7, pooling="batch", asymmetric=False):
    """Yeung et al. 2022 in the two-channel layout of their code: channel 0 background, channel 1 lesion."""
    p = sig(z)
    P = np.stack([1 - p, p])  # (2, ...) class probabilities
    Y = np.stack([1 - y, y])
    ce = -Y * np.log(P)
    back = (1 - delta) * (1 - P[0]) ** gamma * ce[0]
    fore = delta * (1.0 if asymmetric else (1 - P[1]) ** gamma) * ce[1]
    focal_part = float(np.mean(back + fore))
    ft = []
    for b in [None] if pooling == "batch" else range(y.shape[0]):
        terms = []
        for c in (0, 1):
            pc = P[c].ravel() if b is None else P[c][b].ravel()
            yc = Y[c].ravel() if b is None else Y[c][b].ravel()
            tp, fn, fp = (yc * pc).sum(), (yc * (1 - pc)).sum(), ((1 - yc) * pc).sum()
            mti = (tp + smooth) / (tp + delta * fn + (1 - delta) * fp + smooth)
            enhance = c == 1 or not asymmetric
            terms.append((1 - mti) ** (1 - gamma) if enhance else 1 - mti)
        ft.append(np.mean(terms))
    return lambda_ * focal_part + (1 - lambda_) * float(np.mean(ft))


def hytver(z, y, alpha=0.3, beta=0.7, ce_beta=0.7, gamma=0.5, smooth=1.0, pooling="batch"):
    return gamma * weighted_bce(z, y, ce_beta) + (1 - gamma) * tversky(z, y, alpha, beta, smooth, pooling)


def wg_weights(y, pooling):
    if pooling == "batch":
        n_fg = y.sum()
        return (y.size - n_fg) / y.size * np.ones_like(y), n_fg / y.size * np.ones_like(y)
    n = y[0].size
    n_fg = y.reshape(y.shape[0], -1).sum(1).reshape((-1,) + (1,) * (y.ndim - 1))
    return (n - n_fg) / n * np.ones_like(y), n_fg / n * np.ones_like(y)


def weighted_gradient(z, y, pooling="batch", normalisation="mean"):
    """γ = 2 potential: w_fg (p − ln p) on lesion, w_bg (1 − p − ln(1 − p)) on background."""
    p = sig(z)
    w_fg, w_bg = wg_weights(y, pooling)
    phi = y * w_fg * (p - np.log(p)) + (1 - y) * w_bg * (1 - p - np.log(1 - p))
    return float(phi.sum() / (y.size if normalisation == "mean" else 1.0))


def weighted_gradient_grad(z, y, gamma=2, pooling="batch", normalisation="mean"):
    """Cabezas & Diez 2024 eq. 5, signed: w_bg (1−y) p^γ − w_fg y (1−p)^γ, α = w_fg = N_bg/N."""
    p = sig(z)
    w_fg, w_bg = wg_weights(y, pooling)
    g = w_bg * (1 - y) * p**gamma - w_fg * y * (1 - p) ** gamma
    return g / (y.size if normalisation == "mean" else 1.0)


REFERENCE = {
    "bce": bce,
    "weighted_bce": weighted_bce,
    "focal": focal,
    "dice": dice,
    "generalized_dice": generalized_dice,
    "tversky": tversky,
    "focal_tversky": focal_tversky,
    "log_cosh_dice": log_cosh_dice,
    "combo": combo,
    "dice_ce": dice_ce,
    "dice_focal": dice_focal,
    "unified_focal": unified_focal,
    "asymmetric_unified_focal": lambda z, y, **kw: unified_focal(z, y, asymmetric=True, **kw),
    "hytver": hytver,
    "weighted_gradient": weighted_gradient,
}

#: Losses without a pooling option: the per-voxel cross-entropies.
VOXELWISE = {"bce", "weighted_bce", "focal"}
#: Losses whose value depends on the pooling option: every other reference.
POOLED = set(REFERENCE) - VOXELWISE
