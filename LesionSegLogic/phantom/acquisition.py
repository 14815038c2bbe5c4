"""Acquisition effects applied after partial-volume mixing: a smooth bias field and Rician noise.

* **Bias field** (receive/transmit inhomogeneity): ``B = exp(Σ_{a,b,c ≤ order} C_abc φ_a(z) φ_b(y) φ_c(x))``
  with cosine basis functions ``φ_n(u) = cos(π n u)`` over the field of view (``u`` in [0, 1]) and random
  coefficients scaled so the field varies by roughly ``±amplitude`` (Sled et al., IEEE TMI 17:87 (1998) model a
  smooth multiplicative field; 10–20 % is typical at 3 T). Computed separably (exact, no interpolation).
* **Rician noise** (Gudbjartsson & Patz, MRM 34:910 (1995)): a magnitude image of a complex signal with
  independent Gaussian noise of standard deviation σ in both channels, ``M = |S + n_r + i·n_i|``.
  ``σ = reference signal / SNR``, where the reference is the mean noise-free signal of the reference tissue
  (white matter for the brain, the cord for the spine).
"""

from __future__ import annotations

import numpy as np


def bias_field(
    shape: tuple[int, int, int], rng: np.random.Generator, *, amplitude: float = 0.15, order: int = 2
) -> np.ndarray:
    """A smooth multiplicative field (float32, mean ≈ 1) of the given ``shape``; see the module docstring."""
    n = order + 1
    coefficients = rng.normal(0.0, 1.0, size=(n, n, n))
    coefficients[0, 0, 0] = 0.0
    degree = np.add.outer(np.add.outer(np.arange(n), np.arange(n)), np.arange(n))
    coefficients /= 1.0 + degree  # smoother: high orders weaker
    coefficients *= amplitude / max(np.sqrt((coefficients**2).sum()), 1e-12)
    bases = [np.cos(np.pi * np.outer(np.linspace(0.0, 1.0, s), np.arange(n))) for s in shape]  # (s, n)
    field = np.tensordot(coefficients, bases[2], axes=([2], [1]))  # (a, b, x)
    field = np.tensordot(field, bases[1], axes=([1], [1]))  # (a, x, y)
    field = np.tensordot(bases[0], field, axes=([1], [0]))  # (z, x, y)
    field = np.transpose(field, (0, 2, 1)).astype(np.float32)
    field -= field.mean()
    return np.exp(field)


def rician(signal: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of ``signal`` plus complex Gaussian noise of std ``sigma`` per channel (float32)."""
    real = signal.astype(np.float32, copy=True)
    real += rng.standard_normal(signal.shape, dtype=np.float32) * np.float32(sigma)
    imag = rng.standard_normal(signal.shape, dtype=np.float32)
    imag *= np.float32(sigma)
    np.hypot(real, imag, out=real)
    return real
