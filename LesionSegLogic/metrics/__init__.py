"""Segmentation metrics: voxel-wise, surface distances, lesion-wise under explicit matching rules, cohorts."""

from LesionSegLogic.metrics.lesion import LesionComponent, lesion_metrics
from LesionSegLogic.metrics.rules import ANIMA, ANY_OVERLAP, HUSSEIN, PRESETS, MatchingRule, get_rule
from LesionSegLogic.metrics.surface import surface_distances
from LesionSegLogic.metrics.voxel import average_precision, voxel_metrics

__all__ = [
    "ANIMA",
    "ANY_OVERLAP",
    "HUSSEIN",
    "PRESETS",
    "LesionComponent",
    "MatchingRule",
    "average_precision",
    "get_rule",
    "lesion_metrics",
    "surface_distances",
    "voxel_metrics",
]
