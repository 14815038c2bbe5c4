"""Small building blocks shared by the architectures (normalisation and activation by name)."""

from __future__ import annotations

from torch import nn

NORMS = ("batch", "group", "instance", "none")
ACTIVATIONS = ("relu", "leaky_relu")


def make_norm(norm: str, channels: int, group_size: int = 8) -> nn.Module:
    """A 3-D normalisation layer. ``group`` uses groups of ``group_size`` channels (Cabezas & Diez 2024:
    groups of 8)."""
    if norm == "batch":
        return nn.BatchNorm3d(channels)
    if norm == "group":
        groups = max(1, channels // group_size)
        return nn.GroupNorm(groups, channels)
    if norm == "instance":
        return nn.InstanceNorm3d(channels, affine=True)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")


def make_activation(activation: str) -> nn.Module:
    if activation == "relu":
        return nn.ReLU(inplace=True)
    if activation == "leaky_relu":
        return nn.LeakyReLU(0.01, inplace=True)
    raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")


def check_input(x, in_channels: int, divisor: int, name: str) -> None:
    """Raise a clear ``ValueError`` for a wrong channel count or a patch not divisible by ``divisor``."""
    if x.ndim != 5:
        raise ValueError(f"{name} expects a (B, C, D, H, W) tensor, got shape {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ValueError(f"{name} was built for {in_channels} input channel(s), got {x.shape[1]}")
    bad = [s for s in x.shape[2:] if s % divisor]
    if bad:
        raise ValueError(f"{name}: patch size {tuple(x.shape[2:])} must be divisible by {divisor}")
