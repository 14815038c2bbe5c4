"""Export a review: segmentation ``.seg.nrrd``, mask NIfTI, metrics CSV/JSON, lesions CSV, curve PNG.

Every file is written next to its final name and moved into place (``os.replace``), never over an input of the
session and never over an existing file unless ``overwrite=True``. The metrics JSON records the provenance every
LesionSeg export records (:mod:`LesionSegLogic.provenance`: the review's input files and their sha256, the model,
threshold, rule, LesionSeg version, UTC time); the lesions CSV gives centroids in RAS mm (the one CSV convention,
:data:`LesionSegLogic.metrics.report.CENTROID_COLUMNS`); counts are written as integers.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from LesionSegLogic.errors import LesionSegError, OutputError
from LesionSegLogic.io import write_image
from LesionSegLogic.io.write import staged_file
from LesionSegLogic.jsonfile import json_text
from LesionSegLogic.metrics.report import CENTROID_COLUMNS
from LesionSegLogic.provenance import InputFile, model_record, provenance, recorded_model

from .plot import CURVE_SERIES, Curve
from .tables import LesionRow, metrics_items


@dataclass(frozen=True)
class ExportedFiles:
    segmentation: Path
    review: Path | None
    mask: Path
    metrics_json: Path
    metrics_csv: Path
    lesions_csv: Path
    curve_png: Path
    dicom_seg: Path | None = None
    dicom_pmap: Path | None = None

    def __iter__(self):
        """The files written (the optional ones only when they were), so a face can list and count them."""
        return iter([path for path in vars(self).values() if path is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _input_nodes(session) -> dict[str, object]:
    """The review's input nodes by role (those it has)."""
    nodes = {"flair": session.flair_node, "t2": session.t2_node, "baseline": session.baseline_node,
             "probability": session.probability_node, "reference": session.reference_source}
    return {role: node for role, node in nodes.items() if node is not None}


def _node_file(node) -> Path | None:
    """The file a node was read from (its storage node's file name), ``None`` for a node made in memory."""
    storage = node.GetStorageNode() if hasattr(node, "GetStorageNode") else None
    return Path(storage.GetFileName()) if storage is not None and storage.GetFileName() else None


def _input_paths(session) -> set[Path]:
    return {path.resolve() for node in _input_nodes(session).values() if (path := _node_file(node)) is not None}


def review_provenance(session, input_files: Mapping[str, str | os.PathLike[str]] | None = None) -> dict:
    """The provenance block of the review at its current threshold: every input node's file and sha256 (``input_files``
    names, by role, files the caller read that the session keeps no file-backed node of: a probability map or a
    reference read from a path), the model (as recorded in the ``summary.json`` beside the probability file, else the
    bundled card of that name, else the name alone), threshold and rule."""
    files = {role: _node_file(node) for role, node in _input_nodes(session).items()}
    if session.reference is not None and "reference" not in files:
        files["reference"] = None  # read from a file or an array the session does not keep a node of
    files.update(getattr(session, "source_files", {}))  # maps the session read from files (it keeps no node of them)
    files.update({role: Path(path) for role, path in (input_files or {}).items() if path is not None})
    model = recorded_model(files.get("probability"))
    if model is None and session.model_name:
        model = _bundled_model(session.model_name)
    state = session.state
    rule = state.metrics.get("rule") if state is not None else None
    return provenance([InputFile(role, path) for role, path in files.items()], models=[model],
                      threshold=None if state is None else state.threshold, rule=rule or session.parameters.rule)


def _bundled_model(name: str) -> dict:
    """The model record of the zoo card called ``name``, or the name alone when there is none."""
    try:
        from LesionSegLogic.zoo.card import CARD_FILE
        from LesionSegLogic.zoo.registry import load_card, resolve_model

        card = load_card(name)
        return model_record(card.name, card_path=resolve_model(name) / CARD_FILE,
                            card_format_version=card.format_version, weights_sha256=card.weights_sha256)
    except (LesionSegError, OSError, ImportError):
        return model_record(name)


def _check_target(path: Path, protected: set[Path], overwrite: bool) -> None:
    if path.resolve() in protected:
        raise OutputError(f"{path}: refusing to overwrite an input of this review")
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: exists already (pass overwrite=True to replace it)")


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """``write`` fills a staging file next to ``path`` (same extension, so Slicer's storage nodes pick the format),
    which then replaces ``path``: the library's one atomic writer (:func:`LesionSegLogic.io.write.staged_file`)."""
    with staged_file(path, what=path.name) as staged:
        write(staged)
    return path


def _write_text(text: str) -> Callable[[Path], None]:
    return lambda staged: staged.write_text(text, encoding="utf-8")


