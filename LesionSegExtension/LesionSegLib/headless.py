"""A minimal MRML application without Qt (slicer-core): a scene with the logics the session needs.

Desktop Slicer and trame-slicer's ``SlicerApp`` already provide these; tests, benchmarks and scripts use
:func:`make_scene`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import slicer


@dataclass
class HeadlessScene:
    scene: Any
    segmentations_logic: Any
    subject_hierarchy_logic: Any
    color_logic: Any


def make_scene() -> HeadlessScene:
    """A new scene with default colour tables, segmentations and subject hierarchy logics."""
    scene = slicer.vtkMRMLScene()
    color_logic = slicer.vtkMRMLColorLogic()
    color_logic.SetMRMLScene(scene)
    color_logic.AddDefaultColorNodes()
    segmentations = slicer.vtkSlicerSegmentationsModuleLogic()
    segmentations.SetMRMLScene(scene)
    hierarchy = slicer.vtkSlicerSubjectHierarchyModuleLogic()
    hierarchy.SetMRMLScene(scene)
    return HeadlessScene(scene, segmentations, hierarchy, color_logic)
