"""What a trame-slicer view shows: its RGB pixels, freshly rendered offscreen (the pixel tests' one grabber)."""

from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter


def rendered_rgb(view) -> np.ndarray:
    """The view's RGB pixels after a render, ``(height, width, 3)`` int, row 0 at the bottom (VTK's order, the
    slice view's XY coordinates); ``[::-1]`` gives screen order."""
    view.render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(view.render_window())
    grab.ReadFrontBufferOff()
    grab.Update()
    image = grab.GetOutput()
    width, height, _ = image.GetDimensions()
    return vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)[:, :, :3].astype(int)