def _write_segmentation(node, scene) -> Callable[[Path], None]:
    def write(staged: Path) -> None:
        storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
        try:
            storage.SetFileName(str(staged))
            if not storage.WriteData(node):
                raise OutputError(f"{staged.name}: Slicer could not write the segmentation")
        finally:
            scene.RemoveNode(storage)

    return write


def _dicom_segmentation(mask, source, model_name: str):
    """The DICOM SEG of ``mask`` referencing ``source`` (a series folder or a read ``DicomSeries``)."""
    from LesionSegLogic import __version__
    from LesionSegLogic.io.dicom_seg import DicomWriterInfo, build_segmentation

    series = _series(source)
    # the review's FLAIR went through an MRML volume node (RAS, float matrix): compare grids to 1e-3 mm
    grid = series.image
    if not mask.same_grid(grid, tolerance=1e-3):
        from LesionSegLogic.errors import GeometryError

        raise GeometryError(f"the review's FLAIR is not on the grid of the DICOM series {series.folder}")
    info = DicomWriterInfo(software_version=__version__, model_name=model_name or "LesionSeg")
    return build_segmentation(grid.with_array(mask.array), series, info)


def _dicom_objects(session, mask, seg_source, pmap_source) -> dict[str, object]:
    """The DICOM objects asked for, built (and their grids checked) before anything is written."""
    built = {}
    if seg_source is not None and seg_source is pmap_source:  # one series: read it once
        seg_source = pmap_source = _series(seg_source)
    if seg_source is not None:
        built["dicom_seg"] = _dicom_segmentation(mask, seg_source, session.model_name)
    if pmap_source is not None:
        built["dicom_pmap"] = _dicom_parametric_map(session.probability, pmap_source, session.model_name)
    return built


def _series(source):
    from LesionSegLogic.io.dicom import DicomSeries, read_dicom_series

    return source if isinstance(source, DicomSeries) else read_dicom_series(source)


def _dicom_parametric_map(probability, source, model_name: str):
    """The DICOM Parametric Map of the probability referencing ``source`` (grid checked as for the SEG)."""
    from LesionSegLogic import __version__
    from LesionSegLogic.errors import GeometryError
    from LesionSegLogic.io.dicom_seg import DicomWriterInfo, build_parametric_map

    series = _series(source)
    if not probability.same_grid(series.image, tolerance=1e-3):
        raise GeometryError(f"the review's FLAIR is not on the grid of the DICOM series {series.folder}")
    info = DicomWriterInfo(software_version=__version__, model_name=model_name or "LesionSeg")
    return build_parametric_map(series.image.with_array(np.asarray(probability.array, np.float32)), series, info)


def _cell(value) -> str:
    """A CSV cell: integers as integers, floats in full (``repr``), undefined (``None``/NaN) empty."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    number = float(value)
    return "" if math.isnan(number) else repr(number)


def metrics_csv(metrics: dict) -> str:
    """``group, metric, value`` rows; a count the engine gives as an integer (TP, FP, lesion numbers) stays one."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["group", "metric", "value"])
    writer.writerow(["rule", "rule", metrics.get("rule", "")])
    for group, name, value in metrics_items(metrics):
        original = (metrics.get(group) or {}).get(name) if isinstance(metrics.get(group), dict) else None
        exact = isinstance(original, (int, np.integer)) and not isinstance(original, bool)
        writer.writerow([group, name, _cell(original if exact else value)])
    return buffer.getvalue()


def _centroid_cell(axis: int) -> Callable[[LesionRow], str]:
    return lambda row: _cell(row.centroid_ras[axis])


#: the lesions CSV's columns and each one's cell from a :class:`.tables.LesionRow` (what the lesion table shows):
#: centroids in RAS mm under the one CSV convention's names; ``region`` the McDonald 2017 region name of
#: :data:`LesionSegLogic.regions.REGIONS` (empty until the region atlas labelled the lesion)
LESIONS_CSV_CELLS: dict[str, Callable[[LesionRow], str]] = {
    "id": lambda row: _cell(row.id),
    "kind": lambda row: row.kind,
    "status": lambda row: row.status,
    "volume_mm3": lambda row: _cell(row.volume_mm3),
    **{column: _centroid_cell(axis) for axis, column in enumerate(CENTROID_COLUMNS)},
    "max_probability": lambda row: _cell(row.max_probability),
    "mean_probability": lambda row: _cell(row.mean_probability),
    "region": lambda row: row.region,
}
LESIONS_CSV_COLUMNS: tuple[str, ...] = tuple(LESIONS_CSV_CELLS)


