"""Save a whole review to a folder and reopen it exactly, in either face (Qt-free; issue 16 "saved reviews").

``save_review(session, folder, notes=…)`` writes ``folder/review.json`` (schema: :mod:`LesionSegLogic.review_file`)
and, inside the folder, whatever of the review was only in memory (a model run's probability map, a demo volume, an
edited reference) and the accepted (possibly edited) segmentation as ``accepted.nii.gz``. Files the review was read
from are referenced by path and sha256, never copied or touched. Everything goes through the one atomic writer
(:mod:`LesionSegLogic.io.write`), ``review.json`` last, so a folder with a ``review.json`` is complete.

``open_review(session, folder)`` checks every file's sha256 first (a changed input is a one-line error naming the
file, and the open review is left as it was), then restores inputs, reference, map, rule, overlay mode,
threshold, the accepted segmentation and returns the saved record with its per-lesion notes
(:mod:`LesionSegLogic.lesion_notes`: keyed by lesion identity, not by a component index).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from LesionSegLogic.errors import OutputError
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.io.write import write_json
from LesionSegLogic.lesion_notes import clean_note, lesion_identity, notes_record, row_key
from LesionSegLogic.review_file import (
    REVIEW_FILE,
    STORED_NAMES,
    SavedFile,
    SavedReview,
    read_review,
    saved_file,
)

from .export import _node_file, review_provenance
from .nodes import image_from_volume_node
from .segmentation import merged_mask


def lesion_keys(session) -> dict[str, Any]:
    """``key → LesionIdentity`` of every lesion row at the session's threshold."""
    voxel = session.flair.voxel_volume
    return {row_key(row, voxel): lesion_identity(row.kind, row.centroid_ras, row.volume_mm3, voxel)
            for row in session.lesions}


def _in_memory(session) -> dict[str, Image]:
    """The review's inputs by role as images, for those the session holds no file of."""
    images: dict[str, Image] = {}
    for role, node in (("flair", session.flair_node), ("t2", session.t2_node), ("baseline", session.baseline_node)):
        if node is not None and _node_file(node) is None:
            images[role] = session.flair if role == "flair" else image_from_volume_node(node, np.float32)
    sources = getattr(session, "source_files", {})
    if session.reference is not None and "reference" not in sources:
        images["reference"] = session.flair.with_array(np.asarray(session.reference, np.uint8), name="")
    if "probability" not in sources:
        images["probability"] = session.probability.with_array(np.asarray(session.probability.array, np.float32),
                                                               name="")
    return images


def _read_files(session) -> dict[str, Path]:
    """The files the review was read from, by role."""
    files = {role: path for role, node in (("flair", session.flair_node), ("t2", session.t2_node),
                                           ("baseline", session.baseline_node))
             if node is not None and (path := _node_file(node)) is not None}
    sources = getattr(session, "source_files", {})
    if session.reference is not None and "reference" in sources:
        files["reference"] = Path(sources["reference"])
    if "probability" in sources:
        files["probability"] = Path(sources["probability"])
    return files


def save_review(session, folder: str | os.PathLike[str], *, notes: Mapping[str, str] | None = None,
                overwrite: bool = False) -> Path:
    """Write the review at its current threshold into ``folder``; returns the ``review.json`` path.

    ``notes``: lesion key (:func:`LesionSegLogic.lesion_notes.lesion_key`) → note. An existing saved review in
    ``folder`` is replaced only with ``overwrite``; an input of the review is never written over."""
    if session.state is None or session.probability is None:
        raise OutputError("nothing to save: no probability map has been thresholded yet")
    folder = Path(folder).resolve()
    target = folder / REVIEW_FILE
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: a saved review is there already (choose another folder)")
    session.sync_prediction()
    read_files = _read_files(session)
    protect = [str(p) for p in read_files.values()]
    files: dict[str, SavedFile] = {}
    for role, image in _in_memory(session).items():
        files[role] = saved_file(write_image(image, folder / STORED_NAMES[role], protect=protect), folder)
    for role, path in read_files.items():
        files[role] = saved_file(path, folder)
    accepted, accepted_name = None, None
    if session.accepted_node is not None:
        mask = merged_mask(session.accepted_node, session.flair_node, session.scene).astype(np.uint8)
        path = write_image(session.flair.with_array(mask, name=""), folder / STORED_NAMES["accepted"], protect=protect)
        accepted, accepted_name = saved_file(path, folder), session.accepted_node.GetName()
    kept = {key: text for key, text in (notes or {}).items() if clean_note(text)}
    provenance = review_provenance(session, {role: saved.path for role, saved in files.items()})
    models = provenance.get("models") or []
    review = SavedReview(
        files=files, threshold=session.state.threshold, rule=session.parameters.rule, mode=session.parameters.mode,
        recommended_threshold=session.recommended_threshold, model_name=session.model_name or "",
        model_record=models[0] if models else None, accepted_name=accepted_name, accepted=accepted,
        notes=kept, note_records=notes_record(kept, lesion_keys(session)), metrics=dict(session.state.metrics),
        provenance=provenance)
    write_json(target, review.document(folder), what="saved review")
    return target


def open_review(session, folder: str | os.PathLike[str], allow: Callable[[Path, str], Any] | None = None,
                on_inputs: Callable[[], Any] | None = None) -> SavedReview:
    """Reopen the review saved in ``folder`` into ``session`` exactly as it was saved (see the module docstring);
    ``allow(path, role)`` may refuse a file before it is read (the web app's folder gate); ``on_inputs()`` is
    called once the inputs are open, before the map (a face resets its panel there, as after any open)."""
    review = read_review(folder, allow=allow)  # every file hashed before anything changes
    files = review.files
    parameters = replace(session.parameters, rule=review.rule, mode=review.mode)  # validated here
    accepted = None if review.accepted is None else read_image(review.accepted.path, role="mask")
    session.parameters = parameters
    session.set_inputs(str(files["flair"].path), t2=_path(files.get("t2")), baseline=_path(files.get("baseline")))
    session.set_reference(_path(files.get("reference")))
    if on_inputs is not None:
        on_inputs()
    session.load_probability(str(files["probability"].path), review.recommended_threshold)
    session.model_name = review.model_name
    session.set_threshold(review.threshold)
    if accepted is not None:
        session.accept_mask(accepted.array.astype(bool), review.accepted_name or f"{session.name} accepted")
    return review


def numbered(folder: str | os.PathLike[str], prefix: str, suffix: str = "") -> Path:
    """The first ``folder/prefix-NNN[suffix]`` that does not exist yet (saves and reports never replace one)."""
    folder, number = Path(folder), 1
    while (folder / f"{prefix}-{number:03d}{suffix}").exists():
        number += 1
    return folder / f"{prefix}-{number:03d}{suffix}"


def _path(saved: SavedFile | None) -> str | None:
    return None if saved is None else str(saved.path)
