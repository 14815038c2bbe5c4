"""Offscreen picture of one axial slice: FLAIR in grey with the review's TP/FP/FN (or prediction) overlay,
rendered by VTK from the very buffers the MRML nodes hold (no Qt)."""

from __future__ import annotations

from pathlib import Path

import vtk

from .parameters import PREDICTION_SEGMENTS, REVIEW_SEGMENTS


def _lookup(styles, opacity: float) -> vtk.vtkLookupTable:
    table = vtk.vtkLookupTable()
    table.SetNumberOfTableValues(max(s.label for s in styles) + 1)
    table.SetTableRange(0, table.GetNumberOfTableValues() - 1)
    table.SetTableValue(0, 0, 0, 0, 0)
    for style in styles:
        table.SetTableValue(style.label, *style.color, opacity)
    table.Build()
    return table


def render_axial_overlay(session, path: str | Path, slice_index: int | None = None, size: int = 512,
                         opacity: float = 0.6) -> Path:
    """Write a PNG of axial slice ``slice_index`` (default: the slice with most overlay voxels)."""
    layer = session.review if session.review is not None else session.prediction
    styles = REVIEW_SEGMENTS if session.review is not None else PREDICTION_SEGMENTS
    labels = layer.labels
    if slice_index is None:
        slice_index = int((labels > 0).sum(axis=(1, 2)).argmax())
    flair_data = session.flair_node.GetImageData()
    label_data = layer._image  # the shared labelmap the segments display
    lo, hi = (float(v) for v in flair_data.GetScalarRange())

    def axial(data) -> vtk.vtkExtractVOI:
        extract = vtk.vtkExtractVOI()
        extract.SetInputData(data)
        nx, ny, _ = data.GetDimensions()
        extract.SetVOI(0, nx - 1, 0, ny - 1, slice_index, slice_index)
        return extract

    grey = vtk.vtkImageMapToColors()
    grey_table = vtk.vtkLookupTable()
    grey_table.SetTableRange(lo, hi)
    grey_table.SetSaturationRange(0, 0)
    grey_table.SetHueRange(0, 0)
    grey_table.SetValueRange(0, 1)
    grey_table.Build()
    grey.SetLookupTable(grey_table)
    flair_slice = axial(flair_data)  # keep a reference: a collected filter leaves a dangling port
    grey.SetInputConnection(flair_slice.GetOutputPort())
    grey.SetOutputFormatToRGBA()
    colour = vtk.vtkImageMapToColors()
    colour.SetLookupTable(_lookup(styles, opacity))
    plain = vtk.vtkImageData()
    plain.ShallowCopy(label_data)  # oriented image → plain image data on the same voxel grid
    label_slice = axial(plain)
    colour.SetInputConnection(label_slice.GetOutputPort())
    colour.SetOutputFormatToRGBA()
    blend = vtk.vtkImageBlend()
    blend.AddInputConnection(grey.GetOutputPort())
    blend.AddInputConnection(colour.GetOutputPort())
    blend.SetOpacity(1, 1.0)
    actor = vtk.vtkImageActor()
    actor.GetMapper().SetInputConnection(blend.GetOutputPort())
    renderer = vtk.vtkRenderer()
    renderer.AddActor(actor)
    renderer.ResetCamera()
    renderer.GetActiveCamera().Zoom(1.4)
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(size, size)
    window.AddRenderer(renderer)
    window.Render()
    grab = vtk.vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.Update()
    writer = vtk.vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputConnection(grab.GetOutputPort())
    writer.Write()
    window.Finalize()
    return Path(path)
