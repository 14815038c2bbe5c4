"""Segmentation architectures: a configurable 3-D U-Net (Hussein et al. 2023 and Cabezas & Diez 2024) and the
patch-wise 3-D DenseNet of Hashemi et al. 2018. Every model maps ``(B, C, *patch)`` to one logit channel
``(B, 1, *patch)``; build them by name with :func:`build_model` so that a model card can name an
architecture and its parameters."""

from LesionSegLogic.models.registry import available_architectures, build_model, patch_divisor

__all__ = ["available_architectures", "build_model", "patch_divisor"]