def lesions_csv(rows: Iterable[LesionRow]) -> str:
    """One row per lesion (:data:`LESIONS_CSV_COLUMNS`); ``centroid_ras`` of the session's rows is RAS already."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LESIONS_CSV_COLUMNS)
    for row in rows:
        writer.writerow([cell(row) for cell in LESIONS_CSV_CELLS.values()])
    return buffer.getvalue()


def render_curve_png(curve: Curve, threshold: float, path: Path, dpi: int = 110) -> None:
    """The threshold curve with the current threshold as a dashed line (matplotlib Agg, no pyplot)."""
    figure = Figure(figsize=(6.0, 4.0), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for column, label, _, _, color in CURVE_SERIES:
        axes.plot(curve.thresholds, curve.values[column], marker="o", markersize=3, label=label, color=color)
    axes.axvline(threshold, color="0.2", linestyle="--", label=f"threshold {threshold:.2f}")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("Threshold")
    axes.set_ylabel("Score")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower center", fontsize=8, ncol=2)
    figure.tight_layout()
    figure.savefig(str(path), format="png")


def export_review(session, out_dir: str | os.PathLike[str], *, prefix: str = "lesionseg",
                  overwrite: bool = False, dicom_seg=None, dicom_pmap=None,
                  input_files: Mapping[str, str | os.PathLike[str]] | None = None) -> ExportedFiles:
    """Write the review at its current threshold into ``out_dir``; returns the paths written.

    ``input_files``: role (``probability``, ``reference``…) → the file the caller gave the session, for the
    provenance where the session keeps no file-backed node of it (and protected from being overwritten like the
    other inputs).

    ``dicom_seg``: the DICOM series the FLAIR came from (a folder or a ``LesionSegLogic.io.dicom.DicomSeries``);
    the mask is then also written as ``<prefix>_mask.seg.dcm``, a DICOM Segmentation referencing that series
    (:mod:`LesionSegLogic.io.dicom_seg`; refused before anything is written when the FLAIR is not on its grid).
    ``dicom_pmap``: the same for the probability map, written as ``<prefix>_probability.pm.dcm``, a DICOM Parametric
    Map. :func:`dicom_source` finds the series of a review."""
    if session.state is None:
        raise OutputError("nothing to export: no probability map has been thresholded yet")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{out}: cannot create the folder ({error.strerror})") from None
    session.compute_surface()
    session.sync_prediction()
    state = session.state
    names = {
        "segmentation": out / f"{prefix}_prediction.seg.nrrd",
        "review": out / f"{prefix}_review.seg.nrrd" if session.review is not None else None,
        "mask": out / f"{prefix}_mask.nii.gz",
        "metrics_json": out / f"{prefix}_metrics.json",
        "metrics_csv": out / f"{prefix}_metrics.csv",
        "lesions_csv": out / f"{prefix}_lesions.csv",
        "curve_png": out / f"{prefix}_threshold_curve.png",
        "dicom_seg": out / f"{prefix}_mask.seg.dcm" if dicom_seg is not None else None,
        "dicom_pmap": out / f"{prefix}_probability.pm.dcm" if dicom_pmap is not None else None,
    }
    protected = _input_paths(session) | {Path(p).resolve() for p in (input_files or {}).values() if p is not None}
    protected |= {Path(p).resolve() for p in getattr(session, "source_files", {}).values()}
    for path in names.values():
        if path is not None:
            _check_target(path, protected, overwrite)
    mask = session.flair.with_array(state.mask.astype(np.uint8), name="")
    dicom_objects = _dicom_objects(session, mask, dicom_seg, dicom_pmap)
    segmentation = session.accepted_node if session.accepted_node is not None else session.prediction.node
    _atomic(names["segmentation"], _write_segmentation(segmentation, session.scene))
    if names["review"] is not None:
        _atomic(names["review"], _write_segmentation(session.review.node, session.scene))
    write_image(mask, names["mask"], protect=[str(p) for p in protected])
    document = {"model": session.model_name, "recommended_threshold": session.recommended_threshold,
                "mode": state.mode, **state.metrics, "lesions": [asdict(r) for r in state.lesions],
                "provenance": review_provenance(session, input_files)}
    _atomic(names["metrics_json"], _write_text(json_text(document)))
    _atomic(names["metrics_csv"], _write_text(metrics_csv(state.metrics)))
    _atomic(names["lesions_csv"], _write_text(lesions_csv(state.lesions)))
    _atomic(names["curve_png"], lambda staged: render_curve_png(session.plot.curve, state.threshold, staged))
    for key, dataset in dicom_objects.items():
        _atomic(names[key], lambda staged, d=dataset: d.save_as(staged, enforce_file_format=True))
    return ExportedFiles(**names)
