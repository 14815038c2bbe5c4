"""LesionSegLogic — the Slicer-free, Qt-free core of LesionSeg.

Layers (see docs/design.md): io · preprocessing · phantom · losses · models · training · inference ·
threshold (engine) · metrics · study · zoo. Nothing here imports Slicer, Qt or VTK.
"""

__version__ = "0.1.0"
